#include "net/handling_routes.hpp"

#include "alerts/alert_validation.hpp"
#include "alerts/audience.hpp"
#include "common/clock.hpp"
#include "net/json_body.hpp"
#include "net/request_auth.hpp"
#include "net/request_log.hpp"
#include "net/store_work.hpp"
#include "proto/alert_json.hpp"
#include "proto/messages.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>

namespace vigil::net {

namespace json = boost::json;

namespace {

// A team of 1,000 members, or a policy of 20 steps, is a few tens of KiB.
constexpr std::size_t max_config_body = 128 * 1024;
constexpr std::size_t max_members = 1000;
constexpr std::size_t max_steps = 20;
constexpr int max_repeat = 10;
constexpr std::int64_t max_ack_within_seconds = 7 * 24 * 3600;

bool is_severity_key(std::string_view k) { return valid_severity(k) || k == "default"; }

or_refusal<team_record> parse_team(std::string name, json::object const& o) {
    auto const invalid = [](std::string detail) { return refusal{400, "invalid_team", std::move(detail)}; };
    team_record t;
    t.name = std::move(name);
    auto const* members = o.if_contains("members");
    if (!members || !members->is_array() || members->get_array().empty() || members->get_array().size() > max_members)
        return invalid("members must be a list of 1-" + std::to_string(max_members) + " user ids");
    for (auto const& m : members->get_array()) {
        if (!m.is_string() || !valid_user_id(m.get_string()))
            return invalid("each member must be a user id: 1-128 characters of [A-Za-z0-9._@:|+-]");
        std::string id{m.get_string()};
        if (std::find(t.members.begin(), t.members.end(), id) == t.members.end()) t.members.push_back(std::move(id));
    }
    if (auto const* esc = o.if_contains("escalation"); esc && !esc->is_null()) {
        if (!esc->is_object()) return invalid("escalation must map severities (or default) to policy names");
        for (auto const& [k, v] : esc->get_object()) {
            if (!is_severity_key(k)) return invalid("escalation keys are critical, high, medium, low or default");
            if (!v.is_string() || !valid_handling_name(v.get_string()))
                return invalid("escalation values are policy names: 1-64 characters of [A-Za-z0-9_.-]");
            t.escalation.emplace(std::string{k}, std::string{v.get_string()});
        }
    }
    return t;
}

or_refusal<escalation_policy> parse_policy(std::string name, json::object const& o) {
    auto const invalid = [](std::string detail) { return refusal{400, "invalid_policy", std::move(detail)}; };
    escalation_policy p;
    p.name = std::move(name);
    auto const* steps = o.if_contains("steps");
    if (!steps || !steps->is_array() || steps->get_array().empty() || steps->get_array().size() > max_steps)
        return invalid("steps must be a list of 1-" + std::to_string(max_steps) + " steps");
    for (auto const& s : steps->get_array()) {
        auto const* step = s.if_object();
        auto const* notify = step ? step->if_contains("notify") : nullptr;
        auto const* within = step ? step->if_contains("ack_within_seconds") : nullptr;
        if (!notify || !notify->is_string() || !valid_notify(notify->get_string()))
            return invalid("each step's notify is team:NAME or user:ID");
        auto const seconds = within && within->is_int64() ? within->get_int64() : std::int64_t{0};
        if (seconds < 1 || seconds > max_ack_within_seconds)
            return invalid("each step's ack_within_seconds is an integer, 1-" + std::to_string(max_ack_within_seconds));
        p.steps.push_back({std::string{notify->get_string()}, seconds});
    }
    if (auto const* r = o.if_contains("repeat"); r && !r->is_null()) {
        if (!r->is_int64() || r->get_int64() < 0 || r->get_int64() > max_repeat)
            return invalid("repeat is an integer, 0-" + std::to_string(max_repeat));
        p.repeat = int(r->get_int64());
    }
    return p;
}

json::object team_json(team_record const& t) {
    json::array members;
    for (auto const& m : t.members) members.emplace_back(m);
    json::object escalation;
    for (auto const& [k, v] : t.escalation) escalation[k] = v;
    return {{"team", t.name},
            {"members", std::move(members)},
            {"escalation", std::move(escalation)},
            {"updated_at", iso8601(t.updated_ms)}};
}

json::object policy_json(escalation_policy const& p) {
    json::array steps;
    for (auto const& s : p.steps)
        steps.push_back(json::object{{"notify", s.notify}, {"ack_within_seconds", s.ack_within_seconds}});
    return {{"name", p.name}, {"steps", std::move(steps)}, {"repeat", p.repeat}, {"updated_at", iso8601(p.updated_ms)}};
}

// Teams and policies: admins only.
void teams_and_policies(server_context& ctx, http_request& req, request_target const& t, bool policies,
                        responder& respond) {
    auto const who = authenticate(ctx, req);
    if (!who) return respond(auth_failure(auth::auth_error(who.error().value()), req));
    if (!who->is_admin()) return respond(auth_failure(auth::auth_error::forbidden, req));
    auto& h = *ctx.handling;
    auto const method = req.method();
    if (t.path.size() == 3) {  // the list
        if (method != http::verb::get) return respond(method_not_allowed(req, "GET"));
        return on_store_threads(ctx, req, std::move(respond), [&h, policies](http_request const& head) {
            json::array out;
            if (policies)
                for (auto const& p : h.policies()) out.push_back(policy_json(p));
            else
                for (auto const& team : h.teams()) out.push_back(team_json(team));
            return json_response(http::status::ok,
                                 json::serialize(json::object{{policies ? "policies" : "teams", std::move(out)}}),
                                 head);
        });
    }
    std::string name{t.path[3]};
    if (!valid_handling_name(name))
        return respond(
            json_error(http::status::bad_request, "bad_request", "names are 1-64 characters of [A-Za-z0-9_.-]", req));
    if (method == http::verb::get || method == http::verb::delete_) {
        bool const del = method == http::verb::delete_;
        return on_store_threads(ctx, req, std::move(respond), [&h, name, policies, del](http_request const& head) {
            if (del) {
                bool const gone = policies ? h.delete_policy(name) : h.delete_team(name);
                return gone ? no_content(head)
                            : json_error(http::status::not_found, "not_found",
                                         "no such " + std::string{policies ? "policy" : "team"}, head);
            }
            if (policies) {
                auto p = h.get_policy(name);
                return p ? json_response(http::status::ok, json::serialize(policy_json(*p)), head)
                         : json_error(http::status::not_found, "not_found", "no such policy", head);
            }
            auto team = h.get_team(name);
            return team ? json_response(http::status::ok, json::serialize(team_json(*team)), head)
                        : json_error(http::status::not_found, "not_found", "no such team", head);
        });
    }
    if (method != http::verb::put) return respond(method_not_allowed(req, "GET, PUT, DELETE"));
    auto body = json_object_body(req, max_config_body);
    if (!body) return respond(refusal_response(body.error(), req));
    if (policies) {
        auto p = parse_policy(name, *body);
        if (!p) return respond(refusal_response(p.error(), req));
        p->updated_ms = now_ms();
        return on_store_threads(ctx, req, std::move(respond), [&h, p = std::move(*p)](http_request const& head) {
            h.put_policy(p);
            return json_response(http::status::ok, json::serialize(policy_json(p)), head);
        });
    }
    auto team = parse_team(name, *body);
    if (!team) return respond(refusal_response(team.error(), req));
    team->updated_ms = now_ms();
    on_store_threads(ctx, req, std::move(respond), [&h, team = std::move(*team)](http_request const& head) {
        h.put_team(team);
        return json_response(http::status::ok, json::serialize(team_json(team)), head);
    });
}

// POST /api/v1/alerts/{id}/ack|resolve|reopen.
void change_state(server_context& ctx, http_request& req, std::string const& id, transition_kind kind,
                  responder& respond) {
    auto const who = authenticate(ctx, req);
    if (!who) return respond(auth_failure(auth::auth_error(who.error().value()), req));
    transition_request change{id, who->is_admin() ? "" : who->subject, who->subject, kind, {}, {}};
    if (kind == transition_kind::resolve) {
        auto body = json_object_body(req, max_config_body);
        if (!body) return respond(refusal_response(body.error(), req));
        auto const* outcome = body->if_contains("outcome");
        if (!outcome || !outcome->is_string() || !proto::is_outcome(outcome->get_string()))
            return respond(json_error(http::status::bad_request, "invalid_outcome",
                                      "outcome must be real, false_alarm or test", req));
        change.outcome = std::string{outcome->get_string()};
        if (auto const* note = body->if_contains("note"); note && !note->is_null()) {
            if (!note->is_string() || note->get_string().size() > proto::max_note_bytes)
                return respond(json_error(http::status::bad_request, "invalid_note",
                                          "note must be a string of at most 1000 characters", req));
            change.note = std::string{note->get_string()};
        }
    }
    ctx.alerts.transition(
        std::move(change), [kind, head = reply_head(req), respond = std::move(respond)](transition_outcome_or_error r) {
            if (!r) return respond(refusal_response(r.error(), head));
            if (r->outcome == transition_outcome::not_found || !r->alert)
                return respond(json_error(http::status::not_found, "not_found", "no such alert", head));
            if (r->outcome == transition_outcome::invalid)
                return respond(json_error(
                    http::status::conflict, "invalid_transition",
                    kind == transition_kind::resolve ? "the alert is already resolved" : "the alert is already open",
                    head));
            // The alert as history shows it, plus what the quick reference's ack answered.
            auto body = proto::alert_json(*r->alert);
            body.pop_back();
            body += R"(,"changed":)";
            body += r->outcome == transition_outcome::applied ? "true" : "false";
            if (kind == transition_kind::acknowledge) {
                body += R"(,"already_acked":)";
                body += r->outcome == transition_outcome::unchanged ? "true" : "false";
            }
            body.push_back('}');
            respond(json_response(http::status::ok, std::move(body), head));
        });
}

void audit_trail(server_context& ctx, http_request& req, std::string const& id, responder& respond) {
    auto const who = authenticate(ctx, req);
    if (!who) return respond(auth_failure(auth::auth_error(who.error().value()), req));
    on_store_threads(ctx, req, std::move(respond), [&ctx, id, who = *who](http_request const& head) {
        auto const not_found = [&] { return json_error(http::status::not_found, "not_found", "no such alert", head); };
        if (!who.is_admin() && !ctx.alerts.store().get(id, who.subject)) return not_found();  // not an oracle
        auto const events = ctx.handling->events(id);
        if (events.empty()) return not_found();
        std::string body = R"({"events":[)";
        for (std::size_t i = 0; i < events.size(); ++i) {
            auto const& e = events[i];
            if (i > 0) body.push_back(',');
            json::object o{{"type", e.type}, {"actor", e.actor}, {"at", iso8601(e.at_ms)}};
            boost::system::error_code ec;
            auto detail = json::parse(e.detail_json, ec);
            if (!ec && detail.is_object())
                for (auto const& [k, v] : detail.get_object()) o.emplace(k, v);
            body += json::serialize(o);
        }
        body += "]}";
        return json_response(http::status::ok, std::move(body), head);
    });
}

}  // namespace

bool handle_handling_request(server_context& ctx, http_request& req, request_target const& t, responder& respond) {
    bool const teams = is_path(t, {"api", "v1", "teams"}) || is_path(t, {"api", "v1", "teams", ""});
    bool const policies =
        is_path(t, {"api", "v1", "escalation-policies"}) || is_path(t, {"api", "v1", "escalation-policies", ""});
    if (teams || policies) {
        note_route(t.path.size() == 3 ? (teams ? route::teams : route::escalation_policies)
                                      : (teams ? route::team : route::escalation_policy));
        teams_and_policies(ctx, req, t, policies, respond);
        return true;
    }
    if (is_path(t, {"api", "v1", "alerts", "", "events"})) {
        note_route(route::alert_events);
        if (req.method() != http::verb::get)
            respond(method_not_allowed(req, "GET"));
        else
            audit_trail(ctx, req, std::string{t.path[3]}, respond);
        return true;
    }
    std::optional<transition_kind> kind;
    if (is_path(t, {"api", "v1", "alerts", "", "ack"}))
        kind = transition_kind::acknowledge, note_route(route::alert_ack);
    else if (is_path(t, {"api", "v1", "alerts", "", "resolve"}))
        kind = transition_kind::resolve, note_route(route::alert_resolve);
    else if (is_path(t, {"api", "v1", "alerts", "", "reopen"}))
        kind = transition_kind::reopen, note_route(route::alert_reopen);
    if (!kind) return false;
    if (req.method() != http::verb::post)
        respond(method_not_allowed(req, "POST"));
    else
        change_state(ctx, req, std::string{t.path[3]}, *kind, respond);
    return true;
    return false;
}

}  // namespace vigil::net
