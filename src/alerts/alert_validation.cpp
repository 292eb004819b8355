#include "alerts/alert_validation.hpp"

#include "common/base64.hpp"
#include "common/clock.hpp"
#include "common/json_text.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <memory>

namespace vigil {

namespace {

refusal bad(std::string detail, int status = 400, std::string code = "invalid_alert") {
    return refusal{status, std::move(code), std::move(detail)};
}

refusal too_large_detection(alert_limits const& limits) {
    return bad("detection is larger than " + std::to_string(limits.max_detection_bytes) + " bytes", 413,
               "detection_too_large");
}

refusal too_large_frame(alert_limits const& limits) {
    return bad("frame is larger than " + std::to_string(limits.max_frame_bytes) + " bytes", 413, "frame_too_large");
}

// The string at `key`; nothing when absent or null; sets wrong_type for other types.
std::optional<std::string_view> optional_string(boost::json::object const& o, std::string_view key, bool& wrong_type) {
    auto const* v = o.if_contains(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string()) {
        wrong_type = true;
        return std::nullopt;
    }
    return std::string_view{v->get_string()};
}

// The detection's type, as the first string among its `type`, `label` and
// `class` members; empty when it has none.
std::string_view detection_type(boost::json::object const& detection) {
    for (std::string_view key : {"type", "label", "class"})
        if (auto const* v = detection.if_contains(key); v && v->is_string() && !v->get_string().empty())
            return v->get_string();
    return {};
}

bool has_control_character(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) { return (unsigned char)c < 0x20 || c == 0x7f; });
}

// One alert of a body: `v` parsed, `text` the same alert as the producer wrote it.
or_refusal<new_alert> parse_one(boost::json::value const& v, std::string_view text, alert_limits const& limits,
                                std::string const& now_iso) {
    auto const* o = v.if_object();
    if (!o) return bad("alert must be a JSON object");
    new_alert a;

    // The audience: a user or a team (docs/handling.md), exactly one.
    auto const* user = o->if_contains("user_id");
    auto const* team = o->if_contains("team");
    if (!user && !team) return bad("user_id (string) is required, or a team");
    if (user && team) return bad("an alert names user_id or team, not both", 400, "invalid_audience");
    if (user) {
        if (!user->is_string()) return bad("user_id (string) is required");
        a.user_id = std::string{user->get_string()};
    } else {
        if (!team->is_string() || !valid_handling_name(team->get_string()))
            return bad("team must be 1-64 characters of [A-Za-z0-9_.-]", 400, "invalid_audience");
        a.team = std::string{team->get_string()};
    }

    // A string only: an integer would come back as a string, not as published.
    auto const* stream = o->if_contains("stream_id");
    if (!stream || !stream->is_string()) return bad("stream_id (string) is required");
    a.stream_id = std::string{stream->get_string()};

    auto const* detection = o->if_contains("detection");
    if (!detection || !detection->is_object()) return bad("detection (JSON object) is required");
    auto const detection_text = json_text::member(text, "detection");
    if (!detection_text) return bad("detection (JSON object) is required");  // not reached: the parser found it
    a.detection_json = json_text::compact(*detection_text);

    bool wrong = false;
    if (auto const ts = optional_string(*o, "timestamp", wrong))
        a.timestamp = std::string{*ts};
    else
        a.timestamp = now_iso;
    if (wrong) return bad("timestamp must be an ISO-8601 string");

    if (auto const key = optional_string(*o, "idempotency_key", wrong)) a.idempotency_key = std::string{*key};
    if (wrong) return bad("idempotency_key must be a string");

    if (auto const severity = optional_string(*o, "severity", wrong)) a.severity = std::string{*severity};
    if (wrong || !valid_severity(a.severity))
        return bad("severity must be one of critical, high, medium, low", 400, "invalid_severity");
    if (auto const policy = optional_string(*o, "escalation", wrong)) {
        if (!valid_handling_name(*policy))
            return bad("escalation must name a policy: 1-64 characters of [A-Za-z0-9_.-]", 400, "unknown_policy");
        a.escalation = std::string{*policy};
    }
    if (wrong) return bad("escalation must be a string", 400, "unknown_policy");
    if (auto const group = optional_string(*o, "group_key", wrong)) {
        if (group->empty()) return bad("group_key must be 1-128 characters", 400, "invalid_group_key");
        a.group_key = std::string{*group};
    }
    if (wrong) return bad("group_key must be a string", 400, "invalid_group_key");
    if (a.group_key.empty()) a.group_key = default_group_key(a.stream_id, detection_type(detection->get_object()));

    std::string declared;
    if (auto const ct = optional_string(*o, "frame_content_type", wrong)) declared = std::string{*ct};
    if (wrong) return bad("frame_content_type must be a string");
    if (auto const frame = optional_string(*o, "frame", wrong); frame && !frame->empty()) {
        // Refused before decoding what could only decode too large.
        if (base64_decoded_bound(frame->size()) > limits.max_frame_bytes + 3) return too_large_frame(limits);
        auto decoded = base64_decode(*frame);
        if (!decoded) return bad("frame must be base64 (standard alphabet, padded)");
        a.frame = annotated_frame{std::move(declared), std::move(*decoded)};
    }
    if (wrong) return bad("frame must be base64 text");
    if (auto checked = check_new_alert(a, limits); !checked) return checked.error();
    return a;
}

}  // namespace

