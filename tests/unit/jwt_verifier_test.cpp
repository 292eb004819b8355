#include "auth/jwt_verifier.hpp"
#include "auth/token_minter.hpp"

#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

using namespace vigil;
using auth::auth_error;

namespace {

constexpr std::int64_t now = 1'800'000'000;
std::string const secret = "unit-test-secret-0123456789abcdef";

jwt_settings hs256() {
    jwt_settings s;
    s.secret = secret;
    return s;
}

// A token with arbitrary claims, signed by libjwt with `alg` and `key`.
std::string sign(jwt_alg_t alg, std::string const& key, std::string const& claims_json) {
    jwt_t* raw = nullptr;
    jwt_new(&raw);
    std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt{raw, &jwt_free};
    jwt_add_grants_json(jwt.get(), claims_json.c_str());
    jwt_set_alg(jwt.get(), alg, alg == JWT_ALG_NONE ? nullptr : reinterpret_cast<unsigned char const*>(key.data()),
                alg == JWT_ALG_NONE ? 0 : static_cast<int>(key.size()));
    std::unique_ptr<char, decltype(&std::free)> out{jwt_encode_str(jwt.get()), &std::free};
    return out ? out.get() : "";
}

std::string claims(std::string const& sub, std::int64_t exp, std::string const& extra = {}) {
    return R"({"sub":")" + sub + R"(","exp":)" + std::to_string(exp) + extra + "}";
}

struct key_pair {
    std::string private_pem, public_pem, public_file;
};

key_pair make_keys(char const* type, char const* param) {
    EVP_PKEY* pkey = std::string{type} == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                                                : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", param);
    auto to_pem = [&](bool priv) {
        BIO* bio = BIO_new(BIO_s_mem());
        priv ? PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr)
             : PEM_write_bio_PUBKEY(bio, pkey);
        char* data = nullptr;
        long const n = BIO_get_mem_data(bio, &data);
        std::string out{data, std::size_t(n)};
        BIO_free(bio);
        return out;
    };
    key_pair k{to_pem(true), to_pem(false), {}};
    EVP_PKEY_free(pkey);
    k.public_file = (std::filesystem::temp_directory_path() / ("vigil-key-" + std::string{type} + ".pem")).string();
    std::ofstream{k.public_file} << k.public_pem;
    return k;
}

}  // namespace

TEST(JwtVerifier, AcceptsAValidHs256TokenAndReadsRoles) {
    auth::jwt_verifier v{hs256()};
    auto const c =
        v.verify(sign(JWT_ALG_HS256, secret, claims("u1", now + 60, R"(,"roles":["publisher"],"role":"admin")")), now);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->subject, "u1");
    EXPECT_EQ(c->expires_at, now + 60);
    EXPECT_TRUE(c->is_admin());
    EXPECT_TRUE(c->can_publish());
}

TEST(JwtVerifier, MintedTokensVerify) {
    auth::jwt_verifier v{hs256()};
    auto const c = v.verify(auth::mint_hs256(secret, "u2", "publisher", 60, now), now);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->subject, "u2");
    EXPECT_TRUE(c->can_publish());
    EXPECT_FALSE(c->is_admin());
}

