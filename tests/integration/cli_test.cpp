// The bundled tools as a user runs them: vigil publish and vigil listen over
// https:// and wss:// (certificates checked), their hints, and vigil token
// for a server that checks iss and aud.
#include "auth/jwt_verifier.hpp"
#include "support/clients.hpp"
#include "support/command.hpp"
#include "support/server_process.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include <unistd.h>

using namespace vigil::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

fs::path const tls_data = fs::path{VIGIL_TEST_DATA} / "tls";
std::string const ca_a = (tls_data / "cert-a.pem").string();
std::vector<std::string> const with_secret = {std::string{"VIGIL_JWT_SECRET="} + test_secret};

std::vector<std::string> tls_flags() {
    return {"--tls-cert", ca_a, "--tls-key", (tls_data / "key-a.pem").string(), "--tls-port", "0"};
}

bool contains(std::string const& text, std::string const& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST(Cli, PublishAndListenOverTlsWithTheDetectionAsWritten) {
    server_process server(tls_flags());
    auto const tls_url = "localhost:" + std::to_string(server.tls_port());
    running_command listen({"listen", "--url", "wss://" + tls_url, "--ca-file", ca_a, "--user", "cli_tls"},
                           with_secret);
    for (int i = 0; i < 500 && !contains(listen.err(), "vigil listen: open"); ++i) std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(contains(listen.err(), "vigil listen: open")) << listen.err();

    auto const published =
        run_vigil({"publish", "--url", "https://" + tls_url, "--ca-file", ca_a, "--user", "cli_tls", "--stream",
                   "cam-1", "--detection", R"({"type": "intrusion", "confidence": 0.93})"},
                  with_secret);
    EXPECT_EQ(published.exit_code, 0) << published.out << published.err;
    EXPECT_TRUE(contains(published.out, R"("alert_id")")) << published.out;
    EXPECT_TRUE(listen.wait_for_output(R"("detection":{"type":"intrusion","confidence":0.93})")) << listen.out();
    EXPECT_EQ(listen.stop(), 0);
}

TEST(Cli, UntrustedCertificatesAreRefusedUnlessInsecure) {
    server_process server(tls_flags());
    auto const url = "https://localhost:" + std::to_string(server.tls_port());
    std::vector<std::string> const alert = {"--user", "u", "--stream", "s", "--detection", "{}"};
    auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> args = {"publish", "--url", url};
        args.insert(args.end(), extra.begin(), extra.end());
        args.insert(args.end(), alert.begin(), alert.end());
        return run_vigil(args, with_secret);
    };
    auto const untrusted = with({});
    EXPECT_EQ(untrusted.exit_code, 1);
    EXPECT_TRUE(contains(untrusted.err, "certificate verify failed")) << untrusted.err;
    EXPECT_TRUE(contains(untrusted.err, "--ca-file")) << untrusted.err;
    EXPECT_EQ(with({"--ca-file", (tls_data / "cert-b.pem").string()}).exit_code, 1);  // another certificate
    auto const insecure = with({"--insecure"});
    EXPECT_EQ(insecure.exit_code, 0) << insecure.err;
    EXPECT_TRUE(contains(insecure.err, "not checked"));

    // vigil listen stops at once rather than retry a certificate it cannot trust.
    auto const listen = run_vigil(
        {"listen", "--url", "wss://localhost:" + std::to_string(server.tls_port()), "--user", "u"}, with_secret, 20s);
    EXPECT_EQ(listen.exit_code, 1) << listen.err;
    EXPECT_TRUE(contains(listen.err, "--ca-file")) << listen.err;
}

TEST(Cli, UrlWithoutSchemeSuggestsTheOneMeant) {
    auto const publish =
        run_vigil({"publish", "--url", "localhost:8101", "--user", "u", "--stream", "s", "--detection", "{}"});
    EXPECT_NE(publish.exit_code, 0);
    EXPECT_TRUE(contains(publish.err, "did you mean http://localhost:8101")) << publish.err;
    auto const listen = run_vigil({"listen", "--url", "localhost:8101", "--user", "u"});
    EXPECT_NE(listen.exit_code, 0);
    EXPECT_TRUE(contains(listen.err, "did you mean ws://localhost:8101")) << listen.err;
    auto const plain_with_ca = run_vigil({"publish", "--url", "http://localhost:8101", "--ca-file", ca_a, "--user", "u",
                                          "--stream", "s", "--detection", "{}"});
    EXPECT_TRUE(contains(plain_with_ca.err, "https://")) << plain_with_ca.err;
}

