#include "app/demo.hpp"

#include "app/demo_frames.hpp"
#include "common/log.hpp"

#include <boost/json/value.hpp>

#include <array>
#include <random>

namespace vigil {

demo_publisher::demo_publisher(embedding& api, std::string user, int period_ms)
    : api_(api), user_(std::move(user)), period_ms_(period_ms), thread_([this] { run(); }) {}

demo_publisher::~demo_publisher() {
    {
        std::lock_guard lock{mutex_};
        stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void demo_publisher::run() {
    static constexpr std::array kinds = {
        "intrusion",        "loitering",        "fire", "smoke", "fall_detected", "crowd_gathering",
        "abandoned_object", "vehicle_wrong_way"};
    static constexpr std::array cameras = {"cam-lobby", "cam-parking-north", "cam-loading-dock", "cam-stairwell-2",
                                           "cam-perimeter-east"};
    std::mt19937 rng{std::random_device{}()};
    std::unique_lock lock{mutex_};
    while (!wake_.wait_for(lock, std::chrono::milliseconds{period_ms_}, [&] { return stop_; })) {
        auto const kind = kinds[rng() % kinds.size()];
        auto const camera = cameras[rng() % cameras.size()];
        double const confidence = 0.55 + double(rng() % 45) / 100.0;
        int const w = 50 + int(rng() % 60), h = 90 + int(rng() % 80);
        int const x = int(rng() % (demo_frame_width - w)), y = int(rng() % (demo_frame_height - h));
        boost::json::value detection = {
            {"type", kind},
            {"confidence", confidence},
            {"boxes", boost::json::array{{{"x", x}, {"y", y}, {"w", w}, {"h", h}, {"label", kind}}}},
            {"model", "vigil-demo"},
            {"frame_index", int(rng() % 100000)}};
        lock.unlock();
        try {
            auto frame = annotated_frame{"image/png", render_demo_frame({x, y, w, h}, rng())};
            api_.send_anomaly_alert_async(user_, camera, detection, std::move(frame), [](publish_outcome const&) {});
        } catch (std::exception const& e) {
            log::warn("demo.publish_failed", {{"error", e.what()}});
        }
        lock.lock();
    }
}

}  // namespace vigil
