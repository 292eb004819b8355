#pragma once
// What a push service does with a VAPID Authorization header (RFC 8292),
// written apart from vigil's signing code: its own base64url decoding, the
// key rebuilt from the 65-byte point, R || S turned into DER, and
// EVP_DigestVerify. Test support for the VAPID unit tests and the mock push
// service.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::test {

// Base64url (padding optional) through EVP_DecodeBlock; nothing when invalid.
std::optional<std::string> b64url_decode(std::string_view text);

struct vapid_token {
    std::string header_json;  // the JWT's header, decoded
    std::string public_key;   // k=, as sent
    std::string aud;
    std::string sub;
    std::int64_t exp = 0;
};

// Parses "vapid t=<JWT>, k=<key>", and returns the token's contents if its
// ES256 signature verifies with k, and k is `expected_public_key` (base64url).
// `why` (optional) says what failed otherwise.
std::optional<vapid_token> verify_vapid(std::string_view authorization, std::string_view expected_public_key,
                                        std::string* why = nullptr);

}  // namespace vigil::test
