#pragma once
// The alert as producers submit it and as the store keeps it.
#include <cstdint>
#include <optional>
#include <string>

namespace vigil {

struct annotated_frame {
    std::string content_type;  // "image/jpeg" or "image/png", checked by magic bytes
    std::string bytes;
};

// What a producer submits, already validated (see alert_validation.hpp).
struct new_alert {
    std::string user_id;
    std::string stream_id;
    std::string detection_json;  // a serialized JSON object, kept verbatim
    std::optional<annotated_frame> frame;
    std::string timestamp;        // ISO-8601; the server's time when the producer gave none
    std::string idempotency_key;  // empty: none
    // Set by alert_service when the user has a live connection as the alert is
    // committed, so the store records the first delivery in the same insert
    // instead of a second write.
    bool delivered_on_commit = false;
    std::string severity = "medium";  // critical, high, medium or low (SPEC section 7)
    // Alerts of one group update one push notification in place (SPEC section
    // 8). Empty until validated: check_new_alert() fills the default,
    // "<stream_id>/<detection type>" or the stream id alone.
    std::string group_key = {};
    // Set by alert_service: the user snoozed the stream or is in quiet hours
    // for this severity; stored and delivered live as usual, only not pushed.
    bool suppressed = false;
};

// An alert as stored: identity, order, and its delivery bookkeeping.
struct stored_alert {
    std::string alert_id;   // UUIDv7
    std::uint64_t seq = 0;  // per user, only grows
    std::string user_id;
    std::string stream_id;
    std::string detection_json;
    std::string timestamp;
    std::string severity = "medium";
    std::string group_key = {};
    bool suppressed = false;
    std::int64_t created_ms = 0;
    std::string frame_content_type;          // empty: no frame
    std::optional<std::string> frame_bytes;  // filled only where asked for (inline frames)
    std::optional<std::int64_t> first_delivered_ms;
    std::int64_t delivery_count = 0;
    std::optional<std::int64_t> acked_ms;
    std::string acked_by;

    bool has_frame() const { return !frame_content_type.empty(); }
};

// The answer to one publish.
struct publish_result {
    std::string alert_id;
    std::uint64_t seq = 0;
    bool delivered = false;  // handed to a live connection of the user
    bool duplicate = false;  // an earlier publish had the same idempotency key
};

}  // namespace vigil