alert_limits alert_limits_from(limit_settings const& configured) {
    alert_limits l;
    l.max_frame_bytes = configured.max_frame_bytes;
    return l;
}

or_refusal<void> check_new_alert(new_alert& a, alert_limits const& limits) {
    // A team's alert before it is expanded into its members' copies has no user yet.
    if (!(a.user_id.empty() && valid_handling_name(a.team)) && !valid_user_id(a.user_id))
        return bad("user_id must be 1-128 characters of [A-Za-z0-9._@:|+-]");
    if (a.stream_id.empty() || a.stream_id.size() > limits.max_stream_id_bytes)
        return bad("stream_id must be 1-" + std::to_string(limits.max_stream_id_bytes) + " characters");
    // Control characters (a JSON "\u0000" among them) are nobody's camera or
    // key name, and a NUL would end the text early in C APIs and PostgreSQL.
    if (has_control_character(a.stream_id)) return bad("stream_id must not contain control characters");
    if (has_control_character(a.idempotency_key)) return bad("idempotency_key must not contain control characters");
    if (!valid_severity(a.severity))
        return bad("severity must be one of critical, high, medium, low", 400, "invalid_severity");
    // Every caller hands over JSON text: an object's starts with its brace.
    if (a.detection_json.empty() || a.detection_json.front() != '{') return bad("detection must be a JSON object");
    if (a.detection_json.size() > limits.max_detection_bytes) return too_large_detection(limits);
    if (!parse_iso8601(a.timestamp)) return bad("timestamp must be ISO-8601, e.g. 2024-12-03T10:30:00Z");
    if (a.idempotency_key.size() > limits.max_idempotency_key_bytes)
        return bad("idempotency_key must be at most " + std::to_string(limits.max_idempotency_key_bytes) +
                   " characters");
    if (a.group_key.empty() && a.detection_json.size() <= limits.max_detection_bytes) {
        // Given without one through the embedding API: the same default as a publish body's.
        a.group_key = default_group_key(a.stream_id, detection_type_of(a.detection_json));
    }
    if (a.group_key.empty() || a.group_key.size() > max_group_key_bytes || has_control_character(a.group_key))
        return bad(
            "group_key must be 1-" + std::to_string(max_group_key_bytes) + " characters without control characters",
            400, "invalid_group_key");
    if (a.frame) {
        if (a.frame->bytes.size() > limits.max_frame_bytes) return too_large_frame(limits);
        auto const sniffed = sniff_image_type(a.frame->bytes);
        if (sniffed.empty()) return bad("frame must be a JPEG or PNG image", 415, "unsupported_media_type");
        auto& declared = a.frame->content_type;
        if (!declared.empty() && declared != sniffed)
            return bad("frame_content_type says " + declared + " but the bytes are " + std::string{sniffed}, 415,
                       "unsupported_media_type");
        declared = std::string{sniffed};
    }
    return {};
}

