#pragma once
// Synthetic annotated frames for the demo: a camera-like scene with the
// detection's bounding box drawn on it, encoded as PNG by libpng.
#include <cstdint>
#include <string>

namespace vigil {

struct demo_box {
    int x, y, w, h;  // in frame pixels
};

inline constexpr int demo_frame_width = 480;
inline constexpr int demo_frame_height = 270;

// PNG bytes. Throws std::runtime_error if libpng fails.
std::string render_demo_frame(demo_box box, std::uint32_t seed);

}  // namespace vigil
