#include "net/ws_admission.hpp"

#include "alerts/alert_validation.hpp"
#include "common/clock.hpp"
#include "common/metrics.hpp"
#include "net/request_auth.hpp"
#include "net/request_target.hpp"

#include <algorithm>

namespace vigil::net {

namespace {

// Empty (not given), or what a store could have named its epoch.
bool valid_epoch(std::string_view e) {
    return e.size() <= 64 && std::all_of(e.begin(), e.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                      c == '-';
           });
}

}  // namespace

boost::system::result<ws_admission, http_response> admit_websocket(server_context& ctx, http_request const& req,
                                                                   boost::asio::ip::address const& remote) {
    auto refuse = [](http_response res, std::string_view reason) {
        metrics::global().handshake_failures.inc(reason);
        return res;
    };
    auto const now = now_ms();
    if (ctx.limits.count_handshake(remote, now) != connection_limits::verdict::admitted) {
        auto res = json_error(http::status::too_many_requests, "too_many_handshakes",
                              "too many connection attempts from this address; retry later", req);
        res.set(http::field::retry_after, "1");
        return refuse(std::move(res), "too_many_handshakes");
    }
    auto const t = parse_request_target(req.target());
    if (!t)
        return refuse(json_error(http::status::bad_request, "bad_request", "malformed request target", req),
                      "bad_request");
    if (!is_path(*t, {"ws", "alerts", ""}))
        return refuse(
            json_error(http::status::not_found, "not_found", "the WebSocket endpoint is /ws/alerts/{user_id}", req),
            "not_found");
    if (ctx.shutting_down)
        return refuse(json_error(http::status::service_unavailable, "shutting_down", "server is shutting down", req),
                      "shutting_down");
    // RFC 6455 4.2.1, checked here so that every refusal is JSON (Beast answers
    // these in plain text) and because Beast 1.81 checks only the key's length.
    if (req.find(http::field::host) == req.end())
        return refuse(json_error(http::status::bad_request, "bad_request", "Host header required", req), "bad_request");
    if (req[http::field::sec_websocket_version] != "13") {
        auto res = json_error(http::status::upgrade_required, "unsupported_websocket_version",
                              "only WebSocket version 13 is supported", req);
        res.set(http::field::sec_websocket_version, "13");
        res.set(http::field::upgrade, "websocket");
        return refuse(std::move(res), "unsupported_websocket_version");
    }
    if (!valid_websocket_key(req[http::field::sec_websocket_key]))
        return refuse(json_error(http::status::bad_request, "invalid_websocket_key",
                                 "Sec-WebSocket-Key must be 16 bytes in base64", req),
                      "invalid_websocket_key");
    if (auto const& allowed = ctx.config.allowed_origins; !allowed.empty() && !ctx.config.dev) {
        if (auto const it = req.find(http::field::origin); it != req.end()) {
            std::string_view const origin = it->value();
            bool const ok = std::any_of(allowed.begin(), allowed.end(),
                                        [&](std::string const& o) { return o == "*" || o == origin; });
            if (!ok)
                return refuse(json_error(http::status::forbidden, "origin_not_allowed",
                                         "this Origin may not open alert connections", req),
                              "origin_not_allowed");
        }
    }
    ws_admission a;
    a.user_id = t->path[2];
    if (!valid_user_id(a.user_id))
        return refuse(json_error(http::status::bad_request, "invalid_user_id",
                                 "user_id must be 1-128 characters of [A-Za-z0-9._@:|+-]", req),
                      "invalid_user_id");
    auto const auth_refusal = [&](auth::auth_error e) {
        return refuse(auth_failure(e, req), auth::error_code_name(e));
    };
    if (auto const ticket = t->param("ticket")) {
        auto claims = ctx.tickets.redeem(*ticket, now);
        if (!claims)
            return refuse(
                json_error(http::status::unauthorized, "invalid_ticket", "ticket unknown, used or expired", req),
                "invalid_ticket");
        a.claims = std::move(*claims);
    } else {
        std::string token = t->param("token").value_or("");
        if (token.empty()) token = std::string{bearer_token(req)};
        if (token.empty()) return auth_refusal(auth::auth_error::missing_token);
        auto claims = ctx.verifier.verify(token, now / 1000);
        if (!claims) return auth_refusal(auth::auth_error(claims.error().value()));
        a.claims = std::move(*claims);
    }
    if (a.claims.subject != a.user_id) return auth_refusal(auth::auth_error::wrong_user);
    if (auto const since = t->param("since")) {
        auto const seq = parse_uint(*since);
        if (!seq)
            return refuse(json_error(http::status::bad_request, "bad_request", "since must be a sequence number", req),
                          "bad_request");
        a.since = stream_position{*seq, t->param("epoch").value_or("")};
        if (!valid_epoch(a.since->epoch))
            return refuse(json_error(http::status::bad_request, "bad_request",
                                     "epoch must be the one the server sent (1-64 characters of [A-Za-z0-9_-])", req),
                          "bad_request");
    }
    if (auto const v = ctx.limits.reserve(remote); v != connection_limits::verdict::admitted) {
        bool const total = v == connection_limits::verdict::too_many_connections;
        auto res = json_error(
            total ? http::status::service_unavailable : http::status::too_many_requests, connection_limits::reason(v),
            total ? "this server is at its connection limit" : "too many connections from this address", req);
        res.set(http::field::retry_after, "5");
        return refuse(std::move(res), connection_limits::reason(v));
    }
    return a;
}

}  // namespace vigil::net
