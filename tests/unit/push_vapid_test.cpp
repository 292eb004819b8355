// VAPID (RFC 8292): the key pair kept in the data directory or given as PEM,
// the public key as pages and the API serve it, and a JWT that a push
// service's own verification accepts.
#include "common/base64.hpp"
#include "push/vapid.hpp"
#include "support/vapid_check.hpp"

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <thread>

namespace {

namespace fs = std::filesystem;
using namespace vigil::push;
using vigil::test::verify_vapid;

// Made with `openssl ecparam -genkey -name prime256v1 -noout`; the public key
// below came from `openssl ec -pubout`, not from vigil.
constexpr char sec1_pem[] = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIA7hz/qDxV4RgKee4Di2TmsoPZPWB8htxgITk6bPNz2PoAoGCCqGSM49
AwEHoUQDQgAEyJ6PsDyJrtfDHRFtkFmSxY6PeJrRveqW4jrECi8TFIlYaxx6jZ5S
7OaSH4Nzwd+vpho30es/MjjIKARDz635ow==
-----END EC PRIVATE KEY-----
)";
constexpr char pkcs8_pem[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDuHP+oPFXhGAp57g
OLZOayg9k9YHyG3GAhOTps83PY+hRANCAATIno+wPImu18MdEW2QWZLFjo94mtG9
6pbiOsQKLxMUiVhrHHqNnlLs5pIfg3PB36+mGjfR6z8yOMgoBEPPrfmj
-----END PRIVATE KEY-----
)";
constexpr char pem_public_key[] =
    "BMiej7A8ia7Xwx0RbZBZksWOj3ia0b3qluI6xAovExSJWGsceo2eUuzmkh-Dc8Hfr6YaN9HrPzI4yCgEQ8-t-aM";

