#include "app/heartbeat_sweep.hpp"

#include "alerts/alert_service.hpp"
#include "bus/alert_bus.hpp"
#include "common/clock.hpp"
#include "common/metrics.hpp"
#include "hub/connection_registry.hpp"
#include "net/connection_limits.hpp"

#include <algorithm>
#include <chrono>

namespace vigil {

heartbeat_sweep::heartbeat_sweep(boost::asio::io_context& io, connection_registry& registry,
                                 net::connection_limits& limits, alert_service& alerts, alert_bus const& bus,
                                 int ping_interval_s, int heartbeat_timeout_s)
    : registry_(registry),
      limits_(limits),
      alerts_(alerts),
      bus_(bus),
      ping_interval_s_(ping_interval_s),
      heartbeat_timeout_s_(heartbeat_timeout_s),
      timer_(io) {}

void heartbeat_sweep::start() { schedule(); }

void heartbeat_sweep::stop() { timer_.cancel(); }

// With the defaults a ping leaves 30-35 s after the last and a silent client
// is closed 60-65 s after its last heartbeat (a pass visits every connection:
// at 19k, 2.5 s passes were ~14 % of the idle CPU, docs/decisions/0007-heartbeat-sweep.md).
//
// A pass is cut into ticks, and how finely depends on whether alerts are
// flowing. A tick's pings (and their answers) take both cores for a few
// milliseconds, and an alert that arrives meanwhile waits: 16 ticks per
// pass put p99 at 19k connections at 4-7 ms, one shard per tick (ticks
// >= 5 ms apart) at 1-3 ms. But each tick costs wake-ups of every thread,
// and with no alert to protect fine ticks tripled the idle CPU (1.6 % of a
// core -> 5-8 % at 19k connections and 30 s pings), so an idle server
// sweeps in 16 coarse ticks per pass.
void heartbeat_sweep::schedule() {
    constexpr std::int64_t shards = connection_registry::shard_count, coarse_ticks = 16, min_tick_us = 5000;
    auto const pass_us =
        std::int64_t(std::clamp(std::min(ping_interval_s_, heartbeat_timeout_s_) * 1000 / 4, 50, 5000)) * 1000;
    auto const published = metrics::global().alerts_published.value();
    bool const alerts_flowing = published != published_at_last_tick_;
    published_at_last_tick_ = published;
    auto const coarse = shards / coarse_ticks;
    auto const fine = std::clamp<std::int64_t>((shards * min_tick_us + pass_us - 1) / pass_us, 1, coarse);
    auto const shards_per_tick = alerts_flowing ? fine : coarse;
    timer_.expires_after(std::chrono::microseconds{pass_us * shards_per_tick / shards});
    timer_.async_wait([this, shards_per_tick](boost::system::error_code ec) {
        if (ec) return;
        auto const now = now_ms();
        for (std::int64_t i = 0; i < shards_per_tick; ++i) {
            registry_.tick_shard(shard_, now);
            shard_ = (shard_ + 1) % connection_registry::shard_count;
        }
        if (now >= next_limits_prune_ms_) {
            limits_.prune(now);
            next_limits_prune_ms_ = now + 60'000;
        }
        if (bus_.status().engine != "local" && now >= next_ownership_check_ms_) {
            alerts_.check_ownership();  // catches a lost "replaced" message
            next_ownership_check_ms_ = now + 5'000;
        }
        schedule();
    });
}

}  // namespace vigil
