// `vigil doctor` against the real server: what an operator sees when the
// server is healthy, stopped, or given the wrong token, over plain and TLS.
#include "support/server_process.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

using namespace vigil::test;

namespace {

std::filesystem::path const tls_data = std::filesystem::path{VIGIL_TEST_DATA} / "tls";

struct run_result {
    int status = -1;
    std::string out;
};

// Runs `vigil doctor ARGS` with the given environment prefix; stdout and stderr together.
run_result doctor(std::string const& env, std::string const& args) {
    std::string const cmd = "env -u VIGIL_TOKEN -u VIGIL_JWT_SECRET " + env + " " + VIGIL_BINARY_FOR_TESTS +
                            " doctor " + args + " --timeout 10 2>&1";
    std::unique_ptr<FILE, decltype(&pclose)> pipe{popen(cmd.c_str(), "r"), &pclose};
    run_result r;
    if (!pipe) return r;
    std::array<char, 4096> buf{};
    while (fgets(buf.data(), int(buf.size()), pipe.get())) r.out += buf.data();
    int const raw = pclose(pipe.release());
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    return r;
}

std::string secret_env() { return std::string{"VIGIL_JWT_SECRET="} + test_secret; }

bool has(std::string const& out, std::string const& text) { return out.find(text) != std::string::npos; }

}  // namespace

TEST(Doctor, PassesAgainstARunningServerWithATestAlertEndToEnd) {
    server_process server;
    auto const url = "http://127.0.0.1:" + std::to_string(server.port());
    auto const r =
        doctor(secret_env(), url + " --user doc_user --publisher-token " + token_for("detector", "publisher"));
    EXPECT_EQ(r.status, 0) << r.out;
    for (auto const check : {"ok    reachable", "ok    health", "ok    clock", "ok    token", "ok    signature",
                             "ok    websocket", "ok    ping", "ok    test alert"})
        EXPECT_TRUE(has(r.out, check)) << check << "\n" << r.out;
    EXPECT_TRUE(has(r.out, "0 failing")) << r.out;
}

TEST(Doctor, FailsWithAFixAgainstAStoppedServer) {
    std::uint16_t port = 0;
    {
        server_process server;
        port = server.port();
        server.stop();
    }
    auto const r = doctor(secret_env(), "http://127.0.0.1:" + std::to_string(port) + " --user doc_user");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_TRUE(has(r.out, "FAIL  reachable")) << r.out;
    EXPECT_TRUE(has(r.out, "Connection refused")) << r.out;
    EXPECT_TRUE(has(r.out, "fix: start the server")) << r.out;
}

TEST(Doctor, FailsWithAFixForATokenSignedWithAnotherSecret) {
    server_process server;
    auto const url = "ws://127.0.0.1:" + std::to_string(server.port());
    auto const wrong = token_signed_with("another-secret-0123456789abcdef0123456789", "doc_user");

    // The secret known here: the signature check names the mismatch.
    auto r = doctor(secret_env(), url + " --user doc_user --token " + wrong);
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_TRUE(has(r.out, "FAIL  signature    the token was not signed with VIGIL_JWT_SECRET")) << r.out;
    EXPECT_TRUE(has(r.out, "FAIL  websocket    upgrade refused: HTTP 401")) << r.out;
    EXPECT_TRUE(has(r.out, "invalid_signature")) << r.out;
    EXPECT_TRUE(has(r.out, "fix: the server verifies with another secret")) << r.out;

    // The secret not known: the server's refusal is what tells.
    r = doctor("", url + " --user doc_user --token " + wrong);
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_TRUE(has(r.out, "skip  signature")) << r.out;
    EXPECT_TRUE(has(r.out, "invalid_signature")) << r.out;
}

TEST(Doctor, FailsForAnExpiredTokenAndAnotherUsersToken) {
    server_process server;
    auto const url = "http://127.0.0.1:" + std::to_string(server.port());
    auto r = doctor(secret_env(), url + " --user doc_user --token " + token_for("doc_user", "", -120));
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_TRUE(has(r.out, "FAIL  token")) << r.out;
    EXPECT_TRUE(has(r.out, "expired 2 min ago")) << r.out;
    EXPECT_TRUE(has(r.out, "token_expired")) << r.out;

    r = doctor(secret_env(), url + " --user doc_user --token " + token_for("someone_else"));
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_TRUE(has(r.out, "its subject is not doc_user")) << r.out;
    EXPECT_TRUE(has(r.out, "wrong_user")) << r.out;
}

TEST(Doctor, ChecksTheCertificateOverTls) {
    auto const cert = (tls_data / "cert-a.pem").string();
    server_process server(
        {"--tls-cert", cert, "--tls-key", (tls_data / "key-a.pem").string(), "--tls-port", "0", "--tls-only", "true"});
    auto const url = "wss://localhost:" + std::to_string(server.tls_port());
    auto r = doctor(secret_env(), url + " --user doc_user --ca-file " + cert);
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_TRUE(has(r.out, "ok    tls          certificate /CN=vigil-test-a trusted")) << r.out;
    EXPECT_TRUE(has(r.out, "ok    certificate  valid for")) << r.out;
    EXPECT_TRUE(has(r.out, "ok    ping")) << r.out;

    r = doctor(secret_env(), url + " --user doc_user");  // the test CA not given: not trusted
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_TRUE(has(r.out, "FAIL  tls")) << r.out;
    EXPECT_TRUE(has(r.out, "fix: serve the whole chain")) << r.out;
}
