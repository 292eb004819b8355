#pragma once
// Web Push message encryption (RFC 8291): the "aes128gcm" content coding of
// RFC 8188 with a key agreed by ECDH P-256 between a fresh key of the
// application server and the subscription's `p256dh` key, mixed with the
// subscription's `auth` secret by HKDF-SHA256, and AES-128-GCM.
//
// A message is one record: header || AES-128-GCM(plaintext || 0x02) || tag,
// where the 86-byte header is salt (16) || record size (4, big-endian: 4096)
// || key id length (1: 65) || the application server's public point (65).
// Push services take bodies of 4096 bytes at least (RFC 8030 section 7.2),
// which leaves 3993 bytes of plaintext.
//
// encrypt() is the application server's side; decrypt() the user agent's,
// which vigil needs only to test what it sends. Both are pure (apart from
// fresh randomness) and thread-safe.
#include "push/p256_key.hpp"

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace vigil::push {

inline constexpr std::size_t ece_salt_size = 16;
inline constexpr std::size_t ece_auth_secret_size = 16;
inline constexpr std::size_t ece_tag_size = 16;
inline constexpr std::size_t ece_header_size = ece_salt_size + 4 + 1 + p256_point_size;  // 86
inline constexpr std::uint32_t ece_record_size = 4096;
inline constexpr std::size_t ece_max_plaintext_size = ece_record_size - ece_header_size - ece_tag_size - 1;  // 3993

enum class ece_error {
    bad_subscriber_key = 1,  /// p256dh is not a 65-byte uncompressed point on P-256
    bad_auth_secret,         /// the auth secret is not 16 bytes
    plaintext_too_large,     /// more than ece_max_plaintext_size bytes
    truncated,               /// shorter than its header, or than one tag and delimiter after it
    bad_header,              /// a record size or key id that RFC 8291 does not allow
    multiple_records,        /// more than the single record RFC 8291 allows
    authentication_failed,   /// the tag does not verify: wrong key or auth secret, or altered bytes
    bad_padding,             /// decrypted, but no 0x02 delimiter before zero padding
    crypto_failure,          /// OpenSSL refused an operation
};

boost::system::error_category const& ece_category() noexcept;

inline boost::system::error_code make_error_code(ece_error e) noexcept { return {static_cast<int>(e), ece_category()}; }

// Inputs that are random in use and fixed to reproduce a known message
// (RFC 8291 Appendix A).
struct ece_fixed_inputs {
    std::string_view salt;             // 16 bytes; empty: random
    p256_key const* sender = nullptr;  // the application server's key pair; null: a fresh one
};

// The body of a push message carrying `plaintext` to the subscription whose
// keys are `ua_public` (65-byte point) and `auth_secret` (16 bytes).
boost::system::result<std::string> ece_encrypt(std::string_view plaintext, std::string_view ua_public,
                                               std::string_view auth_secret, ece_fixed_inputs const& fixed = {});

// The plaintext of a push message body, for the subscriber whose private key
// is `ua_private` and whose auth secret is `auth_secret`. Refuses (with an
// ece_error) anything but one whole record RFC 8291 allows.
boost::system::result<std::string> ece_decrypt(std::string_view body, p256_key const& ua_private,
                                               std::string_view auth_secret);

// The key schedule of RFC 8291 section 3.4 and RFC 8188 section 2.2, from
// the ECDH secret to the content encryption key and nonce. Exposed so that
// tests can hold each step to the RFC's intermediate values.
struct ece_content_keys {
    std::string ikm;    // 32 bytes: HKDF(auth_secret, ecdh_secret, "WebPush: info\0" || ua_public || as_public)
    std::string cek;    // 16 bytes: HKDF(salt, ikm, "Content-Encoding: aes128gcm\0")
    std::string nonce;  // 12 bytes: HKDF(salt, ikm, "Content-Encoding: nonce\0")
};
boost::system::result<ece_content_keys> ece_derive_keys(std::string_view ecdh_secret, std::string_view auth_secret,
                                                        std::string_view ua_public, std::string_view as_public,
                                                        std::string_view salt);

}  // namespace vigil::push

template <>
struct boost::system::is_error_code_enum<vigil::push::ece_error> : std::true_type {};
