#pragma once
// Process-wide counters and histograms, exposed at GET /metrics in the
// Prometheus text format. Lock-free on the hot paths (relaxed atomics); the
// label sets that grow at run time (close codes, handshake refusals) are small
// maps behind a mutex, touched once per connection.
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace vigil::metrics {

class counter {
public:
    void inc(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

class gauge {
public:
    void add(std::int64_t n) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
    void set(std::int64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
    std::int64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> v_{0};
};

// Buckets from 50 µs to 10 s, roughly x2.5 apart.
class histogram {
public:
    static constexpr std::array<double, 12> bounds = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                      0.005,   0.01,   0.025,   0.1,    1.0,   10.0};
    void observe_ns(std::int64_t ns) noexcept;
    void render(std::string& out, std::string_view name, std::string_view help) const;

private:
    std::array<std::atomic<std::uint64_t>, bounds.size() + 1> buckets_{};
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_ns_{0};
};

// A counter per label value, for label sets that are small and slow-moving.
class labeled_counter {
public:
    void inc(std::string_view label);
    void render(std::string& out, std::string_view name, std::string_view label_name, std::string_view help) const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::uint64_t, std::less<>> values_;
};

// A counter per alert severity (critical, high, medium, low): counted per
// stored alert, so a relaxed atomic each rather than labeled_counter's lock
// and map. Another value is not counted (validation admits none).
class severity_counter {
public:
    static constexpr std::array<std::string_view, 4> severities{"critical", "high", "medium", "low"};
    void inc(std::string_view severity) noexcept;
    void render(std::string& out, std::string_view name, std::string_view help) const;

private:
    std::array<counter, severities.size()> by_severity_;
};

// Human reaction times by severity: from seconds to hours, one histogram
// per severity, observed once per alert.
class severity_duration_histogram {
public:
    static constexpr std::array<double, 11> bounds = {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 14400};
    void observe_ms(std::string_view severity, std::int64_t ms) noexcept;
    void render(std::string& out, std::string_view name, std::string_view help) const;

private:
    struct one {
        std::array<std::atomic<std::uint64_t>, bounds.size() + 1> buckets{};
        std::atomic<std::uint64_t> count{0};
        std::atomic<std::uint64_t> sum_ms{0};
    };
    std::array<one, severity_counter::severities.size()> by_severity_;
};

// A gauge per severity, set from a count the store makes.
class severity_gauge {
public:
    void set(std::string_view severity, std::int64_t v) noexcept;
    void render(std::string& out, std::string_view name, std::string_view help) const;

private:
    std::array<gauge, severity_counter::severities.size()> by_severity_;
};

struct registry {
    counter connections_opened;
    labeled_counter connections_closed;  // by close code
    labeled_counter handshake_failures;  // by refusal code
    counter alerts_published;
    severity_counter alerts_by_severity;  // stored, duplicates excluded
    counter alerts_duplicate;
    counter alerts_delivered;  // handed to a live connection when published
    counter alerts_replayed;
    counter alerts_acked;
    // Handling (docs/handling.md): from publish to the first acknowledgement
    // and to resolution; open alerts (the store's count, refreshed now and
    // then); applied changes by kind; escalation steps fired.
    severity_duration_histogram time_to_acknowledge;
    severity_duration_histogram time_to_resolve;
    severity_gauge alerts_open;
    labeled_counter alert_transitions;
    counter escalations;
    counter heartbeat_timeouts;
    counter slow_consumers;
    gauge outbox_messages;   // queued to clients, all connections
    histogram store_commit;  // one store transaction
    // A networked store engine (PostgreSQL): failed calls by kind
    // (unreachable, timeout, query), and connections it opened (a steady
    // count after start-up; a rise is the server restarting or cutting them).
    labeled_counter store_errors;
    counter store_connections_opened;
    histogram outbox_wait;          // queued -> written to the socket
    histogram publish_to_delivery;  // commit -> written to the socket, live alerts
    gauge tls_not_after_seconds;    // the TLS certificate in use: its notAfter, Unix time (0: no TLS)
    // The bus engine's link to the other nodes (Redis): what failed, by kind
    // (connect, timeout, disconnect, probe, decode, command); connections made
    // again after a loss; publishes dropped (not sent); messages received from
    // other nodes; publish() -> Redis accepted the PUBLISH.
    labeled_counter bus_errors;
    counter bus_reconnects;
    counter bus_publish_dropped;
    counter bus_received;
    histogram bus_publish;
    // Web Push (docs/notifications.md): pushes the push services took;
    // pushes that failed, by reason (gone, rejected, gave_up, queue_full,
    // no_key, ...); subscriptions forgotten because the push service said
    // they are gone; from an alert's commit (or ack) to the push service's
    // answer, retries included.
    counter push_sent;
    labeled_counter push_failed;
    counter push_subscriptions_removed;
    histogram push_latency;

    // `connections` is the registry's current count, supplied by the caller.
    // Also renders build info and the process's CPU, memory and descriptors.
    std::string render(std::size_t connections) const;
};

registry& global();

// Monotonic nanoseconds, for latency measurements.
std::int64_t now_ns() noexcept;

}  // namespace vigil::metrics
