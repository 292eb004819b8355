// RFC 8291 message encryption: the RFC's own example byte for byte, each step
// of its key schedule, and decryption that refuses what is not a whole,
// authentic single record.
#include "common/base64.hpp"
#include "push/ece.hpp"
#include "support/vapid_check.hpp"

#include <gtest/gtest.h>

#include <openssl/evp.h>

namespace {

using namespace vigil::push;
using vigil::test::b64url_decode;

std::string b64(std::string_view text) {
    auto out = b64url_decode(text);
    if (!out) throw std::invalid_argument("bad test vector");
    return *out;
}

// RFC 8291 Appendix A (its line breaks removed).
struct rfc8291 {
    std::string plaintext = "When I grow up, I want to be a watermelon";
    std::string as_public =
        b64("BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8");
    std::string as_private = b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw");
    std::string ua_public =
        b64("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4");
    std::string ua_private = b64("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94");
    std::string salt = b64("DGv6ra1nlYgDCS1FRnbzlw");
    std::string auth = b64("BTBZMqHH6r4Tts7J_aSIgg");
    std::string ecdh_secret = b64("kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs");
    std::string ikm = b64("S4lYMb_L0FxCeq0WhDx813KgSYqU26kOyzWUdsXYyrg");
    std::string cek = b64("oIhVW04MRdy2XN9CiKLxTg");
    std::string nonce = b64("4h_95klXJ5E_qnoN");
    std::string body =
        b64("DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_"
            "c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_"
            "yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN");
};

p256_key key_of(std::string const& scalar) {
    auto k = p256_key::from_private_scalar(scalar);
    if (!k) throw std::invalid_argument("bad scalar");
    return std::move(*k);
}

TEST(PushEce, ReproducesRfc8291AppendixAByteForByte) {
    rfc8291 const v;
    auto const sender = key_of(v.as_private);
    ASSERT_EQ(sender.public_point(), v.as_public);
    auto const body = ece_encrypt(v.plaintext, v.ua_public, v.auth, {.salt = v.salt, .sender = &sender});
    ASSERT_TRUE(body) << body.error().message();
    EXPECT_EQ(vigil::base64url_encode(*body), vigil::base64url_encode(v.body));
    EXPECT_EQ(body->size(), ece_header_size + v.plaintext.size() + 1 + ece_tag_size);
}

TEST(PushEce, EachStepOfTheKeyScheduleMatchesTheRfc) {
    rfc8291 const v;
    auto const sender = key_of(v.as_private);
    auto const receiver = key_of(v.ua_private);
    EXPECT_EQ(receiver.public_point(), v.ua_public);
    auto const peer = p256_key::from_public_point(v.ua_public);
    ASSERT_TRUE(peer);
    EXPECT_EQ(sender.derive(*peer), v.ecdh_secret);
    EXPECT_EQ(receiver.derive(*p256_key::from_public_point(v.as_public)), v.ecdh_secret);
    auto const keys = ece_derive_keys(v.ecdh_secret, v.auth, v.ua_public, v.as_public, v.salt);
    ASSERT_TRUE(keys);
    EXPECT_EQ(keys->ikm, v.ikm);
    EXPECT_EQ(keys->cek, v.cek);
    EXPECT_EQ(keys->nonce, v.nonce);
}

TEST(PushEce, DecryptsTheRfcMessage) {
    rfc8291 const v;
    auto const text = ece_decrypt(v.body, key_of(v.ua_private), v.auth);
    ASSERT_TRUE(text) << text.error().message();
    EXPECT_EQ(*text, v.plaintext);
}

TEST(PushEce, FreshSaltAndKeyForEveryMessage) {
    rfc8291 const v;
    auto const a = ece_encrypt(v.plaintext, v.ua_public, v.auth);
    auto const b = ece_encrypt(v.plaintext, v.ua_public, v.auth);
    ASSERT_TRUE(a && b);
    EXPECT_NE(a->substr(0, ece_salt_size), b->substr(0, ece_salt_size));
    EXPECT_NE(a->substr(21, p256_point_size), b->substr(21, p256_point_size));
    EXPECT_NE(a->substr(21, p256_point_size), v.as_public);
    // Header: record size 4096, key id of 65 bytes.
    EXPECT_EQ(a->substr(16, 5), std::string("\x00\x00\x10\x00\x41", 5));
    EXPECT_EQ(ece_decrypt(*a, key_of(v.ua_private), v.auth).value(), v.plaintext);
    EXPECT_EQ(ece_decrypt(*b, key_of(v.ua_private), v.auth).value(), v.plaintext);
}

TEST(PushEce, RoundTripsEverySizeUpToTheLimit) {
    auto const receiver = p256_key::generate();
    std::string const auth(16, '\x5a');
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{100}, ece_max_plaintext_size}) {
        std::string plaintext(n, '\0');
        for (std::size_t i = 0; i < n; ++i) plaintext[i] = char(i * 7 + 1);
        if (n) plaintext.back() = '\0';  // a trailing zero is the payload's, not padding
        auto const body = ece_encrypt(plaintext, receiver.public_point(), auth);
        ASSERT_TRUE(body) << n;
        EXPECT_LE(body->size(), 4096u);
        auto const text = ece_decrypt(*body, receiver, auth);
        ASSERT_TRUE(text) << n << ": " << text.error().message();
        EXPECT_EQ(*text, plaintext);
    }
    EXPECT_EQ(ece_encrypt(std::string(ece_max_plaintext_size + 1, 'x'), receiver.public_point(), auth).error(),
              ece_error::plaintext_too_large);
}

