#pragma once
// The WebSocket message vocabulary (docs/protocol.md), as pure functions:
// parse what clients send, build what the server sends. No sockets here.
#include "alerts/alert.hpp"

#include <boost/system/result.hpp>

#include <string>
#include <string_view>

namespace vigil::proto {

enum class client_message_type { ping, pong, ack, refresh, resolve, reopen };

struct client_message {
    client_message_type type;
    std::string alert_id;  // ack, resolve, reopen
    std::string token;     // refresh
    std::string outcome;   // resolve: real, false_alarm or test
    std::string note;      // resolve: optional, at most max_note_bytes
};

inline constexpr std::size_t max_note_bytes = 1000;

// real, false_alarm or test (SPEC section 7).
bool is_outcome(std::string_view s) noexcept;

// Why a client message was not understood; the connection stays open and the
// client gets an `error` message carrying code_name(e).
enum class message_error {
    invalid_json = 1,  /// not JSON at all
    not_an_object,     /// JSON, but not an object
    missing_type,      /// no string `type`
    unknown_type,      /// a `type` the server does not know
    invalid_ack,       /// ack without a string alert_id
    invalid_refresh,   /// refresh without a string token
    invalid_resolve,   /// resolve without a string alert_id, or with a bad outcome or note
    invalid_reopen,    /// reopen without a string alert_id
};

std::string_view code_name(message_error e) noexcept;

boost::system::result<client_message, message_error> parse_client_message(std::string_view text);

// {"type":"error","error":code,"detail":detail[,"alert_id":id]}
std::string error_message(std::string_view code, std::string_view detail, std::string_view alert_id = {});
std::string ack_ok_message(std::string_view alert_id);
std::string resolve_ok_message(std::string_view alert_id);
std::string reopen_ok_message(std::string_view alert_id);
std::string refresh_ok_message(std::int64_t expires_at);
inline constexpr std::string_view ping_message = R"({"type":"ping"})";
inline constexpr std::string_view pong_message = R"({"type":"pong"})";

// The anomaly_detected message, with the store's epoch beside the seq. The
// frame travels as a URL, or inline as base64 when `a.frame_bytes` holds it.
std::string anomaly_message(stored_alert const& a, bool replayed, std::string_view epoch);

// A JSON string literal for `s`, quotes included.
std::string quoted(std::string_view s);

}  // namespace vigil::proto
