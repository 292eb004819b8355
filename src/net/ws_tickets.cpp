#include "net/ws_tickets.hpp"

#include <openssl/rand.h>

namespace vigil::net {

std::string ws_tickets::issue(auth::claims const& claims, std::int64_t now) {
    unsigned char bytes[24];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return {};
    static constexpr char hex[] = "0123456789abcdef";
    std::string ticket;
    for (unsigned char b : bytes) {
        ticket.push_back(hex[b >> 4]);
        ticket.push_back(hex[b & 15]);
    }
    std::lock_guard lock{mutex_};
    if (tickets_.size() >= max_outstanding)
        std::erase_if(tickets_, [&](auto const& e) { return e.second.expires_ms <= now; });
    if (tickets_.size() >= max_outstanding) return {};
    tickets_.emplace(ticket, entry{claims, now + lifetime_ms});
    return ticket;
}

std::optional<auth::claims> ws_tickets::redeem(std::string const& ticket, std::int64_t now) {
    std::lock_guard lock{mutex_};
    auto it = tickets_.find(ticket);
    if (it == tickets_.end()) return std::nullopt;
    auto e = std::move(it->second);
    tickets_.erase(it);
    if (e.expires_ms <= now) return std::nullopt;
    return std::move(e.claims);
}

}  // namespace vigil::net
