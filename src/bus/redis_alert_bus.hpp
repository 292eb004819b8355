#pragma once
// The Redis engine of the alert bus (bus/alert_bus.hpp has the contract):
// nodes that share one store reach each other through one Redis server,
// which carries live alerts and coordination only, never the only copy of
// anything (docs/decisions/0020-redis-bus.md).
//
// - Alerts go out with PUBLISH on one of redis_wire::shard_count channels,
//   chosen by a stable hash of the user id; control messages on one control
//   channel. One subscriber connection per node listens to all of them; one
//   command connection sends, pipelined (a PUBLISH never waits for the reply
//   to the one before).
// - Presence: every presence_interval the node writes its live connections
//   (bus_handler::local_connections) as an immutable snapshot under a new
//   generation, only when they changed, and reads the other nodes' changed
//   snapshots into the cache that connected_elsewhere() and
//   remote_connections() answer from without asking Redis. Node liveness is
//   kept in a sorted set scored with Redis's clock. A node that stops
//   refreshing drops out of the others' view after presence_ttl plus one
//   interval (12 s by default); stop() withdraws at once.
// - Both connections reconnect by themselves with jittered exponential
//   backoff. A probe, published on the node's own probe channel every
//   probe_interval, must come back through the subscriber connection within
//   probe_timeout of Redis accepting it; otherwise the subscriber connection
//   is taken for broken and replaced.
//
// Threads: the engine runs on an io_context and thread of its own, started by
// start() and joined by stop(). publish() and publish_control() only format
// the message and queue it (never blocking on the network); the handler's
// on_alert for the node's own publish runs inside publish(), on the caller's
// thread. Every other handler call (alerts and controls from other nodes,
// on_link_changed, local_connections) runs on the engine's thread. Its own
// thread keeps hiredis's single-threaded state off the server's I/O threads
// without a strand around every call, and lets stop() know when the last
// handler call has returned.
//
// The link: down until both connections work and the subscriptions are
// confirmed; status().up is false from start() until then. on_link_changed
// reports each change once: true when it first comes up, or false first if
// a connection attempt fails before that (Redis unreachable at start), then
// false, true, ... ; status() says why it is down.
// Publishes made while the command connection is down wait (up to
// max_queued messages / max_queued_bytes) and go out when it is back; beyond
// that they are dropped and counted (the store has them: receivers read gaps
// from it).
#include "bus/alert_bus.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace vigil {

struct redis_bus_options {
    std::string url = "redis://127.0.0.1:6379";  // redis_url.hpp
    std::string node_id;           // this node's name in the cluster: 1-128 bytes, no spaces or control characters
    std::string prefix = "vigil";  // of every key and channel, so clusters can share a server

    std::chrono::milliseconds connect_timeout{2000};  // TCP, AUTH, SELECT, PING answered
    std::chrono::milliseconds command_timeout{2000};  // a reply; beyond it the connection is replaced
    std::chrono::milliseconds reconnect_min{100};     // backoff: doubles per failed attempt,
    std::chrono::milliseconds reconnect_max{2000};    // up to this, each delay jittered down to half
    std::chrono::milliseconds presence_interval{2000};
    std::chrono::milliseconds presence_ttl{10000};  // a node silent this long is gone
    // A change in heartbeats alone is written at most this often (connections
    // opening or closing are written at the next interval): monitoring's
    // last_heartbeat of another node's connection may be this much older.
    std::chrono::milliseconds heartbeat_refresh{10000};
    std::chrono::milliseconds probe_interval{2000};
    std::chrono::milliseconds probe_timeout{3000};
    std::size_t max_queued = 100'000;  // publishes waiting for the command connection
    std::size_t max_queued_bytes = 64 * 1024 * 1024;
    std::size_t max_in_flight = 100'000;  // commands sent and not yet answered
};

class redis_alert_bus final : public alert_bus {
public:
    // Throws std::invalid_argument for a malformed URL or node id. Connects
    // nothing until start().
    explicit redis_alert_bus(redis_bus_options options);
    ~redis_alert_bus() override;  // stop()

    std::string const& node_id() const noexcept override;
    // Starts the engine's thread and connects; returns at once (the link
    // comes up in the background, reported by on_link_changed(true)).
    void start(bus_handler& handler) override;
    // Sends what is queued, withdraws this node's presence (waiting at most
    // command_timeout for Redis), closes both connections and joins the
    // engine's thread. Must not be called from a handler.
    void stop() override;
    void publish(bus_alert const& alert) override;
    void publish_control(bus_control const& message) override;
    bool connected_elsewhere(std::string_view user_id) const override;
    // Runs `done` at once, on the caller's thread, from the cache.
    void remote_connections(std::function<void(std::vector<node_connection>)> done) const override;
    bus_status status() const override;

    struct engine;

private:
    std::unique_ptr<engine> engine_;
    std::atomic<bool> started_{false};
    std::atomic<bool> stopped_{false};
};

}  // namespace vigil
