#pragma once
// Verifies JWTs for one configured algorithm (HS256 secret, RS256/ES256 PEM
// public key) through libjwt. The token's own `alg` must equal the configured
// one, which refuses `none` and RS/HS confusion. `exp` is required; `nbf`, `iss`
// and `aud` are checked when present or configured. Pure: no I/O after
// construction, safe to call from any thread.
#include "auth/auth_error.hpp"
#include "auth/claims.hpp"
#include "config/config.hpp"

#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::auth {

class jwt_verifier {
public:
    // Reads the public key file for RS256/ES256. Throws config_error.
    explicit jwt_verifier(jwt_settings const& settings);

    boost::system::result<claims> verify(std::string_view token, std::int64_t now_seconds) const;

    // Tokens longer than this are refused unparsed.
    static constexpr std::size_t max_token_bytes = 8 * 1024;

private:
    jwt_settings settings_;
    std::string key_;  // secret or PEM
    int alg_;          // jwt_alg_t
};

}  // namespace vigil::auth
