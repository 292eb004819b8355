#pragma once
// Mints HS256 development tokens (`vigil token`, the demo link, tests).
#include <cstdint>
#include <string>

namespace vigil::auth {

// What a server that checks them expects (its jwt.issuer, jwt.audience,
// jwt.subject_claim); empty issuer/audience: no claim.
struct mint_options {
    std::string issuer;
    std::string audience;
    std::string subject_claim = "sub";
};

// `sub` (or o.subject_claim) = user, `exp` = now + ttl, `iat` = now, `role`
// when not empty, `iss` and `aud` when set. Throws std::runtime_error if libjwt
// cannot sign.
std::string mint_hs256(std::string const& secret, std::string const& user, std::string const& role,
                       std::int64_t ttl_seconds, std::int64_t now_seconds, mint_options const& o = {});

}  // namespace vigil::auth
