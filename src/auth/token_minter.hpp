#pragma once
// Mints HS256 development tokens (`vigil token`, the demo link, tests).
#include <cstdint>
#include <string>

namespace vigil::auth {

// `sub` = user, `exp` = now + ttl, `iat` = now, and `role` when not empty.
// Throws std::runtime_error if libjwt cannot sign.
std::string mint_hs256(std::string const& secret, std::string const& user, std::string const& role,
                       std::int64_t ttl_seconds, std::int64_t now_seconds);

}  // namespace vigil::auth
