#pragma once
// What vigil records of each HTTP request: one structured access-log line
// (`http.request`: method, route template, status, duration, caller, the
// refusal's error code; never a token or a query) and the request counters
// by method, route and status behind /metrics.
//
// The route is noted by the dispatch (api_routes) and the caller by
// authenticate() (request_auth), into the record of the request the thread is
// handling: http_session sets it around the synchronous part of the dispatch,
// so handlers need not pass it along.
#include "auth/claims.hpp"
#include "net/http_types.hpp"

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::net {

// The endpoints, as templates (bounded label values for the counters).
enum class route : std::uint8_t {
    unmatched,
    health,
    metrics,
    connections,
    connection,
    websocket,
    ws_ticket,
    alerts,
    alert,
    alert_frame,
    alert_ack,
    dashboard,
    openapi,
    asyncapi,
    push_vapid_key,
    push_subscriptions,
    push_test,
    push_settings,
    push_quiet_hours,
    stream_snooze,
    alert_resolve,
    alert_reopen,
    alert_events,
    teams,
    team,
    escalation_policies,
    escalation_policy,
    count_
};
std::string_view route_template(route r) noexcept;

struct request_record {
    http::verb method = http::verb::unknown;
    route matched = route::unmatched;
    std::string caller;  // the credential's subject, "admin-api-key", ...; empty: none accepted
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// Makes `r` the current thread's record for its lifetime.
class recording_scope {
public:
    explicit recording_scope(request_record& r) noexcept;
    ~recording_scope();
    recording_scope(recording_scope const&) = delete;
    recording_scope& operator=(recording_scope const&) = delete;

private:
    request_record* previous_;
};

// Into the current record, if any (no-ops elsewhere, e.g. in unit tests).
void note_route(route r) noexcept;
void note_caller(auth::claims const& who);

// Which requests get an access-log line (settings.access_log).
enum class access_log_mode { off, errors, all };
access_log_mode parse_access_log_mode(std::string_view name) noexcept;  // errors when unknown

// Counts the request and writes its access-log line (status >= 400 in
// `errors` mode, every request in `all`). `error`: the refusal's code.
// Thread-safe.
void finish_request(request_record const& r, int status, std::string_view error, access_log_mode mode,
                    boost::asio::ip::address const& remote);

// vigil_http_requests_total{method,route,status} in the Prometheus text format.
void render_request_counters(std::string& out);

// The `error` code of a JSON error body ({"error":"...",...}), or empty.
std::string_view error_code_of(http_response const& res) noexcept;

}  // namespace vigil::net
