#include "push/ece.hpp"

#include "push/openssl_ptr.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <optional>

namespace vigil::push {

namespace {

struct ece_category_impl final : boost::system::error_category {
    char const* name() const noexcept override { return "vigil.push.ece"; }
    std::string message(int ev) const override {
        switch (ece_error(ev)) {
            case ece_error::bad_subscriber_key: return "the subscription's p256dh is not a P-256 point";
            case ece_error::bad_auth_secret: return "the subscription's auth secret is not 16 bytes";
            case ece_error::plaintext_too_large: return "the payload is larger than 3993 bytes";
            case ece_error::truncated: return "the message is truncated";
            case ece_error::bad_header: return "the aes128gcm header is not one RFC 8291 allows";
            case ece_error::multiple_records: return "the message has more than one record";
            case ece_error::authentication_failed: return "the message does not authenticate";
            case ece_error::bad_padding: return "the record has no final delimiter";
            case ece_error::crypto_failure: return "OpenSSL refused an operation";
        }
        return "unknown aes128gcm error";
    }
};

unsigned char const* bytes(std::string_view s) { return reinterpret_cast<unsigned char const*>(s.data()); }
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// HKDF-SHA256 (RFC 5869), extract then expand, through OpenSSL's EVP_KDF.
std::optional<std::string> hkdf_sha256(std::string_view salt, std::string_view ikm, std::string_view info,
                                       std::size_t length) {
    // Fetched once: the algorithm object is immutable and shared across threads.
    static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    if (!kdf) return std::nullopt;
    ossl::ptr<EVP_KDF_CTX, EVP_KDF_CTX_free> ctx{EVP_KDF_CTX_new(kdf)};
    if (!ctx) return std::nullopt;
    char digest[] = "SHA256";
    OSSL_PARAM const params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()), salt.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()), ikm.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size()),
        OSSL_PARAM_construct_end(),
    };
    std::string out(length, '\0');
    if (EVP_KDF_derive(ctx.get(), bytes(out), out.size(), params) != 1) return std::nullopt;
    return out;
}

// AES-128-GCM of `in` under `key` and `nonce`; the tag is appended.
std::optional<std::string> gcm_seal(std::string_view key, std::string_view nonce, std::string_view in) {
    ossl::ptr<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free> ctx{EVP_CIPHER_CTX_new()};
    std::string out(in.size() + ece_tag_size, '\0');
    int n = 0, final_n = 0;
    if (!ctx || EVP_EncryptInit_ex2(ctx.get(), EVP_aes_128_gcm(), bytes(key), bytes(nonce), nullptr) != 1 ||
        EVP_EncryptUpdate(ctx.get(), bytes(out), &n, bytes(in), int(in.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), bytes(out) + n, &final_n) != 1 ||
        std::size_t(n) + std::size_t(final_n) != in.size() ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, int(ece_tag_size), bytes(out) + in.size()) != 1)
        return std::nullopt;
    return out;
}

// The plaintext of `in` (ciphertext || tag), or an error: authentication_failed
// when the tag does not verify.
boost::system::result<std::string> gcm_open(std::string_view key, std::string_view nonce, std::string_view in) {
    std::string_view const ciphertext = in.substr(0, in.size() - ece_tag_size);
    std::string tag{in.substr(ciphertext.size())};
    ossl::ptr<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free> ctx{EVP_CIPHER_CTX_new()};
    std::string out(ciphertext.size(), '\0');
    int n = 0, final_n = 0;
    if (!ctx || EVP_DecryptInit_ex2(ctx.get(), EVP_aes_128_gcm(), bytes(key), bytes(nonce), nullptr) != 1 ||
        EVP_DecryptUpdate(ctx.get(), bytes(out), &n, bytes(ciphertext), int(ciphertext.size())) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, int(ece_tag_size), tag.data()) != 1)
        return ece_error::crypto_failure;
    if (EVP_DecryptFinal_ex(ctx.get(), bytes(out) + n, &final_n) != 1) return ece_error::authentication_failed;
    out.resize(std::size_t(n) + std::size_t(final_n));
    return out;
}

void append_be32(std::string& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(char((v >> shift) & 0xff));
}

}  // namespace

boost::system::error_category const& ece_category() noexcept {
    static ece_category_impl const instance;
    return instance;
}

