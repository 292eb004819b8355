#include "auth/token_minter.hpp"

#include <jwt.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace vigil::auth {

std::string mint_hs256(std::string const& secret, std::string const& user, std::string const& role,
                       std::int64_t ttl_seconds, std::int64_t now, mint_options const& o) {
    jwt_t* raw = nullptr;
    if (jwt_new(&raw) != 0) throw std::runtime_error("jwt_new failed");
    std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt{raw, &jwt_free};
    bool ok = jwt_add_grant(jwt.get(), o.subject_claim.c_str(), user.c_str()) == 0 &&
              (o.issuer.empty() || jwt_add_grant(jwt.get(), "iss", o.issuer.c_str()) == 0) &&
              (o.audience.empty() || jwt_add_grant(jwt.get(), "aud", o.audience.c_str()) == 0) &&
              jwt_add_grant_int(jwt.get(), "iat", static_cast<long>(now)) == 0 &&
              jwt_add_grant_int(jwt.get(), "exp", static_cast<long>(now + ttl_seconds)) == 0 &&
              (role.empty() || jwt_add_grant(jwt.get(), "role", role.c_str()) == 0) &&
              jwt_set_alg(jwt.get(), JWT_ALG_HS256, reinterpret_cast<unsigned char const*>(secret.data()),
                          static_cast<int>(secret.size())) == 0;
    if (!ok) throw std::runtime_error("cannot build the token");
    std::unique_ptr<char, decltype(&std::free)> encoded{jwt_encode_str(jwt.get()), &std::free};
    if (!encoded) throw std::runtime_error("cannot sign the token");
    return encoded.get();
}

}  // namespace vigil::auth
