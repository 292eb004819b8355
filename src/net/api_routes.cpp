#include "net/api_routes.hpp"

#include "alerts/alert_validation.hpp"
#include "alerts/audience.hpp"
#include "common/clock.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "hub/connection_report.hpp"
#include "net/api_description.hpp"
#include "net/handling_routes.hpp"
#include "net/push_routes.hpp"
#include "net/request_auth.hpp"
#include "net/request_log.hpp"
#include "net/request_target.hpp"
#include "net/store_work.hpp"
#include "proto/alert_json.hpp"
#include "proto/messages.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace vigil::net {

namespace json = boost::json;
namespace beast = boost::beast;

namespace {

using target = request_target;

// ---------------------------------------------------------------- handlers

// A dashboard file. The page is opened with ?token= in its URL: never send it
// on as a Referer, and keep the page from being framed.
http_response static_response(static_file const& f, http_request const& req) {
    http_response res{http::status::ok, req.version()};
    set_common_fields(res);
    res.set(http::field::content_type, f.content_type);
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");
    res.set("X-Frame-Options", "DENY");
    res.set("Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; "
            "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
    res.keep_alive(req.keep_alive());
    res.body() = f.body;
    res.prepare_payload();
    return res;
}

// `ok`; `degraded` while the bus has lost the other nodes (delivery goes on
// through the store); 503 while the store is unreachable or the server stops.
http_response health(server_context& ctx, http_request const& req) {
    auto const store = ctx.alerts.store().status();
    auto const bus = ctx.bus.status();
    // No detail: /health answers anyone, and an engine's message names its
    // server; the log and /metrics say what failed.
    auto const part = [](std::string_view engine, bool up) {
        return json::object{{"engine", engine}, {"state", up ? "ok" : "down"}};
    };
    json::object o;
    o["status"] = ctx.shutting_down ? "shutting_down" : !store.up || !bus.up ? "degraded" : "ok";
    o["store"] = part(ctx.config.store.engine, store.up);
    o["bus"] = part(bus.engine, bus.up);
    o["node"] = ctx.bus.node_id();
    o["connections"] = ctx.registry.size();
    o["uptime_seconds"] = (now_ms() - ctx.started_ms) / 1000;
    bool const serving = !ctx.shutting_down && store.up;
    return json_response(serving ? http::status::ok : http::status::service_unavailable, json::serialize(o), req);
}

// Whether a publish body may be read as JSON: declared so (application/json,
// application/*+json), or declared as nothing in particular: no type,
// text/plain (what fetch() sends with a string) or
// application/x-www-form-urlencoded (what curl -d sends). An XML document or
// a form upload says it is something else, and is refused as such (415).
bool json_compatible(std::string_view content_type) {
    auto type = content_type.substr(0, content_type.find(';'));
    while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
    while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
    auto is = [&](std::string_view expected) { return beast::iequals(type, expected); };
    bool const json_suffix = type.size() > 5 && beast::iequals(type.substr(type.size() - 5), "+json") &&
                             beast::iequals(type.substr(0, 12), "application/");
    return type.empty() || is("application/json") || json_suffix || is("text/json") || is("text/plain") ||
           is("application/x-www-form-urlencoded");
}

// A connection row as the quick reference shows it; in a cluster, with the
// node that holds it.
json::object connection_row(connection_report const& r, std::string const* node) {
    json::object o{{"user_id", r.user_id},
                   {"connected", r.connected},
                   {"uptime_seconds", r.uptime_seconds},
                   {"seconds_since_heartbeat", r.seconds_since_heartbeat}};
    if (node) o["node"] = *node;
    return o;
}

json::object user_row(connection_report const& r, std::string const* node) {
    json::object o{{"user_id", r.user_id},
                   {"connected", r.connected},
                   {"connected_at", r.connected_at},
                   {"uptime_seconds", r.uptime_seconds},
                   {"last_heartbeat", r.last_heartbeat},
                   {"seconds_since_heartbeat", r.seconds_since_heartbeat}};
    if (node) o["node"] = *node;
    return o;
}

// A single node shows exactly the quick reference's fields; nodes of a cluster
// name themselves in each row.
bool in_cluster(server_context const& ctx) { return ctx.bus.status().engine != "local"; }

// This node's connections, then those the bus knows other nodes hold.
void list_connections(server_context& ctx, http_request const& req, responder respond) {
    auto const now = now_ms();
    bool const cluster = in_cluster(ctx);
    json::array rows;
    for (auto const& s : ctx.registry.all_stats())
        rows.push_back(connection_row(make_report(s, now), cluster ? &ctx.bus.node_id() : nullptr));
    ctx.bus.remote_connections([rows = std::move(rows), now, cluster, head = reply_head(req),
                                respond = std::move(respond)](std::vector<node_connection> const& remote) mutable {
        for (auto const& c : remote)
            rows.push_back(connection_row(make_report(c.stats, now), cluster ? &c.node : nullptr));
        json::object o;
        o["total_connections"] = rows.size();
        o["connections"] = std::move(rows);
        respond(json_response(http::status::ok, json::serialize(o), head));
    });
}

void user_connection(server_context& ctx, http_request const& req, std::string const& user_id, responder respond) {
    auto const now = now_ms();
    bool const cluster = in_cluster(ctx);
    if (auto const s = ctx.registry.stats(user_id))
        return respond(json_response(
            http::status::ok, json::serialize(user_row(make_report(*s, now), cluster ? &ctx.bus.node_id() : nullptr)),
            req));
    auto const not_connected = [&] {
        return json::serialize(json::object{{"user_id", user_id}, {"connected", false}});
    };
    if (!ctx.bus.connected_elsewhere(user_id)) return respond(json_response(http::status::ok, not_connected(), req));
    ctx.bus.remote_connections([user_id, now, cluster, none = not_connected(), head = reply_head(req),
                                respond = std::move(respond)](std::vector<node_connection> const& remote) {
        for (auto const& c : remote)
            if (c.stats.user_id == user_id)
                return respond(json_response(
                    http::status::ok, json::serialize(user_row(make_report(c.stats, now), cluster ? &c.node : nullptr)),
                    head));
        respond(json_response(http::status::ok, none, head));
    });
}

void publish(server_context& ctx, http_request&& req, responder respond) {
    auto const who = authenticate(ctx, req);
    if (!who) return respond(auth_failure(auth::auth_error(who.error().value()), req));
    if (!who->can_publish()) return respond(auth_failure(auth::auth_error::forbidden, req));
    if (!json_compatible(req[http::field::content_type]))
        return respond(json_error(http::status::unsupported_media_type, "unsupported_media_type",
                                  "alerts are JSON: send Content-Type: application/json", req));

    auto parsed = parse_publish_body(req.body(), alert_limits_from(ctx.config.limits), iso8601(now_ms()));
    if (!parsed) return respond(refusal_response(parsed.error(), req));
    auto& request = *parsed;
    bool needs_audience = false;  // a team to expand, or a policy to look up: the store's to say
    for (auto& a : request.alerts) {
        a.published_by = who->subject;
        needs_audience = needs_audience || !a.team.empty() || !a.escalation.empty();
    }
    // One result per alert of the body: a team alert's copies answer as one.
    // No origins: every alert was its user's, one copy each.
    auto finish = [batch = request.batch, head = reply_head(req), respond = std::move(respond)](
                      std::vector<expanded_publish::origin> const& origins, publish_outcome const& outcome) {
        if (!outcome) return respond(refusal_response(outcome.error(), head));
        json::array out;
        auto const n = origins.empty() ? outcome->size() : origins.size();
        for (std::size_t i = 0; i < n; ++i) {
            auto const o = origins.empty() ? expanded_publish::origin{i, 1, {}} : origins[i];
            auto const& first = (*outcome)[o.first];
            bool delivered = false;
            for (std::size_t k = o.first; k < o.first + o.count; ++k) delivered = delivered || (*outcome)[k].delivered;
            json::object r{{"alert_id", first.alert_id}};
            if (o.team.empty()) {
                r["seq"] = first.seq;
            } else {
                r["team"] = o.team;
                r["recipients"] = o.count;
            }
            r["delivered"] = delivered;
            if (first.duplicate) r["duplicate"] = true;
            out.push_back(std::move(r));
        }
        respond(json_response(http::status::created, batch ? json::serialize(out) : json::serialize(out[0]), head));
    };
    if (!needs_audience)  // the common case: each alert is its user's, no store read before the commit
        return ctx.alerts.publish(std::move(request.alerts),
                                  [finish = std::move(finish)](publish_outcome const& o) { finish({}, o); });
    boost::asio::post(ctx.store_reads,
                      [&ctx, alerts = std::move(request.alerts), finish = std::move(finish)]() mutable {
                          or_refusal<expanded_publish> expanded = store_unavailable();
                          try {
                              expanded = expand_audiences(std::move(alerts), *ctx.handling, now_ms());
                          } catch (std::exception const& e) {
                              log::debug("http.store_unavailable", {{"error", e.what()}});
                          }
                          if (!expanded) return finish({}, expanded.error());
                          ctx.alerts.publish(std::move(expanded->copies),
                                             [finish = std::move(finish), origins = std::move(expanded->origins)](
                                                 publish_outcome const& o) { finish(origins, o); });
                      });
}

void history(server_context& ctx, http_request&& req, target const& t, responder respond) {
    auto const who = authenticate(ctx, req);
    if (!who) return respond(auth_failure(auth::auth_error(who.error().value()), req));
    history_query q;
    q.user_id = t.param("user_id").value_or(who->is_admin() ? "" : who->subject);
    if (!who->is_admin() && q.user_id != who->subject) return respond(auth_failure(auth::auth_error::forbidden, req));
    auto const status = t.param("status").value_or("all");
    if (status == "open" || status == "unacked")
        q.status = state_filter::open;
    else if (status == "acknowledged")
        q.status = state_filter::acknowledged;
    else if (status == "resolved")
        q.status = state_filter::resolved;
    else if (status == "acked")
        q.status = state_filter::acked;
    else if (status != "all")
        return respond(json_error(http::status::bad_request, "bad_request",
                                  "status must be open, acknowledged, resolved, all, or unacked or acked", req));
    q.team = t.param("team").value_or("");
    if (!q.team.empty() && !valid_handling_name(q.team))
        return respond(json_error(http::status::bad_request, "bad_request", "team must be a team's name", req));
    if (auto const limit = t.param("limit")) {
        auto const n = parse_uint(*limit);
        if (!n || *n == 0 || *n > 1000)
            return respond(json_error(http::status::bad_request, "bad_request", "limit must be 1-1000", req));
        q.limit = *n;
    }
    q.before = t.param("before").value_or("");
    if (!q.before.empty() && !is_alert_id(q.before))
        return respond(json_error(http::status::bad_request, "bad_request",
                                  "before must be an alert id (next_before of a page)", req));
    on_store_threads(ctx, req, std::move(respond), [&ctx, q = std::move(q)](http_request const& head) {
        auto const rows = ctx.alerts.store().history(q);
        std::string body = R"({"alerts":[)";
        for (std::size_t i = 0; i < rows.size(); ++i) {
            if (i > 0) body.push_back(',');
            body += proto::alert_json(rows[i]);
        }
        body += R"(],"next_before":)";
        body += rows.size() == q.limit ? proto::quoted(rows.back().alert_id) : "null";
        body.push_back('}');
        return json_response(http::status::ok, std::move(body), head);
    });
}

void one_alert(server_context& ctx, http_request&& req, target const& t, bool frame, responder respond) {
    auto const& id = t.path[3];
    auto const query_token = frame ? t.param("token").value_or("") : std::string{};
    auto const who = authenticate(ctx, req, query_token);
    if (!who) return respond(auth_failure(auth::auth_error(who.error().value()), req));
    on_store_threads(ctx, req, std::move(respond), [&ctx, id, frame, who = *who](http_request const& head) {
        // A recipient reads their own copy; an admin, the alert's first.
        auto const a = ctx.alerts.store().get(id, who.is_admin() ? std::string_view{} : std::string_view{who.subject});
        // Someone else's alert answers like a missing one: ids are not an oracle.
        if (!a) return json_error(http::status::not_found, "not_found", "no such alert", head);
        if (!frame) return json_response(http::status::ok, proto::alert_json(*a), head);
        auto f = ctx.alerts.store().frame(id);
        if (!f) return json_error(http::status::not_found, "not_found", "this alert has no frame", head);
        http_response res{http::status::ok, head.version()};
        set_common_fields(res);
        res.set(http::field::content_type, f->content_type);
        res.set(http::field::cache_control, "private, max-age=86400, immutable");
        res.set("X-Content-Type-Options", "nosniff");
        res.keep_alive(head.keep_alive());
        res.body() = std::move(f->bytes);
        res.prepare_payload();
        return res;
    });
}

// A single-use ticket for one user's WebSocket (see ws_tickets.hpp): the
// caller's own, or, for an admin, the user named by `user_id` (in the query or
// a JSON body). An API key is no user: it must name one.
http_response issue_ticket(server_context& ctx, http_request const& req, target const& t) {
    auto const who = authenticate(ctx, req);
    if (!who) return auth_failure(auth::auth_error(who.error().value()), req);
    std::string named = t.param("user_id").value_or("");
    if (named.empty() && !req.body().empty()) {
        boost::system::error_code ec;
        auto const body = json::parse(req.body(), ec);
        if (ec || !body.is_object())
            return json_error(http::status::bad_request, "invalid_json", "body must be a JSON object", req);
        if (auto const* u = body.as_object().if_contains("user_id")) {
            if (!u->is_string())
                return json_error(http::status::bad_request, "invalid_user_id", "user_id must be a string", req);
            named = std::string{u->get_string()};
        }
    }
    if (named.empty() && who->api_key)
        return json_error(http::status::bad_request, "missing_user_id",
                          "an API key is no user: name the user the ticket is for (user_id)", req);
    std::string const user = named.empty() ? who->subject : named;
    if (!valid_user_id(user))
        return json_error(http::status::bad_request, "invalid_user_id",
                          "user_id must be 1-128 characters of [A-Za-z0-9._@:|+-]", req);
    bool const own = !who->api_key && user == who->subject;
    if (!own && !who->is_admin()) return auth_failure(auth::auth_error::forbidden, req);
    // A ticket for someone else carries none of the issuer's roles.
    auth::claims const claims = own ? *who : auth::claims{user, who->expires_at, {}};
    auto const ticket = ctx.tickets.issue(claims, now_ms());
    if (ticket.empty())
        return json_error(http::status::service_unavailable, "busy", "too many outstanding tickets", req);
    json::object o{{"ticket", ticket},
                   {"user_id", user},
                   {"expires_in", ws_tickets::lifetime_ms / 1000},
                   {"url", "/ws/alerts/" + user + "?ticket=" + ticket}};
    return json_response(http::status::created, json::serialize(o), req);
}

}  // namespace

void handle_http_request(server_context& ctx, http_request&& req, boost::asio::ip::address const& remote,
                         responder respond) {
    auto const t = parse_request_target(req.target());
    if (!t) return respond(json_error(http::status::bad_request, "bad_request", "malformed request target", req));
    auto const method = req.method();
    bool const get = method == http::verb::get;
    bool const post = method == http::verb::post;

    if (is_path(*t, {"health"})) {
        note_route(route::health);
        if (get) return respond(health(ctx, req));
        if (method == http::verb::head) {  // uptime checkers: GET's status and head, no body
            auto res = health(ctx, req);
            res.body().clear();  // Content-Length stays GET's (RFC 9110 9.3.2)
            return respond(std::move(res));
        }
        return respond(method_not_allowed(req, "GET, HEAD"));
    }
    if (is_path(*t, {"ws", "connections"}) || is_path(*t, {"ws", "connections", ""})) {
        note_route(t->path.size() == 2 ? route::connections : route::connection);
        if (!get) return respond(method_not_allowed(req, "GET"));
        auto const who = authenticate_monitoring(ctx, req, remote);
        if (!who) return respond(auth_failure(auth::auth_error(who.error().value()), req));
        if (t->path.size() == 2) return list_connections(ctx, req, std::move(respond));
        return user_connection(ctx, req, t->path[2], std::move(respond));
    }
    if (is_path(*t, {"api", "v1", "ws-ticket"})) {
        note_route(route::ws_ticket);
        if (!post) return respond(method_not_allowed(req, "POST"));
        return respond(issue_ticket(ctx, req, *t));
    }
    if (is_path(*t, {"metrics"})) {
        note_route(route::metrics);
        if (!get) return respond(method_not_allowed(req, "GET"));
        auto const who = authenticate_monitoring(ctx, req, remote);
        if (!who) return respond(auth_failure(auth::auth_error(who.error().value()), req));
        http_response res{http::status::ok, req.version()};
        set_common_fields(res);
        res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.keep_alive(req.keep_alive());
        res.body() = metrics::global().render(ctx.registry.size());
        render_request_counters(res.body());
        res.prepare_payload();
        return respond(std::move(res));
    }
    if (is_path(*t, {"ws", "alerts", ""})) {
        note_route(route::websocket);
        auto res =
            json_error(http::status::upgrade_required, "upgrade_required", "this endpoint speaks WebSocket only", req);
        res.set(http::field::upgrade, "websocket");  // a 426 MUST name the protocol (RFC 9110 15.5.22)
        return respond(std::move(res));
    }
    if (is_path(*t, {"api", "v1", "alerts"})) {
        note_route(route::alerts);
        if (post) return publish(ctx, std::move(req), std::move(respond));
        if (get) return history(ctx, std::move(req), *t, std::move(respond));
        return respond(method_not_allowed(req, "GET, POST"));
    }
    if (is_path(*t, {"api", "v1", "alerts", ""})) {
        note_route(route::alert);
        if (!get) return respond(method_not_allowed(req, "GET"));
        return one_alert(ctx, std::move(req), *t, false, std::move(respond));
    }
    if (is_path(*t, {"api", "v1", "alerts", "", "frame"})) {
        note_route(route::alert_frame);
        if (!get) return respond(method_not_allowed(req, "GET"));
        return one_alert(ctx, std::move(req), *t, true, std::move(respond));
    }
    if (handle_handling_request(ctx, req, *t, respond)) return;  // teams, policies, lifecycle: net/handling_routes.cpp
    if (is_path(*t, {"api", "v1", "openapi.json"}) || is_path(*t, {"api", "v1", "asyncapi.json"})) {
        note_route(t->path[2] == "openapi.json" ? route::openapi : route::asyncapi);
        if (!get) return respond(method_not_allowed(req, "GET"));
        auto res = json_response(http::status::ok,
                                 std::string{t->path[2] == "openapi.json" ? openapi_json() : asyncapi_json()}, req);
        res.set(http::field::cache_control, "no-cache");
        return respond(std::move(res));
    }
    if (handle_push_request(ctx, req, *t, respond)) return;  // Web Push: net/push_routes.cpp
    if (get && t->path.size() <= 1) {
        auto const* file = ctx.web.find(t->path.empty() ? std::string_view{} : std::string_view{t->path[0]});
        if (file) {
            note_route(route::dashboard);
            return respond(static_response(*file, req));
        }
    }
    respond(json_error(http::status::not_found, "not_found", "no such endpoint", req));
}

}  // namespace vigil::net
