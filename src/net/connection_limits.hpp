#pragma once
// Admission limits for WebSocket upgrades: total connections, connections per
// source address, and handshakes per second per source address (a token
// bucket). Thread-safe. Loopback sources are exempt from the per-address
// limits by default: behind a reverse proxy on the same host every client
// would share 127.0.0.1.
#include "config/config.hpp"

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace vigil::net {

class connection_limits {
public:
    enum class verdict { admitted, too_many_connections, too_many_from_address, handshake_rate };

    explicit connection_limits(limit_settings const& limits) : limits_(limits) {}

    // Counts a handshake attempt from `ip` against its rate.
    verdict count_handshake(boost::asio::ip::address const& ip, std::int64_t now_ms);
    // Takes a connection slot for `ip`, held until release(ip).
    verdict reserve(boost::asio::ip::address const& ip);
    void release(boost::asio::ip::address const& ip);

    // Forgets addresses with no connection and a full bucket (memory bound).
    void prune(std::int64_t now_ms);

    std::size_t connections() const;

    static std::string_view reason(verdict v);

private:
    struct per_address {
        std::size_t connections = 0;
        double tokens = 0;
        std::int64_t refilled_ms = 0;
    };
    bool exempt(boost::asio::ip::address const& ip) const;

    limit_settings const& limits_;
    mutable std::mutex mutex_;
    std::size_t total_ = 0;
    std::unordered_map<std::string, per_address> by_address_;
};

}  // namespace vigil::net
