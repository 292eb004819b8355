#include "proto/messages.hpp"

#include "common/base64.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

namespace vigil::proto {

std::string_view code_name(message_error e) noexcept {
    switch (e) {
        case message_error::invalid_json: return "invalid_json";
        case message_error::not_an_object: return "invalid_message";
        case message_error::missing_type: return "missing_type";
        case message_error::unknown_type: return "unknown_type";
        case message_error::invalid_ack: return "invalid_ack";
        case message_error::invalid_refresh: return "invalid_refresh";
        case message_error::invalid_resolve: return "invalid_resolve";
        case message_error::invalid_reopen: return "invalid_reopen";
    }
    return "invalid_message";
}

boost::system::result<client_message, message_error> parse_client_message(std::string_view text) {
    // Client messages are small: parse into a stack buffer, no heap in the common case.
    unsigned char scratch[1024];
    boost::json::monotonic_resource mr{scratch, sizeof scratch};
    boost::system::error_code ec;
    boost::json::value const v = boost::json::parse(text, ec, &mr);
    if (ec) return message_error::invalid_json;
    auto const* obj = v.if_object();
    if (!obj) return message_error::not_an_object;
    auto const* type = obj->if_contains("type");
    if (!type || !type->is_string()) return message_error::missing_type;
    std::string_view const t = type->get_string();

    auto string_field = [&](std::string_view name) -> boost::json::string const* {
        auto const* f = obj->if_contains(name);
        return f ? f->if_string() : nullptr;
    };
    auto alert_id = [&]() -> boost::json::string const* {
        auto const* id = string_field("alert_id");
        return id && !id->empty() && id->size() <= 128 ? id : nullptr;
    };
    if (t == "ping") return client_message{client_message_type::ping, {}, {}, {}, {}};
    if (t == "pong") return client_message{client_message_type::pong, {}, {}, {}, {}};
    if (t == "ack") {
        auto const* id = alert_id();
        if (!id) return message_error::invalid_ack;
        return client_message{client_message_type::ack, std::string{*id}, {}, {}, {}};
    }
    if (t == "refresh") {
        auto const* token = string_field("token");
        if (!token || token->empty()) return message_error::invalid_refresh;
        return client_message{client_message_type::refresh, {}, std::string{*token}, {}, {}};
    }
    if (t == "resolve") {
        auto const* id = alert_id();
        auto const* outcome = string_field("outcome");
        auto const* note_field = obj->if_contains("note");
        auto const* note = note_field ? note_field->if_string() : nullptr;
        if (!id || !outcome || !is_outcome(*outcome) || (note_field && !note_field->is_null() && !note) ||
            (note && note->size() > max_note_bytes))
            return message_error::invalid_resolve;
        return client_message{client_message_type::resolve,
                              std::string{*id},
                              {},
                              std::string{*outcome},
                              note ? std::string{*note} : std::string{}};
    }
    if (t == "reopen") {
        auto const* id = alert_id();
        if (!id) return message_error::invalid_reopen;
        return client_message{client_message_type::reopen, std::string{*id}, {}, {}, {}};
    }
    return message_error::unknown_type;
}

std::string quoted(std::string_view s) { return boost::json::serialize(boost::json::string_view{s}); }

std::string error_message(std::string_view code, std::string_view detail, std::string_view alert_id) {
    std::string out = R"({"type":"error","error":)";
    out += quoted(code);
    out += R"(,"detail":)";
    out += quoted(detail);
    if (!alert_id.empty()) {
        out += R"(,"alert_id":)";
        out += quoted(alert_id);
    }
    out.push_back('}');
    return out;
}

std::string ack_ok_message(std::string_view alert_id) {
    return R"({"type":"ack_ok","alert_id":)" + quoted(alert_id) + "}";
}

bool is_outcome(std::string_view s) noexcept { return s == "real" || s == "false_alarm" || s == "test"; }

std::string resolve_ok_message(std::string_view alert_id) {
    return R"({"type":"resolve_ok","alert_id":)" + quoted(alert_id) + "}";
}

std::string reopen_ok_message(std::string_view alert_id) {
    return R"({"type":"reopen_ok","alert_id":)" + quoted(alert_id) + "}";
}

std::string refresh_ok_message(std::int64_t expires_at) {
    return R"({"type":"refresh_ok","exp":)" + std::to_string(expires_at) + "}";
}

std::string anomaly_message(stored_alert const& a, bool replayed, std::string_view epoch) {
    std::string out;
    out.reserve(220 + a.group_key.size() + a.detection_json.size() + a.user_id.size() + a.stream_id.size());
    out += R"({"type":"anomaly_detected","alert_id":")";
    out += a.alert_id;  // UUID: nothing to escape
    out += R"(","seq":)";
    out += std::to_string(a.seq);
    out += R"(,"epoch":)";
    out += quoted(epoch);
    out += R"(,"user_id":)";
    out += quoted(a.user_id);
    out += R"(,"stream_id":)";
    out += quoted(a.stream_id);
    out += R"(,"timestamp":)";
    out += quoted(a.timestamp);
    out += R"(,"severity":")";
    out += a.severity;  // one of four words
    out += R"(","group_key":)";
    out += quoted(a.group_key);
    if (a.suppressed) out += R"(,"suppressed":true)";
    out += R"(,"state":")";
    out += to_string(a.state());
    out.push_back('"');
    if (a.acked_ms) {
        out += R"(,"owner":)";
        out += quoted(a.acked_by);
    }
    if (a.resolved_ms) {  // rare: a replay of a resolved alert says how it ended
        out += R"(,"resolved_by":)";
        out += quoted(a.resolved_by);
        out += R"(,"outcome":)";
        out += quoted(a.outcome);
        if (!a.note.empty()) {
            out += R"(,"note":)";
            out += quoted(a.note);
        }
    }
    if (!a.team.empty()) {
        out += R"(,"team":)";
        out += quoted(a.team);
    }
    if (a.escalation_level > 0) {
        out += R"(,"escalation_level":)";
        out += std::to_string(a.escalation_level);
    }
    out += R"(,"detection":)";
    out += a.detection_json;  // as the producer wrote it, validated at publish (json_text)
    if (a.has_frame()) {
        out += R"(,"frame":{"content_type":)";
        out += quoted(a.frame_content_type);
        if (a.frame_bytes) {
            out += R"(,"data":")";
            out += base64_encode(*a.frame_bytes);
            out += '"';
        } else {
            out += R"(,"url":"/api/v1/alerts/)";
            out += a.alert_id;
            out += R"(/frame")";
        }
        out.push_back('}');
    }
    if (replayed) out += R"(,"replayed":true)";
    if (replayed && a.acked_ms) out += R"(,"acked":true)";
    out.push_back('}');
    return out;
}

}  // namespace vigil::proto
