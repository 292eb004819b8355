#pragma once
// Producers reuse one bearer token for many requests: remembering the tokens
// already verified (bounded, with their expiry still enforced) spares libjwt's
// decode on the publish hot path. One cache per verifier, so a token is never
// trusted under another secret.
#include "auth/claims.hpp"

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace vigil::auth {

class verified_tokens {
public:
    static constexpr std::size_t capacity = 1024;

    std::optional<claims> find(std::string_view token, std::int64_t now_seconds);
    void remember(std::string_view token, claims const& c);

private:
    std::mutex mutex_;
    std::unordered_map<std::string, claims> tokens_;
};

}  // namespace vigil::auth
