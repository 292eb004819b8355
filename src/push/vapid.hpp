#pragma once
// VAPID (RFC 8292): how vigil identifies itself to push services. Browsers
// bind a subscription to the public key the page subscribed with
// (`applicationServerKey`); every push carries
//   Authorization: vapid t=<ES256 JWT>, k=<that public key>
// and the push service refuses pushes signed by any other key. Losing the
// private key therefore orphans every subscription: back it up with the
// database (docs/notifications.md).
#include "push/p256_key.hpp"

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace vigil::push {

struct vapid_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The key's file in the data directory when none is given.
inline constexpr std::string_view vapid_key_file_name = "vapid_private_key.pem";
// RFC 8292 section 2: `exp` no more than 24 hours ahead.
inline constexpr std::int64_t vapid_max_ttl_seconds = 24 * 3600;
inline constexpr std::int64_t vapid_default_ttl_seconds = 12 * 3600;

class vapid_key {
public:
    // Needs a private key.
    explicit vapid_key(p256_key key);

    // Reads an unencrypted P-256 private key (PKCS#8 or SEC 1 PEM) from
    // `pem_file` (`--vapid-private-key-file`). Throws vapid_error, naming
    // the file, when it cannot; warns when the file is readable by others.
    static vapid_key load(std::filesystem::path const& pem_file);

    // <data_dir>/vapid_private_key.pem, generated on first use: written to a
    // temporary file with mode 0600, synced, then linked into place, so the
    // key file is either absent or whole, and of two processes starting at
    // once both end up with the one that was linked first. Throws vapid_error.
    static vapid_key load_or_create(std::filesystem::path const& data_dir);

    // The base64url of the 65-byte uncompressed public point: the page's
    // `applicationServerKey` and GET /api/v1/push/vapid-public-key's answer.
    std::string const& public_key() const noexcept { return public_key_; }

    p256_key const& key() const noexcept { return key_; }

    // An ES256 JWT: header {"typ":"JWT","alg":"ES256"}, claims
    // {"aud": audience, "exp": now + ttl, "sub": subject}, the signature as
    // R || S. `audience` is the push service's origin (endpoint_origin());
    // `subject` a mailto: or https: contact (valid_vapid_subject()). The ttl
    // is clamped to [60 s, 24 h]. Throws vapid_error if OpenSSL cannot sign.
    std::string jwt(std::string_view audience, std::string_view subject, std::int64_t now_seconds,
                    std::int64_t ttl_seconds = vapid_default_ttl_seconds) const;

    // "vapid t=<jwt(...)>, k=<public_key()>".
    std::string authorization(std::string_view audience, std::string_view subject, std::int64_t now_seconds,
                              std::int64_t ttl_seconds = vapid_default_ttl_seconds) const;

private:
    p256_key key_;
    std::string public_key_;
};

// A contact push services accept as `sub`: "mailto:" with an address, or an
// https: URL; at most 256 characters, printable ASCII.
bool valid_vapid_subject(std::string_view subject);

}  // namespace vigil::push
