#pragma once
// The heartbeat sweep: one timer, on one I/O context, that walks the
// connection registry shard by shard, pinging connections when due and
// closing stale and expired ones; it also prunes the admission limits' idle
// addresses every minute and, on a bus linking several nodes, checks every
// 5 s which node owns each local user's connection (catching a lost
// "replaced" message). One timer for all connections keeps per-connection
// state small (docs/decisions/0007-heartbeat-sweep.md).
//
// Not thread-safe: start() and stop() run on the timer's context (or before
// it runs); everything referenced must outlive the last tick, i.e. stop()
// and the context's threads being joined.
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <cstdint>

namespace vigil {

class alert_bus;
class alert_service;
class connection_registry;
namespace net {
class connection_limits;
}

class heartbeat_sweep {
public:
    // ping_interval_s and heartbeat_timeout_s as in settings: a pass takes a
    // quarter of the shorter, at most 5 s.
    heartbeat_sweep(boost::asio::io_context& io, connection_registry& registry, net::connection_limits& limits,
                    alert_service& alerts, alert_bus const& bus, int ping_interval_s, int heartbeat_timeout_s);

    void start();  // schedules the first tick
    void stop();   // cancels the pending tick; no tick runs after its handler

private:
    void schedule();

    connection_registry& registry_;
    net::connection_limits& limits_;
    alert_service& alerts_;
    alert_bus const& bus_;
    int ping_interval_s_;
    int heartbeat_timeout_s_;
    boost::asio::steady_timer timer_;
    std::int64_t next_limits_prune_ms_ = 0;
    std::int64_t next_ownership_check_ms_ = 0;
    std::size_t shard_ = 0;
    std::uint64_t published_at_last_tick_ = 0;  // alerts_published
};

}  // namespace vigil