TEST(JwtVerifier, RefusesWhatItMust) {
    auth::jwt_verifier v{hs256()};
    auto code = [&](std::string const& token) {
        auto r = v.verify(token, now);
        return r ? auth_error{} : auth_error(r.error().value());
    };
    EXPECT_EQ(code(""), auth_error::missing_token);
    EXPECT_EQ(code("abc"), auth_error::malformed);
    EXPECT_EQ(code("a.b.c.d"), auth_error::malformed);
    EXPECT_EQ(code("a!.b.c"), auth_error::malformed);
    EXPECT_EQ(code(std::string(9000, 'a') + ".b.c"), auth_error::malformed);
    EXPECT_EQ(code(sign(JWT_ALG_HS256, "another-secret", claims("u", now + 60))), auth_error::bad_signature);
    EXPECT_EQ(code(sign(JWT_ALG_HS256, secret, claims("u", now - 1))), auth_error::expired);
    EXPECT_EQ(code(sign(JWT_ALG_HS256, secret, R"({"sub":"u"})")), auth_error::missing_exp);
    EXPECT_EQ(code(sign(JWT_ALG_HS256, secret, claims("u", now + 60, R"(,"nbf":)" + std::to_string(now + 30)))),
              auth_error::not_yet_valid);
    EXPECT_EQ(code(sign(JWT_ALG_HS256, secret, R"({"exp":)" + std::to_string(now + 60) + "}")),
              auth_error::missing_subject);
    EXPECT_EQ(code(sign(JWT_ALG_HS384, secret, claims("u", now + 60))), auth_error::wrong_algorithm);
    auto const unsigned_token = sign(JWT_ALG_NONE, "", claims("u", now + 60));
    EXPECT_EQ(code(unsigned_token), auth_error::wrong_algorithm);
    // Tampered payload, original signature.
    auto good = sign(JWT_ALG_HS256, secret, claims("u", now + 60));
    auto const first_dot = good.find('.');
    auto forged = sign(JWT_ALG_HS256, "x", claims("admin", now + 60));
    EXPECT_EQ(code(good.substr(0, first_dot) + forged.substr(forged.find('.'), forged.rfind('.') - forged.find('.')) +
                   good.substr(good.rfind('.'))),
              auth_error::bad_signature);
}

// "Not a JWT" and "a JWT whose signature fails" are told apart: three
// base64url parts are a JWT only when the first two are JSON objects.
TEST(JwtVerifier, WellFormedGarbageIsMalformedNotBadlySigned) {
    auth::jwt_verifier v{hs256()};
    auto code = [&](std::string const& token) {
        auto r = v.verify(token, now);
        return r ? auth_error{} : auth_error(r.error().value());
    };
    auto b64url = [](std::string const& json) {
        std::string out;
        static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        std::size_t i = 0;
        for (; i + 2 < json.size(); i += 3) {
            auto const n =
                (unsigned(uint8_t(json[i])) << 16) | (unsigned(uint8_t(json[i + 1])) << 8) | uint8_t(json[i + 2]);
            for (int k = 18; k >= 0; k -= 6) out.push_back(alphabet[(n >> k) & 63]);
        }
        if (json.size() - i == 1) {
            auto const n = unsigned(uint8_t(json[i])) << 16;
            out += {alphabet[(n >> 18) & 63], alphabet[(n >> 12) & 63]};
        } else if (json.size() - i == 2) {
            auto const n = (unsigned(uint8_t(json[i])) << 16) | (unsigned(uint8_t(json[i + 1])) << 8);
            out += {alphabet[(n >> 18) & 63], alphabet[(n >> 12) & 63], alphabet[(n >> 6) & 63]};
        }
        return out;
    };
    std::string const header = b64url(R"({"alg":"HS256","typ":"JWT"})");
    std::string const payload = b64url(claims("u", now + 60));
    EXPECT_EQ(code("aaa.bbb.ccc"), auth_error::malformed);
    EXPECT_EQ(code("eyJhbGciOiJIUzI1NiJ9.bbb.ccc"), auth_error::malformed);  // header fine, payload not JSON
    EXPECT_EQ(code(b64url("[1]") + "." + payload + ".c2ln"), auth_error::malformed);
    EXPECT_EQ(code(b64url(R"({"typ":"JWT"})") + "." + payload + ".c2ln"), auth_error::malformed);  // no alg
    EXPECT_EQ(code(header + "." + b64url("\"not an object\"") + ".c2ln"), auth_error::malformed);
    EXPECT_EQ(code(header + "." + payload + ".c2ln"), auth_error::bad_signature);  // a JWT, wrongly signed
    EXPECT_EQ(code(b64url(R"({"alg":"HS512"})") + "." + payload + ".c2ln"), auth_error::wrong_algorithm);
}

