#pragma once
// A P-256 (prime256v1) key in OpenSSL 3, for the two uses Web Push has for
// one: ECDH with a subscriber's key (RFC 8291) and ES256 signatures (RFC
// 8292 VAPID). Keys cross the wire as the 65-byte uncompressed point
// (0x04 || X || Y) and, for private keys in tests, the 32-byte scalar.
//
// A p256_key is immutable once made and may be used from several threads.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

using EVP_PKEY = struct evp_pkey_st;  // as OpenSSL declares it

namespace vigil::push {

inline constexpr std::size_t p256_point_size = 65;  // 0x04 || X || Y
inline constexpr std::size_t p256_scalar_size = 32;
inline constexpr std::size_t es256_signature_size = 64;  // R || S, as JWS wants it

class p256_key {
public:
    p256_key(p256_key&&) noexcept = default;
    p256_key& operator=(p256_key&&) noexcept = default;

    // A fresh random key pair. Throws std::runtime_error if OpenSSL cannot make one.
    static p256_key generate();

    // The key pair of a 32-byte private scalar (its public point computed).
    // Nothing unless 0 < scalar < the group order.
    static std::optional<p256_key> from_private_scalar(std::string_view scalar);

    // A public key from the 65-byte uncompressed point. Nothing unless the
    // point is uncompressed and on the curve.
    static std::optional<p256_key> from_public_point(std::string_view point);

    // A private key from PEM (PKCS#8 "PRIVATE KEY" or SEC 1 "EC PRIVATE KEY",
    // unencrypted). Nothing unless it is a P-256 key pair.
    static std::optional<p256_key> from_pem(std::string_view pem);

    bool has_private() const noexcept { return private_; }

    // The 65-byte uncompressed public point.
    std::string const& public_point() const noexcept { return point_; }

    // The private key as unencrypted PKCS#8 PEM. Needs has_private().
    std::string private_pem() const;

    // The ECDH shared secret (the 32-byte X coordinate) with `peer`'s public
    // key. Needs has_private(); nothing if OpenSSL refuses.
    std::optional<std::string> derive(p256_key const& peer) const;

    // ECDSA with SHA-256 over `data`, as the 64-byte R || S of JWS (RFC 7518
    // section 3.4), not DER. Needs has_private(); nothing if OpenSSL refuses.
    std::optional<std::string> sign_es256(std::string_view data) const;

    // The OpenSSL key, for callers that need one (verification in tests).
    EVP_PKEY* native() const noexcept { return key_.get(); }

private:
    struct deleter {
        void operator()(EVP_PKEY* k) const noexcept;
    };
    p256_key(std::unique_ptr<EVP_PKEY, deleter> key, std::string point, bool has_private)
        : key_(std::move(key)), point_(std::move(point)), private_(has_private) {}

    static std::optional<p256_key> from_pkey(std::unique_ptr<EVP_PKEY, deleter> key, bool need_private);

    std::unique_ptr<EVP_PKEY, deleter> key_;
    std::string point_;
    bool private_ = false;
};

}  // namespace vigil::push