TEST(Cli, TokenReadsTheServersConfigAndSetsIssuerAndAudience) {
    auto const file = fs::temp_directory_path() / ("vigil-token-" + std::to_string(::getpid()) + ".toml");
    std::ofstream{file} << "[jwt]\nsecret = \"file-secret-0123456789abcdef0123\"\nissuer = \"https://idp.example\"\n"
                           "audience = \"vigil\"\n";
    auto const minted = run_vigil({"token", "--config", file.string(), "--user", "cli_user", "--role", "publisher"});
    ASSERT_EQ(minted.exit_code, 0) << minted.err;
    auto token = minted.out;
    while (!token.empty() && token.back() == '\n') token.pop_back();

    vigil::jwt_settings s;
    s.secret = "file-secret-0123456789abcdef0123";
    s.issuer = "https://idp.example";
    s.audience = "vigil";
    vigil::auth::jwt_verifier const verifier{s};
    auto const claims = verifier.verify(token, std::time(nullptr));
    ASSERT_TRUE(claims) << claims.error().message();
    EXPECT_EQ(claims->subject, "cli_user");
    EXPECT_TRUE(claims->can_publish());

    // A server with that file takes it.
    server_process server({"--config", file.string()}, {}, {"VIGIL_JWT_SECRET="});
    auto const r =
        http_request(server.port(), "POST", "/api/v1/alerts", R"({"user_id":"u","stream_id":"s","detection":{}})",
                     {{"Authorization", "Bearer " + token}});
    EXPECT_EQ(r.status, 201) << r.body;

    // --issuer and --audience win over the file's.
    auto const other =
        run_vigil({"token", "--config", file.string(), "--user", "u", "--issuer", "https://other.example"});
    auto other_token = other.out.substr(0, other.out.find('\n'));
    EXPECT_EQ(verifier.verify(other_token, std::time(nullptr)).error(), vigil::auth::auth_error::wrong_issuer);

    // Without a secret anywhere it says where one comes from.
    auto const none = run_vigil({"token", "--user", "u"}, {"VIGIL_JWT_SECRET="});
    EXPECT_EQ(none.exit_code, 2);
    EXPECT_TRUE(contains(none.err, "VIGIL_JWT_SECRET")) << none.err;
    fs::remove(file);
}

// `vigil listen` prints what happens to an alert too (docs/handling.md):
// an acknowledgement made elsewhere arrives as an alert_updated line.
TEST(Cli, ListenPrintsUpdatesToItsAlerts) {
    server_process server;
    auto const url = "localhost:" + std::to_string(server.port());
    running_command listen({"listen", "--url", "ws://" + url, "--user", "cli_updates"}, with_secret);
    for (int i = 0; i < 500 && !contains(listen.err(), "vigil listen: open"); ++i) std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(contains(listen.err(), "vigil listen: open")) << listen.err();
    auto const published =
        publish(server.port(), {{"user_id", "cli_updates"}, {"stream_id", "cam-2"}, {"detection", {{"type", "x"}}}});
    ASSERT_EQ(published.status, 201);
    std::string const id{published.json().at("alert_id").as_string()};
    ASSERT_TRUE(listen.wait_for_output(id)) << listen.out();
    auto const ack = http_request(server.port(), "POST", "/api/v1/alerts/" + id + "/ack", {},
                                  {{"Authorization", "Bearer " + token_for("cli_updates")}});
    ASSERT_EQ(ack.status, 200) << ack.body;
    EXPECT_TRUE(listen.wait_for_output(R"("type":"alert_updated")")) << listen.out();
    EXPECT_TRUE(listen.wait_for_output(R"("owner":"cli_updates")")) << listen.out();
    EXPECT_EQ(listen.stop(), 0);
}
