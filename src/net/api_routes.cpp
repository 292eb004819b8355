#include "net/api_routes.hpp"

#include "alerts/alert_validation.hpp"
#include "common/clock.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "hub/connection_report.hpp"
#include "net/api_description.hpp"
#include "net/push_routes.hpp"
#include "net/request_auth.hpp"
#include "net/request_log.hpp"
#include "net/request_target.hpp"
#include "net/store_work.hpp"
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

http_response method_not_allowed(http_request const& req, std::string_view allow) {
    auto res = json_error(http::status::method_not_allowed, "method_not_allowed",
                          "this resource allows " + std::string{allow}, req);
    res.set(http::field::allow, allow);
    return res;
}

// The alert as history and GET /api/v1/alerts/{id} show it. The detection is
// spliced in as stored, the producer's text: through a json::value its numbers
// would be written in Boost.JSON's spelling (0.93 as 9.3E-1).
std::string alert_json(stored_alert const& a) {
    json::object o;
    o["alert_id"] = a.alert_id;
    o["seq"] = a.seq;
    o["user_id"] = a.user_id;
    o["stream_id"] = a.stream_id;
    o["timestamp"] = a.timestamp;
    o["severity"] = a.severity;
    o["group_key"] = a.group_key;
    if (a.suppressed) o["suppressed"] = true;
    if (a.has_frame())
        o["frame"] =
            json::object{{"url", "/api/v1/alerts/" + a.alert_id + "/frame"}, {"content_type", a.frame_content_type}};
    o["created_at"] = iso8601(a.created_ms);
    o["status"] = a.acked_ms ? "acked" : "unacked";
    o["acked_at"] = a.acked_ms ? json::value(iso8601(*a.acked_ms)) : json::value(nullptr);
    o["acked_by"] = a.acked_ms ? json::value(a.acked_by) : json::value(nullptr);
    o["first_delivered_at"] = a.first_delivered_ms ? json::value(iso8601(*a.first_delivered_ms)) : json::value(nullptr);
    o["delivery_count"] = a.delivery_count;
    std::string out = json::serialize(o);
    out.pop_back();  // the closing brace
    out += R"(,"detection":)";
    out += a.detection_json;
    out.push_back('}');
    return out;
}

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
    bool const batch = request.batch;
    ctx.alerts.publish(std::move(request.alerts), [batch, head = reply_head(req),
                                                   respond = std::move(respond)](publish_outcome outcome) {
        if (!outcome) return respond(refusal_response(outcome.error(), head));
        json::array out;
        for (auto const& r : *outcome) {
            json::object o{{"alert_id", r.alert_id}, {"seq", r.seq}, {"delivered", r.delivered}};
            if (r.duplicate) o["duplicate"] = true;
            out.push_back(std::move(o));
        }
        respond(json_response(http::status::created, batch ? json::serialize(out) : json::serialize(out[0]), head));
    });
}

// The caller may see the alert: its owner, or an admin.
bool may_read(auth::claims const& who, stored_alert const& a) { return who.is_admin() || who.subject == a.user_id; }

void history(server_context& ctx, http_request&& req, target const& t, responder respond) {
    auto const who = authenticate(ctx, req);
    if (!who) return respond(auth_failure(auth::auth_error(who.error().value()), req));
    history_query q;
    q.user_id = t.param("user_id").value_or(who->is_admin() ? "" : who->subject);
    if (!who->is_admin() && q.user_id != who->subject) return respond(auth_failure(auth::auth_error::forbidden, req));
    auto const status = t.param("status").value_or("all");
    if (status == "unacked")
        q.status = state_filter::open;
    else if (status == "acked")
        q.status = state_filter::acked;
    else if (status != "all")
        return respond(
            json_error(http::status::bad_request, "bad_request", "status must be unacked, acked or all", req));
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
            body += alert_json(rows[i]);
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
        auto const a = ctx.alerts.store().get(id);
        // Someone else's alert answers like a missing one: ids are not an oracle.
        if (!a || !may_read(who, *a)) return json_error(http::status::not_found, "not_found", "no such alert", head);
        if (!frame) return json_response(http::status::ok, alert_json(*a), head);
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

void acknowledge(server_context& ctx, http_request&& req, std::string const& id, responder respond) {
    auto const who = authenticate(ctx, req);
    if (!who) return respond(auth_failure(auth::auth_error(who.error().value()), req));
    ctx.alerts.acknowledge(
        transition_request{id, who->is_admin() ? "" : who->subject, who->subject},
        [id, head = reply_head(req), respond = std::move(respond)](transition_outcome_or_error r) {
            if (!r) return respond(refusal_response(r.error(), head));
            auto const& ack = *r;
            if (ack.outcome == transition_outcome::not_found)
                return respond(json_error(http::status::not_found, "not_found", "no such alert", head));
            json::object o{
                {"alert_id", id}, {"status", "acked"}, {"already_acked", ack.outcome == transition_outcome::unchanged}};
            respond(json_response(http::status::ok, json::serialize(o), head));
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
    if (is_path(*t, {"api", "v1", "alerts", "", "ack"})) {
        note_route(route::alert_ack);
        if (!post) return respond(method_not_allowed(req, "POST"));
        return acknowledge(ctx, std::move(req), t->path[3], std::move(respond));
    }
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
