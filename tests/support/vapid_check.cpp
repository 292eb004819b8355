#include "support/vapid_check.hpp"

#include <boost/json/parse.hpp>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <memory>
#include <vector>

namespace vigil::test {

namespace {

template <class T, auto Free>
struct free_with {
    void operator()(T* p) const noexcept { Free(p); }
};
template <class T, auto Free>
using ptr = std::unique_ptr<T, free_with<T, Free>>;

bool fail(std::string* why, std::string text) {
    if (why) *why = std::move(text);
    return false;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
}

// The public key of a 65-byte uncompressed point, built here from OpenSSL
// parameters rather than through vigil's p256_key.
ptr<EVP_PKEY, EVP_PKEY_free> key_from_point(std::string const& point) {
    ptr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free> bld{OSSL_PARAM_BLD_new()};
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    ptr<OSSL_PARAM, OSSL_PARAM_free> params{OSSL_PARAM_BLD_to_param(bld.get())};
    ptr<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx{EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr)};
    EVP_PKEY* key = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
        return nullptr;
    return ptr<EVP_PKEY, EVP_PKEY_free>{key};
}

void free_der(unsigned char* p) { OPENSSL_free(p); }

bool verify_es256(EVP_PKEY* key, std::string_view signed_part, std::string const& raw_signature) {
    if (raw_signature.size() != 64) return false;
    auto const* raw = reinterpret_cast<unsigned char const*>(raw_signature.data());
    ptr<ECDSA_SIG, ECDSA_SIG_free> sig{ECDSA_SIG_new()};
    BIGNUM* r = BN_bin2bn(raw, 32, nullptr);
    BIGNUM* s = BN_bin2bn(raw + 32, 32, nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return false;
    }
    unsigned char* der = nullptr;
    int const der_len = i2d_ECDSA_SIG(sig.get(), &der);
    if (der_len <= 0) return false;
    ptr<unsigned char, free_der> der_owner{der};
    ptr<EVP_MD_CTX, EVP_MD_CTX_free> md{EVP_MD_CTX_new()};
    return md && EVP_DigestVerifyInit_ex(md.get(), nullptr, "SHA256", nullptr, nullptr, key, nullptr) == 1 &&
           EVP_DigestVerify(md.get(), der, std::size_t(der_len),
                            reinterpret_cast<unsigned char const*>(signed_part.data()), signed_part.size()) == 1;
}

}  // namespace

std::optional<std::string> b64url_decode(std::string_view text) {
    std::string s;
    for (char c : text) {
        if (c == '=') break;
        if (c == '+' || c == '/') return std::nullopt;
        s.push_back(c == '-' ? '+' : c == '_' ? '/' : c);
    }
    if (s.size() % 4 == 1) return std::nullopt;
    std::size_t const padding = (4 - s.size() % 4) % 4;
    s.append(padding, '=');
    std::vector<unsigned char> out(s.size() / 4 * 3 + 1);
    int const n = EVP_DecodeBlock(out.data(), reinterpret_cast<unsigned char const*>(s.data()), int(s.size()));
    if (n < 0) return std::nullopt;
    return std::string(reinterpret_cast<char*>(out.data()), std::size_t(n) - padding);
}

std::optional<vapid_token> verify_vapid(std::string_view authorization, std::string_view expected_public_key,
                                        std::string* why) {
    if (!authorization.starts_with("vapid ")) return fail(why, "not the vapid scheme"), std::nullopt;
    std::string_view t, k;
    std::string_view rest = authorization.substr(6);
    while (!rest.empty()) {
        auto const comma = rest.find(',');
        auto const param = trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (param.starts_with("t="))
            t = param.substr(2);
        else if (param.starts_with("k="))
            k = param.substr(2);
    }
    if (t.empty() || k.empty()) return fail(why, "t= or k= missing"), std::nullopt;
    if (k != expected_public_key) return fail(why, "k= is not the expected key"), std::nullopt;

    auto const dot1 = t.find('.');
    auto const dot2 = t.find('.', dot1 == std::string_view::npos ? dot1 : dot1 + 1);
    if (dot1 == std::string_view::npos || dot2 == std::string_view::npos) return fail(why, "not a JWT"), std::nullopt;
    auto const header = b64url_decode(t.substr(0, dot1));
    auto const claims = b64url_decode(t.substr(dot1 + 1, dot2 - dot1 - 1));
    auto const signature = b64url_decode(t.substr(dot2 + 1));
    auto const point = b64url_decode(k);
    if (!header || !claims || !signature || !point) return fail(why, "not base64url"), std::nullopt;
    if (point->size() != 65 || (*point)[0] != 0x04) return fail(why, "k= is not a 65-byte point"), std::nullopt;
    auto const key = key_from_point(*point);
    if (!key) return fail(why, "k= is not on P-256"), std::nullopt;
    if (!verify_es256(key.get(), t.substr(0, dot2), *signature))
        return fail(why, "the signature does not verify"), std::nullopt;

    boost::system::error_code ec;
    auto const c = boost::json::parse(*claims, ec);
    if (ec || !c.is_object()) return fail(why, "claims are not a JSON object"), std::nullopt;
    auto const& o = c.as_object();
    vapid_token out;
    out.header_json = *header;
    out.public_key = std::string{k};
    if (auto const* aud = o.if_contains("aud"); aud && aud->is_string()) out.aud = aud->get_string();
    if (auto const* sub = o.if_contains("sub"); sub && sub->is_string()) out.sub = sub->get_string();
    if (auto const* exp = o.if_contains("exp"); exp && exp->is_int64()) out.exp = exp->get_int64();
    return out;
}

}  // namespace vigil::test
