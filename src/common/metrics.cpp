#include "common/metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

namespace vigil::metrics {

std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void histogram::observe_ns(std::int64_t ns) noexcept {
    double const s = double(ns) / 1e9;
    std::size_t i = 0;
    while (i < bounds.size() && s > bounds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(std::uint64_t(ns > 0 ? ns : 0), std::memory_order_relaxed);
}

namespace {

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void sample(std::string& out, std::string_view name, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " %.17g\n", v);
    out += name;
    out += buf;
}

// CPU seconds, resident bytes, open and allowed descriptors, from /proc: the
// process collector's standard names, so dashboards built for them work.
void render_process(std::string& out) {
    auto simple = [&](std::string_view name, std::string_view type, std::string_view help, double v) {
        header(out, name, type, help);
        sample(out, name, v);
    };
    if (std::ifstream stat{"/proc/self/stat"}; stat) {
        std::string text{std::istreambuf_iterator<char>{stat}, {}};
        // Fields after the command name (which may hold spaces), from its closing parenthesis.
        std::istringstream fields{text.substr(text.rfind(')') + 2)};
        std::vector<std::string> f{std::istream_iterator<std::string>{fields}, {}};
        if (f.size() > 12) {
            double const ticks = double(sysconf(_SC_CLK_TCK));
            simple("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.",
                   (std::stod(f[11]) + std::stod(f[12])) / ticks);  // utime, stime (fields 14, 15)
        }
    }
    if (std::ifstream statm{"/proc/self/statm"}; statm) {
        long pages = 0, resident = 0;
        if (statm >> pages >> resident)
            simple("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                   double(resident) * double(sysconf(_SC_PAGESIZE)));
    }
    std::error_code ec;
    std::size_t fds = 0;
    for (auto it = std::filesystem::directory_iterator{"/proc/self/fd", ec};
         !ec && it != std::filesystem::directory_iterator{}; it.increment(ec))
        ++fds;
    if (!ec)
        simple("process_open_fds", "gauge", "Open file descriptors.",
               double(fds > 0 ? fds - 1 : 0));  // not the iterator's own
    if (rlimit lim{}; getrlimit(RLIMIT_NOFILE, &lim) == 0)
        simple("process_max_fds", "gauge", "Maximum number of open file descriptors.", double(lim.rlim_cur));
}

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "unknown"
#endif
#if defined(BOOST_ASIO_HAS_IO_URING) && defined(BOOST_ASIO_DISABLE_EPOLL)
constexpr char const* io_backend = "io_uring";
#else
constexpr char const* io_backend = "epoll";
#endif

}  // namespace

void histogram::render(std::string& out, std::string_view name, std::string_view help) const {
    header(out, name, "histogram", help);
    std::uint64_t cumulative = 0;
    char buf[96];
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        if (i < bounds.size())
            std::snprintf(buf, sizeof buf, "_bucket{le=\"%g\"} %llu\n", bounds[i], (unsigned long long)cumulative);
        else
            std::snprintf(buf, sizeof buf, "_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
        out += name;
        out += buf;
    }
    sample(out, std::string{name} + "_sum", double(sum_ns_.load(std::memory_order_relaxed)) / 1e9);
    sample(out, std::string{name} + "_count", double(count_.load(std::memory_order_relaxed)));
}

void severity_counter::inc(std::string_view severity) noexcept {
    for (std::size_t i = 0; i < severities.size(); ++i)
        if (severities[i] == severity) return by_severity_[i].inc();
}

void severity_counter::render(std::string& out, std::string_view name, std::string_view help) const {
    header(out, name, "counter", help);
    for (std::size_t i = 0; i < severities.size(); ++i) {
        out += name;
        out += "{severity=\"";
        out += severities[i];
        out += "\"} ";
        out += std::to_string(by_severity_[i].value());
        out += '\n';
    }
}

void severity_duration_histogram::observe_ms(std::string_view severity, std::int64_t ms) noexcept {
    for (std::size_t i = 0; i < severity_counter::severities.size(); ++i) {
        if (severity_counter::severities[i] != severity) continue;
        auto& h = by_severity_[i];
        double const seconds = double(std::max<std::int64_t>(ms, 0)) / 1000.0;
        std::size_t b = 0;
        while (b < bounds.size() && seconds > bounds[b]) ++b;
        h.buckets[b].fetch_add(1, std::memory_order_relaxed);
        h.count.fetch_add(1, std::memory_order_relaxed);
        h.sum_ms.fetch_add(std::uint64_t(std::max<std::int64_t>(ms, 0)), std::memory_order_relaxed);
        return;
    }
}

void severity_duration_histogram::render(std::string& out, std::string_view name, std::string_view help) const {
    header(out, name, "histogram", help);
    char buf[128];
    for (std::size_t i = 0; i < severity_counter::severities.size(); ++i) {
        auto const& h = by_severity_[i];
        auto const sev = severity_counter::severities[i];
        std::uint64_t cumulative = 0;
        for (std::size_t b = 0; b <= bounds.size(); ++b) {
            cumulative += h.buckets[b].load(std::memory_order_relaxed);
            if (b < bounds.size())
                std::snprintf(buf, sizeof buf, "_bucket{severity=\"%.*s\",le=\"%g\"} %llu\n", int(sev.size()),
                              sev.data(), bounds[b], (unsigned long long)cumulative);
            else
                std::snprintf(buf, sizeof buf, "_bucket{severity=\"%.*s\",le=\"+Inf\"} %llu\n", int(sev.size()),
                              sev.data(), (unsigned long long)cumulative);
            out += name;
            out += buf;
        }
        std::snprintf(buf, sizeof buf, "_sum{severity=\"%.*s\"} %g\n", int(sev.size()), sev.data(),
                      double(h.sum_ms.load(std::memory_order_relaxed)) / 1000.0);
        out += name;
        out += buf;
        std::snprintf(buf, sizeof buf, "_count{severity=\"%.*s\"} %llu\n", int(sev.size()), sev.data(),
                      (unsigned long long)h.count.load(std::memory_order_relaxed));
        out += name;
        out += buf;
    }
}

void severity_gauge::set(std::string_view severity, std::int64_t v) noexcept {
    for (std::size_t i = 0; i < severity_counter::severities.size(); ++i)
        if (severity_counter::severities[i] == severity) return by_severity_[i].set(v);
}

void severity_gauge::render(std::string& out, std::string_view name, std::string_view help) const {
    header(out, name, "gauge", help);
    for (std::size_t i = 0; i < severity_counter::severities.size(); ++i) {
        out += name;
        out += "{severity=\"";
        out += severity_counter::severities[i];
        out += "\"} ";
        out += std::to_string(by_severity_[i].value());
        out += '\n';
    }
}

void labeled_counter::inc(std::string_view label) {
    std::lock_guard lock{mutex_};
    auto it = values_.find(label);
    if (it == values_.end()) it = values_.emplace(std::string{label}, 0).first;
    ++it->second;
}

void labeled_counter::render(std::string& out, std::string_view name, std::string_view label_name,
                             std::string_view help) const {
    header(out, name, "counter", help);
    std::lock_guard lock{mutex_};
    for (auto const& [label, v] : values_) {
        out += name;
        out += '{';
        out += label_name;
        out += "=\"";
        out += label;  // close codes and fixed refusal codes: nothing to escape
        out += "\"}";
        sample(out, "", double(v));
    }
}

std::string registry::render(std::size_t connections) const {
    std::string out;
    out.reserve(4096);
    auto simple = [&](std::string_view name, std::string_view type, std::string_view help, double v) {
        header(out, name, type, help);
        sample(out, name, v);
    };
    simple("vigil_connections", "gauge", "Live WebSocket connections on this node.", double(connections));
    simple("vigil_connections_opened_total", "counter", "WebSocket connections opened.",
           double(connections_opened.value()));
    connections_closed.render(out, "vigil_connections_closed_total", "code",
                              "WebSocket connections closed, by close code (1006: no close frame).");
    handshake_failures.render(out, "vigil_handshake_failures_total", "reason",
                              "Refused WebSocket upgrades, by reason.");
    simple("vigil_alerts_published_total", "counter", "Alerts stored (duplicates excluded).",
           double(alerts_published.value()));
    alerts_by_severity.render(out, "vigil_alerts_published_by_severity_total",
                              "Alerts stored (duplicates excluded), by severity.");
    simple("vigil_alerts_duplicate_total", "counter", "Publishes answered from an earlier idempotency key.",
           double(alerts_duplicate.value()));
    simple("vigil_alerts_delivered_total", "counter", "Alerts handed to a live connection when published.",
           double(alerts_delivered.value()));
    simple("vigil_alerts_replayed_total", "counter", "Alerts sent from the store on connect.",
           double(alerts_replayed.value()));
    simple("vigil_alerts_acked_total", "counter", "Alerts acknowledged (first time).", double(alerts_acked.value()));
    time_to_acknowledge.render(out, "vigil_alert_time_to_acknowledge_seconds",
                               "Time from an alert's publish to its first acknowledgement, by severity.");
    time_to_resolve.render(out, "vigil_alert_time_to_resolve_seconds",
                           "Time from an alert's publish to its resolution, by severity.");
    alerts_open.render(out, "vigil_alerts_open", "Open alerts in the store (each once, however many recipients).");
    alert_transitions.render(out, "vigil_alert_transitions_total", "change",
                             "Applied handling changes, by change (acknowledged, resolved, reopened, escalated).");
    simple("vigil_escalations_total", "counter", "Escalation steps fired.", double(escalations.value()));
    simple("vigil_heartbeat_timeouts_total", "counter", "Connections closed with 4000.",
           double(heartbeat_timeouts.value()));
    simple("vigil_slow_consumers_total", "counter", "Connections closed with 4008.", double(slow_consumers.value()));
    simple("vigil_outbox_messages", "gauge", "Messages queued to clients, all connections.",
           double(outbox_messages.value()));
    store_commit.render(out, "vigil_store_commit_seconds", "Duration of one store transaction (group commit).");
    outbox_wait.render(out, "vigil_outbox_wait_seconds", "Time from queueing a message to writing it to the socket.");
    publish_to_delivery.render(out, "vigil_publish_to_delivery_seconds",
                               "Time from an alert's commit to its write on a live connection.");
    store_errors.render(out, "vigil_store_errors_total", "kind",
                        "Store engine calls that failed, by kind (unreachable, timeout, query).");
    simple("vigil_store_connections_opened_total", "counter",
           "Connections the store engine opened to its server (PostgreSQL).", double(store_connections_opened.value()));
    bus_errors.render(out, "vigil_bus_errors_total", "kind",
                      "Bus engine errors, by kind (connect, timeout, disconnect, probe, decode, command).");
    simple("vigil_bus_reconnects_total", "counter", "Bus connections made again after a loss.",
           double(bus_reconnects.value()));
    simple(
        "vigil_bus_publish_dropped_total", "counter",
        "Publishes not sent to the other nodes (link down too long, or too large); receivers read them from the store.",
        double(bus_publish_dropped.value()));
    simple("vigil_bus_received_total", "counter", "Alerts and control messages received from other nodes.",
           double(bus_received.value()));
    bus_publish.render(out, "vigil_bus_publish_seconds", "Time from a bus publish to the bus server accepting it.");
    simple("vigil_push_sent_total", "counter", "Web Push messages a push service accepted.", double(push_sent.value()));
    push_failed.render(out, "vigil_push_failed_total", "reason",
                       "Web Push messages not delivered to the push service, by reason.");
    simple("vigil_push_subscriptions_removed_total", "counter",
           "Push subscriptions forgotten because their push service answered 404 or 410.",
           double(push_subscriptions_removed.value()));
    push_latency.render(out, "vigil_push_latency_seconds",
                        "Time from an alert's commit (or acknowledgement) to the push service's answer, retries "
                        "included.");
    header(out, "vigil_build_info", "gauge", "The running build: version and I/O backend.");
    out += "vigil_build_info{version=\"" VIGIL_VERSION "\",io=\"";
    out += io_backend;
    out += "\"} 1\n";
    if (auto const not_after = tls_not_after_seconds.value(); not_after != 0)
        simple("vigil_tls_certificate_expiry_seconds", "gauge",
               "When the TLS certificate in use expires (notAfter), Unix time; it changes on a SIGHUP reload.",
               double(not_after));
    render_process(out);
    return out;
}

registry& global() {
    static registry r;
    return r;
}

}  // namespace vigil::metrics