// Every refusal code is documented, and each has its own.
TEST(JwtVerifier, EveryCredentialErrorCodeIsDistinctAndDocumented) {
    std::ifstream in{std::string{VIGIL_SOURCE_DIR} + "/docs/protocol.md"};
    std::stringstream doc;
    doc << in.rdbuf();
    std::set<std::string_view> seen;
    for (int e = int(auth_error::missing_token); e <= int(auth_error::unknown_api_key); ++e) {
        auto const name = auth::error_code_name(auth_error(e));
        EXPECT_TRUE(seen.insert(name).second) << name << " is used twice";
        EXPECT_NE(doc.str().find("`" + std::string{name} + "`"), std::string::npos)
            << name << " is not in docs/protocol.md";
    }
}

TEST(JwtVerifier, ChecksIssuerAudienceAndLeewayWhenConfigured) {
    auto s = hs256();
    s.issuer = "https://idp.example";
    s.audience = "vigil";
    s.leeway_seconds = 30;
    auth::jwt_verifier v{s};
    auto const ok = claims("u", now - 10, R"(,"iss":"https://idp.example","aud":["other","vigil"])");
    EXPECT_TRUE(v.verify(sign(JWT_ALG_HS256, secret, ok), now));  // expired 10 s ago, within leeway
    auto const wrong_iss = claims("u", now + 60, R"(,"iss":"https://evil.example","aud":"vigil")");
    EXPECT_EQ(v.verify(sign(JWT_ALG_HS256, secret, wrong_iss), now).error(), auth_error::wrong_issuer);
    auto const wrong_aud = claims("u", now + 60, R"(,"iss":"https://idp.example","aud":"other")");
    EXPECT_EQ(v.verify(sign(JWT_ALG_HS256, secret, wrong_aud), now).error(), auth_error::wrong_audience);
}

TEST(JwtVerifier, CustomSubjectClaim) {
    auto s = hs256();
    s.subject_claim = "uid";
    auth::jwt_verifier v{s};
    auto const c =
        v.verify(sign(JWT_ALG_HS256, secret, R"({"uid":42,"sub":"x","exp":)" + std::to_string(now + 5) + "}"), now);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->subject, "42");
}

TEST(JwtVerifier, Rs256AndEs256WithPublicKeysRefuseAlgorithmConfusion) {
    for (auto [alg, type, param] : {std::tuple{JWT_ALG_RS256, "RSA", ""}, std::tuple{JWT_ALG_ES256, "EC", "P-256"}}) {
        auto const keys = make_keys(type, param);
        jwt_settings s;
        s.algorithm = alg == JWT_ALG_RS256 ? "RS256" : "ES256";
        s.public_key_file = keys.public_file;
        auth::jwt_verifier v{s};
        auto const good = v.verify(sign(alg, keys.private_pem, claims("u", now + 60)), now);
        ASSERT_TRUE(good) << s.algorithm << " " << good.error().message();
        EXPECT_EQ(good->subject, "u");
        // The classic confusion: HMAC keyed with the public key the server holds.
        auto const confused = v.verify(sign(JWT_ALG_HS256, keys.public_pem, claims("u", now + 60)), now);
        EXPECT_FALSE(confused) << s.algorithm;
        auto const other = make_keys(type, param);
        EXPECT_FALSE(v.verify(sign(alg, other.private_pem, claims("u", now + 60)), now)) << s.algorithm;
        std::filesystem::remove(keys.public_file);
    }
}

TEST(JwtVerifier, RefusesABadConfiguration) {
    jwt_settings s;
    EXPECT_THROW(auth::jwt_verifier{s}, config_error);  // HS256 without a secret
    s.algorithm = "RS256";
    s.public_key_file = "/nonexistent.pem";
    EXPECT_THROW(auth::jwt_verifier{s}, config_error);
    s.algorithm = "none";
    EXPECT_THROW(auth::jwt_verifier{s}, config_error);
}
