#include "proto/alert_json.hpp"

#include "common/clock.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace vigil::proto {

namespace json = boost::json;

namespace {

json::value time_or_null(std::optional<std::int64_t> const& ms) {
    return ms ? json::value(iso8601(*ms)) : json::value(nullptr);
}

json::value text_or_null(bool present, std::string const& s) { return present ? json::value(s) : json::value(nullptr); }

// The handling fields every shape shares.
void put_handling(json::object& o, stored_alert const& a) {
    o["state"] = to_string(a.state());
    o["owner"] = text_or_null(a.acked_ms.has_value(), a.acked_by);
    o["acknowledged_at"] = time_or_null(a.acked_ms);
    o["resolved_by"] = text_or_null(a.resolved_ms.has_value(), a.resolved_by);
    o["resolved_at"] = time_or_null(a.resolved_ms);
    o["outcome"] = text_or_null(a.resolved_ms.has_value(), a.outcome);
    o["note"] = text_or_null(a.resolved_ms.has_value() && !a.note.empty(), a.note);
    o["severity"] = a.severity;
    o["escalation_level"] = a.escalation_level;
}

std::string with_detection(json::object const& o, stored_alert const& a) {
    std::string out = json::serialize(o);
    out.pop_back();  // the closing brace
    out += R"(,"detection":)";
    out += a.detection_json;
    out.push_back('}');
    return out;
}

json::object alert_object(stored_alert const& a) {
    json::object o;
    o["alert_id"] = a.alert_id;
    o["seq"] = a.seq;
    o["user_id"] = a.user_id;
    if (!a.team.empty()) o["team"] = a.team;
    o["stream_id"] = a.stream_id;
    o["timestamp"] = a.timestamp;
    o["group_key"] = a.group_key;
    if (a.suppressed) o["suppressed"] = true;
    if (a.has_frame())
        o["frame"] =
            json::object{{"url", "/api/v1/alerts/" + a.alert_id + "/frame"}, {"content_type", a.frame_content_type}};
    o["created_at"] = iso8601(a.created_ms);
    put_handling(o, a);
    if (!a.escalation.empty()) o["escalation"] = a.escalation;
    // The quick reference's words, kept for its clients.
    o["status"] = a.acked_ms ? "acked" : "unacked";
    o["acked_at"] = time_or_null(a.acked_ms);
    o["acked_by"] = text_or_null(a.acked_ms.has_value(), a.acked_by);
    o["first_delivered_at"] = time_or_null(a.first_delivered_ms);
    o["delivery_count"] = a.delivery_count;
    return o;
}

}  // namespace

std::string alert_json(stored_alert const& a) { return with_detection(alert_object(a), a); }

std::string alert_updated_message(stored_alert const& a, std::string_view change, std::string_view actor) {
    // {"type":"alert_updated", ...}
    json::object o;
    o["type"] = "alert_updated";
    o["alert_id"] = a.alert_id;
    o["change"] = change;
    o["actor"] = actor;
    put_handling(o, a);
    if (!a.team.empty()) o["team"] = a.team;
    return json::serialize(o);
}

std::string webhook_type(std::string_view change) { return "alert." + std::string{change}; }

std::string webhook_body(std::string_view id, std::string_view type, std::int64_t at_ms, std::string_view actor,
                         stored_alert const& a, std::vector<std::string> const& recipients) {
    auto alert = alert_object(a);
    // The copy's own position means nothing to a receiver: the alert is shared.
    alert.erase("seq");
    alert.erase("user_id");
    alert.erase("delivery_count");
    alert.erase("first_delivered_at");
    json::array r;
    for (auto const& u : recipients) r.emplace_back(u);
    alert["recipients"] = std::move(r);
    std::string out = R"({"id":)";
    out += json::serialize(json::string_view{id});
    out += R"(,"type":)";
    out += json::serialize(json::string_view{type});
    out += R"(,"at":")";
    out += iso8601(at_ms);
    out += R"(","actor":)";
    out += json::serialize(json::string_view{actor});
    out += R"(,"alert":)";
    out += with_detection(alert, a);
    out.push_back('}');
    return out;
}

}  // namespace vigil::proto
