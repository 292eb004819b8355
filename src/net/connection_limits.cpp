#include "net/connection_limits.hpp"

#include <algorithm>

namespace vigil::net {

bool connection_limits::exempt(boost::asio::ip::address const& ip) const {
    return limits_.exempt_loopback && ip.is_loopback();
}

connection_limits::verdict connection_limits::count_handshake(boost::asio::ip::address const& ip, std::int64_t now) {
    if (exempt(ip)) return verdict::admitted;
    std::lock_guard lock{mutex_};
    auto& a = by_address_[ip.to_string()];
    if (a.refilled_ms == 0) {
        a.tokens = limits_.handshake_burst;
        a.refilled_ms = now;
    }
    a.tokens = std::min(limits_.handshake_burst,
                        a.tokens + double(now - a.refilled_ms) * limits_.handshakes_per_second / 1000.0);
    a.refilled_ms = now;
    if (a.tokens < 1.0) return verdict::handshake_rate;
    a.tokens -= 1.0;
    return verdict::admitted;
}

connection_limits::verdict connection_limits::reserve(boost::asio::ip::address const& ip) {
    std::lock_guard lock{mutex_};
    if (limits_.max_connections && total_ >= limits_.max_connections) return verdict::too_many_connections;
    if (!exempt(ip)) {
        auto& a = by_address_[ip.to_string()];
        if (limits_.max_connections_per_address && a.connections >= limits_.max_connections_per_address)
            return verdict::too_many_from_address;
        ++a.connections;
    }
    ++total_;
    return verdict::admitted;
}

void connection_limits::release(boost::asio::ip::address const& ip) {
    std::lock_guard lock{mutex_};
    if (total_ > 0) --total_;
    if (exempt(ip)) return;
    auto it = by_address_.find(ip.to_string());
    if (it != by_address_.end() && it->second.connections > 0) --it->second.connections;
}

void connection_limits::prune(std::int64_t now) {
    std::lock_guard lock{mutex_};
    std::erase_if(by_address_, [&](auto const& entry) {
        auto const& a = entry.second;
        double const tokens = a.tokens + double(now - a.refilled_ms) * limits_.handshakes_per_second / 1000.0;
        return a.connections == 0 && tokens >= limits_.handshake_burst;
    });
}

std::size_t connection_limits::connections() const {
    std::lock_guard lock{mutex_};
    return total_;
}

std::string_view connection_limits::reason(verdict v) {
    switch (v) {
        case verdict::admitted: return "admitted";
        case verdict::too_many_connections: return "too_many_connections";
        case verdict::too_many_from_address: return "too_many_connections_from_address";
        case verdict::handshake_rate: return "too_many_handshakes";
    }
    return "refused";
}

}  // namespace vigil::net