boost::system::result<ece_content_keys> ece_derive_keys(std::string_view ecdh_secret, std::string_view auth_secret,
                                                        std::string_view ua_public, std::string_view as_public,
                                                        std::string_view salt) {
    std::string key_info{"WebPush: info", sizeof "WebPush: info"};  // with its NUL
    key_info.append(ua_public).append(as_public);
    ece_content_keys keys;
    auto ikm = hkdf_sha256(auth_secret, ecdh_secret, key_info, 32);
    if (!ikm) return ece_error::crypto_failure;
    keys.ikm = std::move(*ikm);
    auto cek = hkdf_sha256(salt, keys.ikm, {"Content-Encoding: aes128gcm", sizeof "Content-Encoding: aes128gcm"}, 16);
    auto nonce = hkdf_sha256(salt, keys.ikm, {"Content-Encoding: nonce", sizeof "Content-Encoding: nonce"}, 12);
    if (!cek || !nonce) return ece_error::crypto_failure;
    keys.cek = std::move(*cek);
    keys.nonce = std::move(*nonce);
    return keys;
}

boost::system::result<std::string> ece_encrypt(std::string_view plaintext, std::string_view ua_public,
                                               std::string_view auth_secret, ece_fixed_inputs const& fixed) {
    if (plaintext.size() > ece_max_plaintext_size) return ece_error::plaintext_too_large;
    if (auth_secret.size() != ece_auth_secret_size) return ece_error::bad_auth_secret;
    auto const subscriber = p256_key::from_public_point(ua_public);
    if (!subscriber) return ece_error::bad_subscriber_key;

    std::optional<p256_key> fresh;
    if (!fixed.sender) fresh.emplace(p256_key::generate());
    p256_key const& sender = fixed.sender ? *fixed.sender : *fresh;

    std::string salt{fixed.salt};
    if (salt.empty()) {
        salt.resize(ece_salt_size);
        if (RAND_bytes(bytes(salt), int(salt.size())) != 1) return ece_error::crypto_failure;
    }
    if (salt.size() != ece_salt_size) return ece_error::crypto_failure;

    auto const secret = sender.derive(*subscriber);
    if (!secret) return ece_error::crypto_failure;
    auto keys = ece_derive_keys(*secret, auth_secret, ua_public, sender.public_point(), salt);
    if (!keys) return keys.error();

    std::string padded{plaintext};
    padded.push_back('\x02');  // the last record's delimiter; no padding after it
    auto const sealed = gcm_seal(keys->cek, keys->nonce, padded);
    if (!sealed) return ece_error::crypto_failure;

    std::string body;
    body.reserve(ece_header_size + sealed->size());
    body.append(salt);
    append_be32(body, ece_record_size);
    body.push_back(char(p256_point_size));
    body.append(sender.public_point());
    body.append(*sealed);
    return body;
}

boost::system::result<std::string> ece_decrypt(std::string_view body, p256_key const& ua_private,
                                               std::string_view auth_secret) {
    if (auth_secret.size() != ece_auth_secret_size) return ece_error::bad_auth_secret;
    if (!ua_private.has_private()) return ece_error::bad_subscriber_key;
    if (body.size() < ece_salt_size + 5) return ece_error::truncated;
    std::string_view const salt = body.substr(0, ece_salt_size);
    std::uint32_t rs = 0;
    for (std::size_t i = ece_salt_size; i < ece_salt_size + 4; ++i)
        rs = (rs << 8) | static_cast<unsigned char>(body[i]);
    std::size_t const id_length = static_cast<unsigned char>(body[ece_salt_size + 4]);
    // RFC 8188: a record holds at least a tag and a delimiter (rs >= 18);
    // RFC 8291: the key id is the sender's 65-byte point.
    if (rs < ece_tag_size + 2 || id_length != p256_point_size) return ece_error::bad_header;
    if (body.size() < ece_header_size) return ece_error::truncated;
    auto const sender = p256_key::from_public_point(body.substr(ece_salt_size + 5, p256_point_size));
    if (!sender) return ece_error::bad_header;

    std::string_view const record = body.substr(ece_header_size);
    if (record.size() < ece_tag_size + 1) return ece_error::truncated;
    if (record.size() > rs) return ece_error::multiple_records;

    auto const secret = ua_private.derive(*sender);
    if (!secret) return ece_error::crypto_failure;
    auto keys = ece_derive_keys(*secret, auth_secret, ua_private.public_point(), sender->public_point(), salt);
    if (!keys) return keys.error();
    auto padded = gcm_open(keys->cek, keys->nonce, record);
    if (!padded) return padded.error();

    // plaintext || 0x02 || 0x00*: the last non-zero byte is the delimiter.
    std::string& text = *padded;
    while (!text.empty() && text.back() == '\0') text.pop_back();
    if (text.empty() || text.back() != '\x02') return ece_error::bad_padding;
    text.pop_back();
    return std::move(text);
}

}  // namespace vigil::push
