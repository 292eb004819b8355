#include "net/request_log.hpp"

#include "common/log.hpp"

#include <array>
#include <atomic>

namespace vigil::net {

namespace {

thread_local request_record* current = nullptr;

// The counters are a fixed array of relaxed atomics, not a map behind a
// mutex: every publish passes here. Methods and statuses outside these lists
// are counted as "other".
constexpr std::array<http::verb, 3> counted_methods = {http::verb::get, http::verb::post, http::verb::head};
constexpr std::array<int, 18> counted_statuses = {101, 200, 201, 400, 401, 403, 404, 405, 408,
                                                  413, 415, 426, 429, 431, 500, 503, 505, 0};
constexpr std::size_t method_slots = counted_methods.size() + 1;
constexpr std::size_t status_slots = counted_statuses.size();  // the last (0) is "other"
constexpr std::size_t route_slots = std::size_t(route::count_);

std::array<std::atomic<std::uint64_t>, route_slots * method_slots * status_slots> counters{};

std::size_t method_slot(http::verb m) {
    for (std::size_t i = 0; i < counted_methods.size(); ++i)
        if (counted_methods[i] == m) return i;
    return counted_methods.size();
}

std::size_t status_slot(int status) {
    for (std::size_t i = 0; i + 1 < counted_statuses.size(); ++i)
        if (counted_statuses[i] == status) return i;
    return counted_statuses.size() - 1;
}

}  // namespace

std::string_view route_template(route r) noexcept {
    switch (r) {
        case route::unmatched: return "unmatched";
        case route::health: return "/health";
        case route::metrics: return "/metrics";
        case route::connections: return "/ws/connections";
        case route::connection: return "/ws/connections/{user_id}";
        case route::websocket: return "/ws/alerts/{user_id}";
        case route::ws_ticket: return "/api/v1/ws-ticket";
        case route::alerts: return "/api/v1/alerts";
        case route::alert: return "/api/v1/alerts/{id}";
        case route::alert_frame: return "/api/v1/alerts/{id}/frame";
        case route::alert_ack: return "/api/v1/alerts/{id}/ack";
        case route::dashboard: return "/ (dashboard)";
        case route::openapi: return "/api/v1/openapi.json";
        case route::asyncapi: return "/api/v1/asyncapi.json";
        case route::push_vapid_key: return "/api/v1/push/vapid-public-key";
        case route::push_subscriptions: return "/api/v1/push/subscriptions";
        case route::push_test: return "/api/v1/push/test";
        case route::push_settings: return "/api/v1/push/settings";
        case route::push_quiet_hours: return "/api/v1/push/quiet-hours";
        case route::stream_snooze: return "/api/v1/streams/{stream_id}/snooze";
        case route::alert_resolve: return "/api/v1/alerts/{id}/resolve";
        case route::alert_reopen: return "/api/v1/alerts/{id}/reopen";
        case route::alert_events: return "/api/v1/alerts/{id}/events";
        case route::teams: return "/api/v1/teams";
        case route::team: return "/api/v1/teams/{team}";
        case route::escalation_policies: return "/api/v1/escalation-policies";
        case route::escalation_policy: return "/api/v1/escalation-policies/{name}";
        case route::count_: break;
    }
    return "unmatched";
}

recording_scope::recording_scope(request_record& r) noexcept : previous_(current) { current = &r; }
recording_scope::~recording_scope() { current = previous_; }

void note_route(route r) noexcept {
    if (current) current->matched = r;
}

void note_caller(auth::claims const& who) {
    if (!current) return;
    if (who.api_key)
        current->caller = who.is_admin() ? "admin-api-key" : "publisher-api-key";
    else
        current->caller = who.subject;
}

access_log_mode parse_access_log_mode(std::string_view name) noexcept {
    if (name == "off") return access_log_mode::off;
    if (name == "all") return access_log_mode::all;
    return access_log_mode::errors;
}

std::string_view error_code_of(http_response const& res) noexcept {
    std::string_view const body = res.body();
    constexpr std::string_view prefix = R"({"error":")";
    if (!body.starts_with(prefix)) return {};
    auto const end = body.find('"', prefix.size());
    return end == std::string_view::npos ? std::string_view{} : body.substr(prefix.size(), end - prefix.size());
}

void finish_request(request_record const& r, int status, std::string_view error, access_log_mode mode,
                    boost::asio::ip::address const& remote) {
    counters[(std::size_t(r.matched) * method_slots + method_slot(r.method)) * status_slots + status_slot(status)]
        .fetch_add(1, std::memory_order_relaxed);
    if (mode == access_log_mode::off || (mode == access_log_mode::errors && status < 400)) return;
    if (!log::enabled(log::level::info)) return;
    auto const elapsed = std::chrono::steady_clock::now() - r.started;
    double const ms = double(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()) / 1000.0;
    std::string_view const method = r.method == http::verb::unknown ? "-" : http::to_string(r.method);
    log::info("http.request", {{"method", method},
                               {"route", route_template(r.matched)},
                               {"status", status},
                               {"ms", ms},
                               {"caller", r.caller},
                               {"error", error},
                               {"remote", remote.to_string()}});
}

void render_request_counters(std::string& out) {
    out +=
        "# HELP vigil_http_requests_total HTTP requests answered (WebSocket upgrades: 101 or the refusal), "
        "by method, route template and status.\n# TYPE vigil_http_requests_total counter\n";
    for (std::size_t rt = 0; rt < route_slots; ++rt)
        for (std::size_t m = 0; m < method_slots; ++m)
            for (std::size_t st = 0; st < status_slots; ++st) {
                auto const n = counters[(rt * method_slots + m) * status_slots + st].load(std::memory_order_relaxed);
                if (n == 0) continue;
                out += R"(vigil_http_requests_total{method=")";
                out += m < counted_methods.size() ? http::to_string(counted_methods[m]) : "other";
                out += R"(",route=")";
                out += route_template(route(rt));
                out += R"(",status=")";
                out += st + 1 < status_slots ? std::to_string(counted_statuses[st]) : "other";
                out += "\"} ";
                out += std::to_string(n);
                out += '\n';
            }
}

}  // namespace vigil::net
