#include "push/p256_key.hpp"

#include "push/openssl_ptr.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <cstring>
#include <stdexcept>

namespace vigil::push {

namespace {

constexpr char const* group_name = "prime256v1";

unsigned char const* bytes(std::string_view s) { return reinterpret_cast<unsigned char const*>(s.data()); }

// The encoded public point of an EC key, if it is uncompressed P-256.
std::optional<std::string> public_point_of(EVP_PKEY* key) {
    std::string point(p256_point_size, '\0');
    std::size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, reinterpret_cast<unsigned char*>(point.data()),
                                        point.size(), &len) != 1 ||
        len != p256_point_size || point[0] != 0x04)
        return std::nullopt;
    return point;
}

bool is_p256(EVP_PKEY* key) {
    if (EVP_PKEY_is_a(key, "EC") != 1) return false;
    char name[64] = {};
    std::size_t len = 0;
    return EVP_PKEY_get_group_name(key, name, sizeof name, &len) == 1 && std::string_view{name, len} == group_name;
}

// An EC key from OSSL parameters: the group, the public point and, for a key
// pair, the private scalar.
EVP_PKEY* pkey_from_data(std::string_view point, BIGNUM const* scalar) {
    ossl::ptr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free> bld{OSSL_PARAM_BLD_new()};
    if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group_name, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1 ||
        (scalar && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, scalar) != 1))
        return nullptr;
    ossl::ptr<OSSL_PARAM, OSSL_PARAM_free> params{OSSL_PARAM_BLD_to_param(bld.get())};
    ossl::ptr<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx{EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr)};
    EVP_PKEY* key = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &key, scalar ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
        return nullptr;
    return key;
}

// A PEM reader that never asks a terminal for a passphrase.
int no_passphrase(char*, int, int, void*) { return -1; }

}  // namespace

void p256_key::deleter::operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }

std::optional<p256_key> p256_key::from_pkey(std::unique_ptr<EVP_PKEY, deleter> key, bool need_private) {
    std::optional<std::string> point;
    if (key && is_p256(key.get())) point = public_point_of(key.get());
    ossl::ptr<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx;
    if (point) ctx.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
    // On the curve, and for a pair, the point is the scalar's.
    if (!ctx || (need_private ? EVP_PKEY_pairwise_check(ctx.get()) : EVP_PKEY_public_check(ctx.get())) != 1) {
        // Hostile keys are routine here: leave no error behind for the
        // thread's next OpenSSL user (a TLS stream) to misread as its own.
        ERR_clear_error();
        return std::nullopt;
    }
    return p256_key{std::move(key), std::move(*point), need_private};
}

p256_key p256_key::generate() {
    std::unique_ptr<EVP_PKEY, deleter> key{EVP_EC_gen("P-256")};
    auto k = from_pkey(std::move(key), true);
    if (!k) throw std::runtime_error("OpenSSL could not generate a P-256 key");
    return std::move(*k);
}

std::optional<p256_key> p256_key::from_private_scalar(std::string_view scalar) {
    if (scalar.size() != p256_scalar_size) return std::nullopt;
    ossl::ptr<BIGNUM, BN_clear_free> d{BN_bin2bn(bytes(scalar), int(scalar.size()), nullptr)};
    ossl::ptr<EC_GROUP, EC_GROUP_free> group{EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)};
    if (!d || !group) return std::nullopt;
    if (BN_is_zero(d.get()) || BN_cmp(d.get(), EC_GROUP_get0_order(group.get())) >= 0) return std::nullopt;
    ossl::ptr<EC_POINT, EC_POINT_free> pub{EC_POINT_new(group.get())};
    std::string point(p256_point_size, '\0');
    if (!pub || EC_POINT_mul(group.get(), pub.get(), d.get(), nullptr, nullptr, nullptr) != 1 ||
        EC_POINT_point2oct(group.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED,
                           reinterpret_cast<unsigned char*>(point.data()), point.size(), nullptr) != p256_point_size)
        return std::nullopt;
    return from_pkey(std::unique_ptr<EVP_PKEY, deleter>{pkey_from_data(point, d.get())}, true);
}

std::optional<p256_key> p256_key::from_public_point(std::string_view point) {
    if (point.size() != p256_point_size || point[0] != 0x04) return std::nullopt;
    return from_pkey(std::unique_ptr<EVP_PKEY, deleter>{pkey_from_data(point, nullptr)}, false);
}

std::optional<p256_key> p256_key::from_pem(std::string_view pem) {
    if (pem.size() > 64 * 1024) return std::nullopt;
    ossl::ptr<BIO, BIO_free> bio{BIO_new_mem_buf(pem.data(), int(pem.size()))};
    if (!bio) return std::nullopt;
    std::unique_ptr<EVP_PKEY, deleter> key{PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr)};
    return from_pkey(std::move(key), true);
}

std::string p256_key::private_pem() const {
    if (!private_) throw std::logic_error("p256_key::private_pem on a public key");
    ossl::ptr<BIO, BIO_free> bio{BIO_new(BIO_s_mem())};
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
        throw std::runtime_error("OpenSSL could not write the key as PEM");
    char* data = nullptr;
    long const n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, std::size_t(n));
}

std::optional<std::string> p256_key::derive(p256_key const& peer) const {
    if (!private_) return std::nullopt;
    ossl::ptr<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx{EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr)};
    std::size_t len = 0;
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer.native()) != 1 ||
        EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1 || len != p256_scalar_size)
        return std::nullopt;
    std::string secret(len, '\0');
    if (EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(secret.data()), &len) != 1 ||
        len != p256_scalar_size)
        return std::nullopt;
    return secret;
}

std::optional<std::string> p256_key::sign_es256(std::string_view data) const {
    if (!private_) return std::nullopt;
    ossl::ptr<EVP_MD_CTX, EVP_MD_CTX_free> md{EVP_MD_CTX_new()};
    std::size_t der_len = 0;
    if (!md || EVP_DigestSignInit_ex(md.get(), nullptr, "SHA256", nullptr, nullptr, key_.get(), nullptr) != 1 ||
        EVP_DigestSign(md.get(), nullptr, &der_len, bytes(data), data.size()) != 1)
        return std::nullopt;
    std::string der(der_len, '\0');
    if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(der.data()), &der_len, bytes(data), data.size()) != 1)
        return std::nullopt;
    // OpenSSL signs in DER (SEQUENCE of two INTEGERs); JWS wants both fixed-width.
    unsigned char const* p = bytes(der);
    ossl::ptr<ECDSA_SIG, ECDSA_SIG_free> sig{d2i_ECDSA_SIG(nullptr, &p, long(der_len))};
    if (!sig) return std::nullopt;
    std::string out(es256_signature_size, '\0');
    auto* o = reinterpret_cast<unsigned char*>(out.data());
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), o, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), o + 32, 32) != 32)
        return std::nullopt;
    return out;
}

}  // namespace vigil::push
