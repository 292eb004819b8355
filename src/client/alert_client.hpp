#pragma once
// A C++ client for vigil with the browser client's behaviour: reconnects with
// exponential backoff and jitter (1 s -> 30 s), heartbeats (JSON ping every
// 30 s, gives up on a socket silent for 60 s), answers server pings, resumes
// with ?since= the last seq seen and &epoch= its numbering, drops duplicates,
// starts over when the server's numbering changed (a new epoch: its seqs are
// new, even those below the last one seen), and stops rather than fighting a
// newer connection (4001) or retrying refused credentials (401/403).
//
//   vigil::client::alert_client c{options, [](boost::json::object const& alert) { ... }};
//   c.run();  // blocks until c.stop() or a terminal refusal
#include "client/client_tls.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace vigil::client {

struct client_options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8000;
    tls_options tls;  // wss://: verified against the system's CAs or tls.ca_file
    std::string user_id;
    std::function<std::string()> get_token;  // called before every connect
    std::optional<std::uint64_t> since;      // first connect; later ones resume from the last seq
    std::string since_epoch;                 // the epoch `since` was numbered in (empty: unknown)
    bool auto_ack = false;                   // ack every alert as it arrives
    // alert_updated messages (an alert acknowledged, resolved, reopened or
    // escalated by anyone: docs/handling.md), as the server sent them; none: ignored.
    std::function<void(boost::json::object const& update, std::string_view text)> on_update;
    std::chrono::milliseconds initial_reconnect_delay{1000};
    std::chrono::milliseconds max_reconnect_delay{30000};
    double jitter = 0.5;  // each delay is drawn in [base*(1-j), base*(1+j)], capped
    std::chrono::milliseconds heartbeat_interval{30000};
    std::chrono::milliseconds heartbeat_timeout{60000};
};

// The delay before reconnect attempt `attempt` (1-based), for a uniform
// random number `u` in [0, 1). Pure.
std::chrono::milliseconds backoff_delay(int attempt, client_options const& o, double u);

enum class client_status { connecting, open, reconnecting, stopped };

struct status_event {
    client_status status;
    std::string detail;  // why (close code, HTTP status, error), for humans
    int attempt = 0;
};

class alert_client {
public:
    // The alert parsed, and its message as the server sent it (the detection's
    // numbers as the producer wrote them, which a re-serialised object would change).
    using alert_handler = std::function<void(boost::json::object const& alert, std::string_view text)>;
    using status_handler = std::function<void(status_event const&)>;

    alert_client(client_options options, alert_handler on_alert, status_handler on_status = {});
    alert_client(client_options options, std::function<void(boost::json::object const& alert)> on_alert,
                 status_handler on_status = {})
        : alert_client(
              std::move(options),
              alert_handler{[f = std::move(on_alert)](boost::json::object const& a, std::string_view) { f(a); }},
              std::move(on_status)) {}
    ~alert_client();

    // Runs the connection until stop(), a 4001, or a 401/403 refusal.
    void run();
    void stop();                            // thread-safe
    void ack(std::string const& alert_id);  // thread-safe; sent when connected
    std::uint64_t last_seq() const;         // thread-safe
    std::string last_epoch() const;         // thread-safe; the epoch of last_seq

    struct impl;  // opaque: the session over ws:// or wss:// (alert_client.cpp)

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace vigil::client
