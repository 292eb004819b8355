#pragma once
// A connection's health as the quick reference shows it, for the monitoring
// endpoints and the embedding API alike.
#include "common/clock.hpp"
#include "hub/subscriber.hpp"

#include <cstdint>
#include <string>

namespace vigil {

struct connection_report {
    std::string user_id;
    bool connected = true;
    std::string connected_at;  // ISO-8601
    std::int64_t uptime_seconds = 0;
    std::string last_heartbeat;  // ISO-8601
    std::int64_t seconds_since_heartbeat = 0;
};

inline connection_report make_report(connection_stats const& s, std::int64_t now_ms) {
    auto const secs = [&](std::int64_t since) { return now_ms > since ? (now_ms - since) / 1000 : 0; };
    return {s.user_id,
            true,
            iso8601(s.connected_at_ms),
            secs(s.connected_at_ms),
            iso8601(s.last_heartbeat_ms),
            secs(s.last_heartbeat_ms)};
}

}  // namespace vigil