struct scratch_dir {
    fs::path path = fs::temp_directory_path() / ("vigil-vapid-" + std::to_string(::getpid()) + "-" +
                                                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
    scratch_dir() { fs::remove_all(path); }
    ~scratch_dir() { fs::remove_all(path); }
    fs::path write(std::string const& name, std::string_view text) const {
        fs::create_directories(path);
        std::ofstream{path / name, std::ios::binary} << text;
        return path / name;
    }
};

std::string pem_of(EVP_PKEY* key, EVP_CIPHER const* cipher = nullptr) {
    BIO* bio = BIO_new(BIO_s_mem());
    char pass[] = "secret";
    PEM_write_bio_PrivateKey(bio, key, cipher, cipher ? reinterpret_cast<unsigned char*>(pass) : nullptr,
                             cipher ? 6 : 0, nullptr, nullptr);
    char* data = nullptr;
    long const n = BIO_get_mem_data(bio, &data);
    std::string out(data, std::size_t(n));
    BIO_free(bio);
    return out;
}

TEST(PushVapid, GeneratesTheKeyOnceIntoTheDataDirectoryReadableOnlyByItsOwner) {
    scratch_dir dir;
    auto const first = vapid_key::load_or_create(dir.path / "data");
    fs::path const file = dir.path / "data" / "vapid_private_key.pem";
    ASSERT_TRUE(fs::exists(file));
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    // Only the key file: the temporary one is gone.
    EXPECT_EQ(std::distance(fs::directory_iterator{dir.path / "data"}, fs::directory_iterator{}), 1);

    auto const point = vigil::base64url_decode(first.public_key());
    ASSERT_TRUE(point);
    EXPECT_EQ(point->size(), 65u);
    EXPECT_EQ((*point)[0], '\x04');

    auto const again = vapid_key::load_or_create(dir.path / "data");
    EXPECT_EQ(again.public_key(), first.public_key());
    EXPECT_EQ(vapid_key::load(file).public_key(), first.public_key());
}

TEST(PushVapid, ProcessesStartingTogetherAgreeOnOneKey) {
    scratch_dir dir;
    std::vector<std::future<std::string>> starts;
    for (int i = 0; i < 8; ++i)
        starts.push_back(
            std::async(std::launch::async, [&] { return vapid_key::load_or_create(dir.path).public_key(); }));
    std::string const key = starts.front().get();
    for (std::size_t i = 1; i < starts.size(); ++i) EXPECT_EQ(starts[i].get(), key);
    EXPECT_EQ(vapid_key::load_or_create(dir.path).public_key(), key);
}

TEST(PushVapid, LoadsAGivenPemKeyInEitherFormat) {
    scratch_dir dir;
    EXPECT_EQ(vapid_key::load(dir.write("sec1.pem", sec1_pem)).public_key(), pem_public_key);
    EXPECT_EQ(vapid_key::load(dir.write("pkcs8.pem", pkcs8_pem)).public_key(), pem_public_key);
    // A generated key survives its own PEM.
    auto const generated = p256_key::generate();
    auto const point = generated.public_point();
    EXPECT_EQ(vapid_key::load(dir.write("generated.pem", generated.private_pem())).key().public_point(), point);
}

TEST(PushVapid, RefusesFilesThatAreNotAnUnencryptedP256PrivateKey) {
    scratch_dir dir;
    EXPECT_THROW(vapid_key::load(dir.path / "absent.pem"), vapid_error);
    EXPECT_THROW(vapid_key::load(dir.write("garbage.pem", "not a key")), vapid_error);
    EVP_PKEY* p384 = EVP_EC_gen("P-384");
    EXPECT_THROW(vapid_key::load(dir.write("p384.pem", pem_of(p384))), vapid_error);
    EVP_PKEY_free(p384);
    EVP_PKEY* rsa = EVP_RSA_gen(2048);
    EXPECT_THROW(vapid_key::load(dir.write("rsa.pem", pem_of(rsa))), vapid_error);
    EVP_PKEY_free(rsa);
    // Encrypted: refused without asking a terminal for the passphrase.
    auto const key = p256_key::generate();
    EXPECT_THROW(vapid_key::load(dir.write("encrypted.pem", pem_of(key.native(), EVP_aes_128_cbc()))), vapid_error);
    // A public key is not enough to sign.
    std::string const pub =
        "-----BEGIN PUBLIC KEY-----\n"
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEyJ6PsDyJrtfDHRFtkFmSxY6PeJrR\n"
        "veqW4jrECi8TFIlYaxx6jZ5S7OaSH4Nzwd+vpho30es/MjjIKARDz635ow==\n"
        "-----END PUBLIC KEY-----\n";
    EXPECT_THROW(vapid_key::load(dir.write("public.pem", pub)), vapid_error);
    try {
        vapid_key::load(dir.write("garbage2.pem", "x"));
    } catch (vapid_error const& e) {
        EXPECT_NE(std::string{e.what()}.find("garbage2.pem"), std::string::npos) << e.what();
    }
}

TEST(PushVapid, TheJwtVerifiesWithTheServedPublicKey) {
    vapid_key const key{p256_key::generate()};
    std::int64_t const now = 1'750'000'000;
    auto const header = key.authorization("https://fcm.googleapis.com", "mailto:ops@example.com", now);
    std::string why;
    auto const token = verify_vapid(header, key.public_key(), &why);
    ASSERT_TRUE(token) << why;
    EXPECT_EQ(token->header_json, R"({"typ":"JWT","alg":"ES256"})");
    EXPECT_EQ(token->aud, "https://fcm.googleapis.com");
    EXPECT_EQ(token->sub, "mailto:ops@example.com");
    EXPECT_GT(token->exp, now);
    EXPECT_LE(token->exp, now + 24 * 3600);
    EXPECT_EQ(token->exp, now + vapid_default_ttl_seconds);
    // Two signatures of the same claims differ (ECDSA is randomised) and both verify.
    EXPECT_TRUE(
        verify_vapid(key.authorization("https://fcm.googleapis.com", "mailto:ops@example.com", now), key.public_key()));
}

TEST(PushVapid, AnotherKeyOrAnAlteredTokenDoesNotVerify) {
    vapid_key const key{p256_key::generate()};
    vapid_key const other{p256_key::generate()};
    auto const header = key.authorization("https://updates.push.services.mozilla.com", "https://example.com/", 1000);
    EXPECT_FALSE(verify_vapid(header, other.public_key()));
    // The claims signed for one audience cannot be moved to another.
    auto const t = header.substr(8, header.find(',') - 8);
    auto const dot1 = t.find('.');
    auto const dot2 = t.find('.', dot1 + 1);
    std::string const forged_claims =
        vigil::base64url_encode(R"({"aud":"https://evil.example","exp":4000,"sub":"https://example.com/"})");
    std::string const forged =
        "vapid t=" + t.substr(0, dot1 + 1) + forged_claims + t.substr(dot2) + ", k=" + key.public_key();
    EXPECT_FALSE(verify_vapid(forged, key.public_key()));
    std::string flipped = header;
    flipped[header.find(',') - 3] = flipped[header.find(',') - 3] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(verify_vapid(flipped, key.public_key()));
}

TEST(PushVapid, ExpiryIsNeverMoreThan24HoursAhead) {
    vapid_key const key{p256_key::generate()};
    auto const long_ttl =
        verify_vapid(key.authorization("https://a.example", "mailto:a@b.c", 5000, 7 * 24 * 3600), key.public_key());
    ASSERT_TRUE(long_ttl);
    EXPECT_EQ(long_ttl->exp, 5000 + 24 * 3600);
    auto const short_ttl =
        verify_vapid(key.authorization("https://a.example", "mailto:a@b.c", 5000, 0), key.public_key());
    ASSERT_TRUE(short_ttl);
    EXPECT_EQ(short_ttl->exp, 5000 + 60);
}

TEST(PushVapid, SubjectsAreMailtoOrHttpsContacts) {
    EXPECT_TRUE(valid_vapid_subject("mailto:ops@example.com"));
    EXPECT_TRUE(valid_vapid_subject("https://example.com/contact"));
    EXPECT_FALSE(valid_vapid_subject(""));
    EXPECT_FALSE(valid_vapid_subject("ops@example.com"));
    EXPECT_FALSE(valid_vapid_subject("mailto:"));
    EXPECT_FALSE(valid_vapid_subject("mailto:@example.com"));
    EXPECT_FALSE(valid_vapid_subject("http://example.com"));
    EXPECT_FALSE(valid_vapid_subject("https://"));
    EXPECT_FALSE(valid_vapid_subject("mailto:a@b.c\r\nX: y"));
    EXPECT_FALSE(valid_vapid_subject("mailto:" + std::string(250, 'a') + "@b.c"));
}

}  // namespace