TEST(PushEce, RefusesSubscriptionKeysThatAreNotKeys) {
    rfc8291 const v;
    std::string off_curve = v.ua_public;
    off_curve[40] ^= 1;
    EXPECT_EQ(ece_encrypt("x", off_curve, v.auth).error(), ece_error::bad_subscriber_key);
    EXPECT_EQ(ece_encrypt("x", v.ua_public.substr(1), v.auth).error(), ece_error::bad_subscriber_key);
    std::string compressed = v.ua_public;
    compressed[0] = 0x02;
    EXPECT_EQ(ece_encrypt("x", compressed, v.auth).error(), ece_error::bad_subscriber_key);
    EXPECT_EQ(ece_encrypt("x", v.ua_public, v.auth.substr(1)).error(), ece_error::bad_auth_secret);
}

TEST(PushEce, AWrongAuthSecretOrKeyDoesNotDecrypt) {
    rfc8291 const v;
    std::string wrong_auth = v.auth;
    wrong_auth[0] ^= 1;
    EXPECT_EQ(ece_decrypt(v.body, key_of(v.ua_private), wrong_auth).error(), ece_error::authentication_failed);
    EXPECT_EQ(ece_decrypt(v.body, p256_key::generate(), v.auth).error(), ece_error::authentication_failed);
    EXPECT_EQ(ece_decrypt(v.body, key_of(v.ua_private), "short").error(), ece_error::bad_auth_secret);
    // A public key alone cannot decrypt.
    EXPECT_EQ(ece_decrypt(v.body, *p256_key::from_public_point(v.ua_public), v.auth).error(),
              ece_error::bad_subscriber_key);
}

TEST(PushEce, EveryTruncationAndEveryFlippedByteIsRefused) {
    rfc8291 const v;
    auto const receiver = key_of(v.ua_private);
    for (std::size_t n = 0; n < v.body.size(); ++n) {
        auto const r = ece_decrypt(v.body.substr(0, n), receiver, v.auth);
        ASSERT_FALSE(r) << "truncated to " << n;
        // Short of a header, a tag and a delimiter, it says so without trying.
        EXPECT_EQ(r.error(), n < ece_header_size + ece_tag_size + 1 ? make_error_code(ece_error::truncated)
                                                                    : make_error_code(ece_error::authentication_failed))
            << n;
    }
    for (std::size_t i = 0; i < v.body.size(); ++i) {
        // The record size is not authenticated: any size that still holds
        // the one record reads the same (RFC 8188 section 2.1).
        if (i >= 16 && i < 20) continue;
        std::string altered = v.body;
        altered[i] ^= 0x40;
        EXPECT_FALSE(ece_decrypt(altered, receiver, v.auth)) << "byte " << i;
    }
}

TEST(PushEce, RefusesHeadersRfc8291DoesNotAllow) {
    rfc8291 const v;
    auto const receiver = key_of(v.ua_private);
    std::string body = v.body;
    body[20] = 64;  // key id length
    EXPECT_EQ(ece_decrypt(body, receiver, v.auth).error(), ece_error::bad_header);
    body = v.body;
    body[16] = body[17] = body[18] = 0;
    body[19] = 17;  // record size below 18
    EXPECT_EQ(ece_decrypt(body, receiver, v.auth).error(), ece_error::bad_header);
    body[19] = 18;  // the 58-byte record is longer than 18: more than one record
    EXPECT_EQ(ece_decrypt(body, receiver, v.auth).error(), ece_error::multiple_records);
}

// Seals a record with the RFC's keys but other content than plaintext || 0x02.
std::string seal_raw(rfc8291 const& v, std::string const& padded) {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    std::string out(padded.size() + 16, '\0');
    auto* o = reinterpret_cast<unsigned char*>(out.data());
    int n = 0, f = 0;
    EVP_EncryptInit_ex2(ctx, EVP_aes_128_gcm(), reinterpret_cast<unsigned char const*>(v.cek.data()),
                        reinterpret_cast<unsigned char const*>(v.nonce.data()), nullptr);
    EVP_EncryptUpdate(ctx, o, &n, reinterpret_cast<unsigned char const*>(padded.data()), int(padded.size()));
    EVP_EncryptFinal_ex(ctx, o + n, &f);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, o + padded.size());
    EVP_CIPHER_CTX_free(ctx);
    return v.body.substr(0, ece_header_size) + out;
}

TEST(PushEce, ARecordMustEndWithTheFinalDelimiterAndZeros) {
    rfc8291 const v;
    auto const receiver = key_of(v.ua_private);
    EXPECT_EQ(ece_decrypt(seal_raw(v, v.plaintext + "\x02"), receiver, v.auth).value(), v.plaintext);
    EXPECT_EQ(ece_decrypt(seal_raw(v, v.plaintext + std::string("\x02\0\0\0", 4)), receiver, v.auth).value(),
              v.plaintext);
    EXPECT_EQ(ece_decrypt(seal_raw(v, v.plaintext + "\x01"), receiver, v.auth).error(), ece_error::bad_padding);
    EXPECT_EQ(ece_decrypt(seal_raw(v, v.plaintext), receiver, v.auth).error(), ece_error::bad_padding);
    EXPECT_EQ(ece_decrypt(seal_raw(v, std::string(8, '\0')), receiver, v.auth).error(), ece_error::bad_padding);
}

}  // namespace
