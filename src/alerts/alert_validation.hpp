#pragma once
// Turns a publish request body into validated alerts, and checks a new alert
// from either way in (HTTP, the embedding API) against the same limits. Pure;
// every refusal has an HTTP status, a stable code and a human detail
// (docs/protocol.md).
#include "alerts/alert.hpp"
#include "common/refusal.hpp"
#include "config/config.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

struct publish_request {
    std::vector<new_alert> alerts;
    bool batch = false;  // the body was a list: answer with a list
};

struct alert_limits {
    std::size_t max_frame_bytes = 2 * 1024 * 1024;
    std::size_t max_batch = 1000;
    std::size_t max_detection_bytes = 64 * 1024;
    std::size_t max_stream_id_bytes = 256;
    std::size_t max_idempotency_key_bytes = 256;
};

// The server's configured limits (--max-frame-bytes); the rest are fixed.
alert_limits alert_limits_from(limit_settings const& configured);

// The one check of a new alert, whichever way it came in: user id, stream id,
// detection (a JSON object's text, at most max_detection_bytes), timestamp,
// idempotency key, severity, group key (the default filled in when empty)
// and frame (at most max_frame_bytes, JPEG or PNG by its bytes, and what its
// content_type says when that is set, which then becomes the sniffed type).
// A value when the alert may be stored.
or_refusal<void> check_new_alert(new_alert& a, alert_limits const& limits);

// Body: one alert object or a non-empty list of them. `now_iso` fills absent
// timestamps. Each detection is kept as the producer wrote it, without the
// whitespace between its tokens (json_text::compact).
// A refused alert of a list names its index.
or_refusal<publish_request> parse_publish_body(std::string_view body, alert_limits const& limits,
                                               std::string const& now_iso);

// critical, high, medium (the default) or low (SPEC section 7).
bool valid_severity(std::string_view severity) noexcept;

inline constexpr std::size_t max_group_key_bytes = 128;

// "<stream_id>/<detection type>", or the stream id alone when the detection
// names no type (its `type`, `label` or `class` string); cut to
// max_group_key_bytes at a character's start.
std::string default_group_key(std::string_view stream_id, std::string_view detection_type);

// The detection's type, as the group key's default takes it: the first
// non-empty string among its `type`, `label` and `class` members; empty when
// it has none or the text is not a JSON object.
std::string detection_type_of(std::string_view detection_json);

// At most `n` bytes of `text`, cut at a UTF-8 character's start.
std::string_view utf8_prefix(std::string_view text, std::size_t n) noexcept;

// A team's or an escalation policy's name: 1 to 64 characters of [A-Za-z0-9_.-].
bool valid_handling_name(std::string_view name);

// 1 to 128 characters from [A-Za-z0-9._@:|+-]: safe in URLs, logs and keys.
bool valid_user_id(std::string_view id);

// "image/jpeg", "image/png", or empty when the bytes are neither.
std::string_view sniff_image_type(std::string_view bytes);

}  // namespace vigil
