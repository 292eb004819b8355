#pragma once
// The load generator's engine: one epoll loop that holds many authenticated
// WebSocket clients (answering pings, acking when asked) and a few HTTP/1.1
// keep-alive publishers, and accounts for every alert it published: latency
// at receipt, loss, duplicates, order.
//
// No Boost here (the load generator must stay cheap to build and to run). One
// engine is one thread; vigil_load runs one engine per process (per ~19k
// sockets), vigil_embedded_bench runs one next to an in-process server.
//
// Alerts are recognised by their `detection`, which the publisher fills:
//   {"kind":"bench","t_us":<CLOCK_MONOTONIC µs at send>,"bi":<bench id>,"ph":<phase>,...}
// CLOCK_MONOTONIC is system-wide, so latency is exact across processes.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vbench {

// CLOCK_MONOTONIC in microseconds.
std::int64_t mono_us();

// Log-linear histogram of microseconds: 1 µs buckets below 2.048 ms, then 64
// sub-buckets per power of two (< 1.6 % error) up to ~68 s. Mergeable.
struct histogram {
    static constexpr int linear = 2048;
    static constexpr int sub = 64;
    static constexpr int octaves = 26;
    static constexpr int size = linear + octaves * sub;
    std::array<std::uint64_t, size> counts{};
    std::uint64_t n = 0;
    std::int64_t max = 0;
    double sum = 0;

    void add(std::int64_t us);
    void merge(histogram const& o);
    double percentile(double p) const;  // µs; 0 when empty
    double mean() const { return n ? sum / double(n) : 0; }
};

// What one phase of one engine saw. Trivially copyable: workers send it to
// the coordinator through a pipe, which adds them up (merge()).
struct phase_stats {
    // Connections.
    std::uint64_t conns_target = 0;       // clients this engine should hold
    std::uint64_t conns_open = 0;         // open at the end of the phase
    std::uint64_t handshakes_ok = 0;      // 101 answers in this phase
    std::uint64_t handshake_refused = 0;  // any other answer
    std::uint64_t connect_errors = 0;     // TCP connect/IO errors before the upgrade
    std::uint64_t disconnects = 0;        // connection lost without a close frame
    std::uint64_t server_closes = 0;      // close frames received
    std::uint64_t close_4008 = 0, close_4000 = 0, close_4001 = 0, close_1001 = 0, close_other = 0;
    std::uint64_t reconnects = 0;
    std::int64_t connect_first_us = 0, connect_last_us = 0;  // first connect() .. last 101
    std::int64_t storm_start_us = 0, storm_end_us = 0;       // all dropped .. all back
    std::uint64_t storm_conns = 0;
    // Heartbeats.
    std::uint64_t json_pings = 0, ws_pings = 0;
    // Publishing.
    std::uint64_t pub_requests = 0;                  // requests answered
    std::uint64_t pub_http_errors = 0;               // answered, but not 201
    std::uint64_t pub_conn_errors = 0;               // publisher connection lost with a request in flight
    std::uint64_t alerts_sent = 0;                   // alerts written in requests
    std::uint64_t alerts_confirmed = 0;              // alerts answered 201
    std::uint64_t alerts_undelivered = 0;            // answered "delivered": false (stored, user not live)
    std::int64_t pub_first_us = 0, pub_last_us = 0;  // first request written .. last answer
    histogram pub_rtt;                               // request -> answer
    // Receiving.
    std::uint64_t received = 0;  // anomaly_detected messages of this phase
    std::uint64_t received_unique = 0;
    std::uint64_t received_confirmed = 0;  // unique and confirmed (the loss check's numerator)
    std::uint64_t duplicates = 0;
    std::uint64_t lost = 0;          // confirmed, never received by the end of the drain
    std::uint64_t out_of_order = 0;  // a seq not above the connection's last one
    std::uint64_t stale = 0;         // an alert of another phase/run (replay of old data)
    std::uint64_t replayed = 0;      // marked "replayed": true
    std::uint64_t unparsable = 0;    // anomaly_detected without our fields
    std::uint64_t acks_sent = 0, acks_ok = 0;
    std::uint64_t ws_errors = 0;  // {"type":"error"} messages
    std::int64_t recv_first_us = 0, recv_last_us = 0;
    histogram latency;           // live alerts on normal clients: publish -> receipt
    histogram latency_slow;      // live alerts on slow clients
    histogram latency_replayed;  // alerts that came back through replay
    std::int64_t phase_start_us = 0, phase_end_us = 0;

