// Tokens arrive in URLs, headers and refresh messages before anything is trusted.
// Input: a token; verified against an HS256 secret with issuer and audience checks.
#include "auth/jwt_verifier.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    static vigil::auth::jwt_verifier const verifier = [] {
        vigil::jwt_settings s;
        s.secret = "fuzz-secret-0123456789abcdef0123456789";
        s.issuer = "https://idp.example";
        s.audience = "vigil";
        return vigil::auth::jwt_verifier{s};
    }();
    auto const claims = verifier.verify(std::string_view{reinterpret_cast<char const*>(data), size}, 1'800'000'000);
    if (claims) {
        // Nothing forged should get here; the corpus holds only unsigned or
        // badly signed tokens, so a success means the checks are broken.
        __builtin_trap();
    }
    return 0;
}