bool valid_severity(std::string_view s) noexcept {
    return s == "critical" || s == "high" || s == "medium" || s == "low";
}

std::string default_group_key(std::string_view stream_id, std::string_view detection_type) {
    std::string key{stream_id};
    // A type with control characters is nobody's label: the stream alone then.
    if (!detection_type.empty() && !has_control_character(detection_type)) {
        key.push_back('/');
        key += detection_type;
    }
    key.resize(utf8_prefix(key, max_group_key_bytes).size());  // within the bound
    return key;
}

std::string detection_type_of(std::string_view detection_json) {
    boost::system::error_code ec;
    auto const v = boost::json::parse(detection_json, ec);
    return !ec && v.is_object() ? std::string{detection_type(v.get_object())} : std::string{};
}

std::string_view utf8_prefix(std::string_view text, std::size_t n) noexcept {
    if (text.size() <= n) return text;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    return text.substr(0, n);
}

bool valid_handling_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-';
    });
}

bool valid_user_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id) {
        bool const ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '@' || c == ':' || c == '|' || c == '+' || c == '-';
        if (!ok) return false;
    }
    return true;
}

std::string_view sniff_image_type(std::string_view b) {
    if (b.size() >= 3 && b.substr(0, 3) == "\xFF\xD8\xFF") return "image/jpeg";
    if (b.size() >= 8 && b.substr(0, 8) == "\x89PNG\r\n\x1A\n") return "image/png";
    return {};
}

or_refusal<publish_request> parse_publish_body(std::string_view body, alert_limits const& limits,
                                               std::string const& now_iso) {
    // The parsed tree lives only for this call (what is kept is copied out),
    // so its nodes come from one arena per thread, reused, not one heap
    // allocation per node. 64 KiB holds a batch of 100 typical alerts; a
    // larger tree continues on the heap.
    constexpr std::size_t arena_bytes = 64 * 1024;
    thread_local auto const arena = std::make_unique<unsigned char[]>(arena_bytes);  // only where parsing happens
    boost::json::monotonic_resource tree_memory{arena.get(), arena_bytes};
    boost::system::error_code ec;
    boost::json::value const v = boost::json::parse(body, ec, &tree_memory);
    if (ec) return bad("body is not valid JSON", 400, "invalid_json");

    publish_request out;
    auto add = [&](boost::json::value const& item, std::string_view text,
                   std::optional<std::size_t> index) -> or_refusal<void> {
        auto r = parse_one(item, text, limits, now_iso);
        if (!r) {
            auto e = r.error();  // a copy: result::error() answers by value
            e.index = index;
            return e;
        }
        out.alerts.push_back(std::move(*r));
        return {};
    };
    if (auto const* list = v.if_array()) {
        out.batch = true;
        if (list->empty()) return bad("empty batch");
        if (list->size() > limits.max_batch)
            return bad("at most " + std::to_string(limits.max_batch) + " alerts per request", 413, "batch_too_large");
        out.alerts.reserve(list->size());
        auto const texts = json_text::elements(body);
        if (texts.size() != list->size())  // not reached: both read the same valid text
            return bad("body is not valid JSON", 400, "invalid_json");
        for (std::size_t i = 0; i < list->size(); ++i)
            if (auto added = add((*list)[i], texts[i], i); !added) return added.error();
    } else if (auto added = add(v, body, std::nullopt); !added) {
        return added.error();
    }
    return out;
}

}  // namespace vigil

namespace vigil {

std::string_view to_string(alert_state s) noexcept {
    switch (s) {
        case alert_state::open: return "open";
        case alert_state::acknowledged: return "acknowledged";
        case alert_state::resolved: return "resolved";
    }
    return "open";
}

}  // namespace vigil