    void merge(phase_stats const& o);
    std::uint64_t errors() const {
        return handshake_refused + connect_errors + pub_http_errors + pub_conn_errors + ws_errors + unparsable +
               out_of_order;
    }
};

struct engine_config {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;          // the WebSocket clients'
    std::uint16_t publish_port = 0;  // the publishers' (another node of a cluster); 0: `port`
    std::string secret;              // HS256; tokens are minted for every user
    std::string user_prefix;         // user i is user_prefix + i
    std::uint32_t first_user = 0;
    std::uint32_t users = 0;             // clients this engine holds
    int source_addresses = 16;           // bind to 127.0.0.1 .. 127.0.0.N round-robin (ephemeral ports)
    std::uint32_t connect_window = 256;  // handshakes in flight at once
    double ack_ratio = 0;                // fraction of alerts acknowledged
    double slow_fraction = 0;            // fraction of clients that read slowly
    std::uint32_t slow_bytes_per_s = 4096;
    int publishers = 16;           // HTTP keep-alive publish connections
    std::uint32_t pad_bytes = 64;  // extra bytes in each detection (a realistic payload)
    bool reconnect = true;         // reconnect (with ?since=last seq) after the server closes
    bool verbose = false;
    // When set, one line per live alert received: "publish_us latency_us"
    // (CLOCK_MONOTONIC), to see when slow deliveries happen, not only how many.
    std::string latency_log;
};

// Set by an in-process publisher (the embedding API bench); read by the engine.
struct external_feed {
    std::atomic<std::uint64_t> published{0};  // alerts handed to the server so far
    std::atomic<std::uint64_t> confirmed{0};  // ... whose publish callback reported success
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> settled{0};      // confirmed + failed, to wait on
    std::atomic<std::uint64_t> wake_at{~0ull};  // the publisher sleeps on `settled` until it reaches this
    std::atomic<bool> armed{false};             // the engine is ready to count: start publishing
    std::atomic<bool> done{false};              // no more will come
    std::atomic<std::int64_t> first_us{0}, last_us{0};
};

struct publish_spec {
    std::uint32_t phase = 1;            // tags this phase's alerts
    std::uint64_t count = 0;            // alerts to publish (bench ids 0..count-1; bounded)
    std::uint32_t batch = 1;            // alerts per HTTP request (1: single-alert body)
    double rate = 0;                    // alerts/s, paced; 0: as fast as answers come back
    double max_seconds = 30;            // publishing stops after this, whatever is left
    double drain_seconds = 5;           // then wait at most this long for the last deliveries
    double storm_at_seconds = -1;       // >= 0: drop every client (RST) at this time and reconnect all
    external_feed* external = nullptr;  // not HTTP: an in-process publisher feeds the alerts
};

class engine {
public:
    explicit engine(engine_config cfg);
    ~engine();
    engine(engine const&) = delete;
    engine& operator=(engine const&) = delete;

    // Opens clients 0..n-1 of this engine (those not yet open), waits until all
    // are open or timeout_s passes.
    phase_stats connect(std::uint32_t n, double timeout_s);
    // Keeps everything alive (answers pings) for this long.
    phase_stats hold(double seconds);
    // Publishes (or receives an external publisher's alerts) and drains.
    phase_stats publish(publish_spec const& spec);
    // Runs the loop until `fd` is readable (a coordinator's command) or timeout.
    bool wait_readable(int fd, double timeout_s);
    // Closes every client with a close frame.
    void close_all(double timeout_s);

    std::uint32_t open_count() const;
    std::string const& user_name(std::uint32_t local) const;
    // The detection JSON an in-process publisher should send for bench id `bi`.
    std::string detection_for(std::uint64_t bi, std::uint32_t phase, std::int64_t t_us) const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace vbench
