#pragma once
// Turns a publish request body into validated alerts. Pure; every refusal has
// an HTTP status, a stable code and a human detail (docs/protocol.md).
#include "alerts/alert.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vigil {

struct validation_error {
    int status = 400;
    std::string code;    // "invalid_json", "invalid_alert", "frame_too_large"...
    std::string detail;
    std::optional<std::size_t> index;  // which alert of a batch
};

struct publish_request {
    std::vector<new_alert> alerts;
    bool batch = false;  // the body was a list: answer with a list
};

struct alert_limits {
    std::size_t max_frame_bytes = 2 * 1024 * 1024;
    std::size_t max_batch = 1000;
    std::size_t max_detection_bytes = 64 * 1024;
};

// Body: one alert object or a non-empty list of them. `now_iso` fills absent timestamps.
std::variant<publish_request, validation_error> parse_publish_body(std::string_view body,
                                                                   alert_limits const& limits,
                                                                   std::string const& now_iso);

// 1 to 128 characters from [A-Za-z0-9._@:|+-]: safe in URLs, logs and keys.
bool valid_user_id(std::string_view id);

// "image/jpeg", "image/png", or empty when the bytes are neither.
std::string_view sniff_image_type(std::string_view bytes);

}  // namespace vigil
