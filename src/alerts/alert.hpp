#pragma once
// The alert as producers submit it and as the store keeps it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

    // Handling (SPEC section 7, docs/handling.md). An alert for a team is
    // stored once per member, every copy under the same alert_id: each in
    // its member's own seq order, all sharing one state.
    std::string alert_id = {};    // empty: the store makes one; set by alert_service for a team's copies
    std::string team = {};        // the audience, when a team (user_id is then one member)
    std::string escalation = {};  // the escalation policy's name; empty: none
    int escalation_level = 0;     // 1 with a policy (its first step's audience), 0 without
    // With a policy: when its first step's deadline falls. The store arms the
    // alert's escalation timer with it, in the same transaction (once per alert).
    std::optional<std::int64_t> escalation_due_ms = {};
    std::string published_by = {};  // who published (a token's subject, an API key's name), for the audit trail
};

// Where an alert stands (SPEC section 7).
enum class alert_state : std::uint8_t { open, acknowledged, resolved };

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
    std::optional<std::int64_t> acked_ms;  // set: acknowledged (or resolved); acked_by is the owner
    std::string acked_by;
    // Handling, shared by every copy of the alert (see new_alert).
    std::optional<std::int64_t> resolved_ms;  // set: resolved
    std::string resolved_by;
    std::string outcome;  // real, false_alarm or test, when resolved
    std::string note;     // the resolver's, optional
    std::string team;
    std::string escalation;
    int escalation_level = 0;
    std::string published_by;
    std::string delivered_node;  // the node of this copy's first delivery

    bool has_frame() const { return !frame_content_type.empty(); }
    alert_state state() const noexcept {
        return resolved_ms ? alert_state::resolved : acked_ms ? alert_state::acknowledged : alert_state::open;
    }
};

std::string_view to_string(alert_state s) noexcept;

// The answer to one publish.
struct publish_result {
    std::string alert_id;
    std::uint64_t seq = 0;
    bool delivered = false;  // handed to a live connection of the user
    bool duplicate = false;  // an earlier publish had the same idempotency key
};

}  // namespace vigil
