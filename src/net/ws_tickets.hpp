#pragma once
// Short-lived single-use connection tickets, for deployments that do not want
// JWTs in URLs: POST /api/v1/ws-ticket (with the user's token in a header)
// answers a random ticket valid for one upgrade, `?ticket=`, within 30 s.
// In memory: a ticket is good on the node that issued it.
#include "auth/claims.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace vigil::net {

class ws_tickets {
public:
    static constexpr std::int64_t lifetime_ms = 30'000;
    static constexpr std::size_t max_outstanding = 100'000;

    // A new ticket for these claims; empty if too many are outstanding.
    std::string issue(auth::claims const& claims, std::int64_t now_ms);

    // The claims of a valid ticket, which is used up.
    std::optional<auth::claims> redeem(std::string const& ticket, std::int64_t now_ms);

private:
    struct entry {
        auth::claims claims;
        std::int64_t expires_ms;
    };
    std::mutex mutex_;
    std::unordered_map<std::string, entry> tickets_;
};

}  // namespace vigil::net
