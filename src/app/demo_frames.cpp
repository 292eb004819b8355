#include "app/demo_frames.hpp"

#include <png.h>

#include <algorithm>
#include <random>
#include <stdexcept>
#include <vector>

namespace vigil {

namespace {

struct canvas {
    int w, h;
    std::vector<std::uint8_t> px = std::vector<std::uint8_t>(std::size_t(w) * h * 3);

    void put(int x, int y, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
        if (x < 0 || y < 0 || x >= w || y >= h) return;
        auto* p = &px[(std::size_t(y) * w + x) * 3];
        p[0] = r, p[1] = g, p[2] = b;
    }
    void fill(int x0, int y0, int rw, int rh, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
        for (int y = y0; y < y0 + rh; ++y)
            for (int x = x0; x < x0 + rw; ++x) put(x, y, r, g, b);
    }
    void outline(int x0, int y0, int rw, int rh, int t, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
        fill(x0, y0, rw, t, r, g, b);
        fill(x0, y0 + rh - t, rw, t, r, g, b);
        fill(x0, y0, t, rh, r, g, b);
        fill(x0 + rw - t, y0, t, rh, r, g, b);
    }
    void disc(int cx, int cy, int radius, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
        for (int y = -radius; y <= radius; ++y)
            for (int x = -radius; x <= radius; ++x)
                if (x * x + y * y <= radius * radius) put(cx + x, cy + y, r, g, b);
    }
};

}  // namespace

std::string render_demo_frame(demo_box box, std::uint32_t seed) {
    std::mt19937 rng{seed};
    canvas c{demo_frame_width, demo_frame_height};
    int const horizon = c.h * 55 / 100;
    // Wall and floor, with the soft gradient and noise of a night-time camera.
    for (int y = 0; y < c.h; ++y) {
        for (int x = 0; x < c.w; ++x) {
            int const n = int(rng() % 9) - 4;
            int const base = y < horizon ? 38 + y * 30 / horizon : 70 + (y - horizon) * 50 / (c.h - horizon);
            c.put(x, y, std::uint8_t(std::clamp(base + n - 6, 0, 255)), std::uint8_t(std::clamp(base + n, 0, 255)),
                  std::uint8_t(std::clamp(base + n + 10, 0, 255)));
        }
    }
    // Some furniture: shelves, a door, a parked cart.
    for (int i = 0; i < 4; ++i) {
        int const w = 30 + int(rng() % 70), h = 40 + int(rng() % 90);
        int const x = int(rng() % (c.w - w)), y = horizon - h + int(rng() % 20);
        std::uint8_t const shade = std::uint8_t(55 + rng() % 50);
        c.fill(x, y, w, h, shade, std::uint8_t(shade + 6), std::uint8_t(shade + 14));
    }
    // The subject inside the box: a figure, roughly.
    box.w = std::clamp(box.w, 24, c.w - 2);
    box.h = std::clamp(box.h, 40, c.h - 2);
    box.x = std::clamp(box.x, 1, c.w - box.w - 1);
    box.y = std::clamp(box.y, 1, c.h - box.h - 1);
    int const cx = box.x + box.w / 2;
    int const head = std::max(5, box.w / 6);
    c.disc(cx, box.y + head + 4, head, 190, 170, 150);
    c.fill(cx - box.w / 4, box.y + 2 * head + 6, box.w / 2, box.h * 5 / 10, 40, 60, 120);
    c.fill(cx - box.w / 4, box.y + 2 * head + 6 + box.h / 2, box.w / 5, box.h - (2 * head + 8 + box.h / 2), 30, 30, 40);
    c.fill(cx + box.w / 20, box.y + 2 * head + 6 + box.h / 2, box.w / 5, box.h - (2 * head + 8 + box.h / 2), 30, 30,
           40);
    // The detection box and its label tab.
    c.outline(box.x, box.y, box.w, box.h, 3, 255, 80, 40);
    c.fill(box.x, std::max(0, box.y - 12), std::min(box.w, 70), 12, 255, 80, 40);
    // A recording dot, as camera overlays have.
    c.disc(14, 14, 6, 230, 30, 30);

    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = std::uint32_t(c.w);
    image.height = std::uint32_t(c.h);
    image.format = PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&image, nullptr, &size, 0, c.px.data(), 0, nullptr))
        throw std::runtime_error(std::string{"png: "} + image.message);
    std::string out(size, '\0');
    if (!png_image_write_to_memory(&image, out.data(), &size, 0, c.px.data(), 0, nullptr))
        throw std::runtime_error(std::string{"png: "} + image.message);
    out.resize(size);
    return out;
}

}  // namespace vigil
