// TLS (issue 6): https:// and wss:// beside the plain listener, certificate
// reload on SIGHUP without dropping connections, a bad reload keeping the
// old certificate, and --tls-only.
#include "support/clients.hpp"
#include "support/server_process.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace vigil::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

fs::path const tls_data = fs::path{VIGIL_TEST_DATA} / "tls";

// The server reads its certificate from files the test can replace.
struct cert_files {
    fs::path dir = fs::temp_directory_path() / ("vigil-tls-" + std::to_string(::getpid()));
    fs::path cert = dir / "cert.pem";
    fs::path key = dir / "key.pem";

    cert_files() {
        fs::create_directories(dir);
        use("a");
    }
    ~cert_files() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    void use(std::string const& which) {
        fs::copy_file(tls_data / ("cert-" + which + ".pem"), cert, fs::copy_options::overwrite_existing);
        fs::copy_file(tls_data / ("key-" + which + ".pem"), key, fs::copy_options::overwrite_existing);
    }
    std::vector<std::string> flags() const {
        return {"--tls-cert", cert.string(), "--tls-key", key.string(), "--tls-port", "0"};
    }
};

std::string ca(std::string const& which) { return (tls_data / ("cert-" + which + ".pem")).string(); }

json::value alert_for(std::string const& user) {
    return {{"user_id", user}, {"stream_id", "cam_tls"}, {"detection", {{"type", "intrusion"}, {"confidence", 0.5}}}};
}

std::unique_ptr<ws_client> connect_wss(std::uint16_t port, std::string const& user, std::string const& ca_file) {
    http_reply refusal;
    auto c = ws_client::connect(port, "/ws/alerts/" + user + "?token=" + token_for(user), &refusal, {}, ca_file);
    if (!c) throw std::runtime_error("wss refused: " + std::to_string(refusal.status) + " " + refusal.body);
    return c;
}

bool wait_for_log(server_process& server, std::string const& needle) {
    for (int i = 0; i < 100; ++i) {
        if (server.log().find(needle) != std::string::npos) return true;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

}  // namespace

TEST(Tls, HttpsAndWssBesideThePlainListener) {
    cert_files files;
    server_process server(files.flags());
    ASSERT_NE(server.port(), 0);
    ASSERT_NE(server.tls_port(), 0);

    auto const health = https_request(server.tls_port(), ca("a"), "GET", "/health");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.json().at("status"), "ok");
    EXPECT_EQ(http_request(server.port(), "GET", "/health").status, 200);

    // An alert published over plain HTTP reaches a wss:// client, and one
    // published over https:// reaches a plain ws:// client.
    auto secure = connect_wss(server.tls_port(), "tls_alice", ca("a"));
    auto plain = ws_client::connect_user(server.port(), "tls_bob");
    ASSERT_EQ(publish(server.port(), alert_for("tls_alice")).status, 201);
    EXPECT_EQ(secure->read_json().at("stream_id"), "cam_tls");
    auto const r =
        https_request(server.tls_port(), ca("a"), "POST", "/api/v1/alerts", json::serialize(alert_for("tls_bob")),
                      {{"Authorization", "Bearer " + token_for("producer", "publisher")}});
    EXPECT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(plain->read_json().at("stream_id"), "cam_tls");

    // The quick reference's heartbeat works the same over TLS, and a refused
    // upgrade gets its JSON answer through TLS too.
    secure->send_text(R"({"type":"ping"})");
    EXPECT_EQ(secure->read_json().at("type"), "pong");
    http_reply refusal;
    EXPECT_FALSE(ws_client::connect(server.tls_port(), "/ws/alerts/tls_eve?token=nope", &refusal, {}, ca("a")));
    EXPECT_EQ(refusal.status, 401);
    secure->close();
    EXPECT_EQ(http_request(server.port(), "GET", "/health").status, 200);
}

TEST(Tls, PlaintextOrGarbageOnTheTlsPortIsDroppedAndTheServerGoesOn) {
    cert_files files;
    server_process server(files.flags());
    // A plain HTTP request to the TLS port is not a TLS ClientHello: the
    // handshake fails and the connection closes without an answer.
    EXPECT_EQ(raw_exchange(server.tls_port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").find("HTTP/1.1 200"),
              std::string::npos);
    EXPECT_EQ(raw_exchange(server.tls_port(), std::string(5000, '\x16')).find("200"), std::string::npos);
    EXPECT_EQ(https_request(server.tls_port(), ca("a"), "GET", "/health").status, 200);
    EXPECT_TRUE(server.running());
}

TEST(Tls, SighupReloadsTheCertificateWithoutDroppingConnections) {
    cert_files files;
    server_process server(files.flags());
    EXPECT_EQ(tls_peer_subject(server.tls_port()), "/CN=vigil-test-a");
    auto before = connect_wss(server.tls_port(), "reload_user", ca("a"));

    files.use("b");
    ::kill(server.pid(), SIGHUP);
    ASSERT_TRUE(wait_for_log(server, "\"event\":\"tls.reloaded\"")) << server.log();

    // New connections get the new certificate...
    EXPECT_EQ(tls_peer_subject(server.tls_port()), "/CN=vigil-test-b");
    auto after = connect_wss(server.tls_port(), "reload_user2", ca("b"));
    // ...and the one opened before the reload is still served.
    ASSERT_EQ(publish(server.port(), alert_for("reload_user")).status, 201);
    EXPECT_EQ(before->read_json().at("stream_id"), "cam_tls");
    ASSERT_EQ(publish(server.port(), alert_for("reload_user2")).status, 201);
    EXPECT_EQ(after->read_json().at("stream_id"), "cam_tls");
}

// notAfter of a PEM certificate, Unix time.
std::int64_t not_after(std::string const& pem_file) {
    std::unique_ptr<FILE, decltype(&fclose)> f{fopen(pem_file.c_str(), "r"), &fclose};
    std::unique_ptr<X509, decltype(&X509_free)> cert{PEM_read_X509(f.get(), nullptr, nullptr, nullptr), &X509_free};
    std::tm tm{};
    ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm);
    return timegm(&tm);
}

TEST(Tls, MetricsShowTheExpiryOfTheCertificateInUse) {
    cert_files files;
    auto flags = files.flags();
    flags.insert(flags.end(), {"--admin-api-keys", "admin-key-1"});
    server_process server(flags);
    auto expiry = [&] {
        auto const m = http_request(server.port(), "GET", "/metrics", {}, {{"X-API-Key", "admin-key-1"}}).body;
        auto const at = m.find("\nvigil_tls_certificate_expiry_seconds ");
        return at == std::string::npos ? std::int64_t{-1} : std::int64_t(std::stod(m.substr(m.find(' ', at + 1))));
    };
    EXPECT_EQ(expiry(), not_after(ca("a")));
    files.use("c");
    ::kill(server.pid(), SIGHUP);
    ASSERT_TRUE(wait_for_log(server, "\"event\":\"tls.reloaded\"")) << server.log();
    EXPECT_EQ(expiry(), not_after(ca("c")));
    EXPECT_NE(not_after(ca("a")), not_after(ca("c")));
}

TEST(Tls, AReloadThatFailsKeepsTheCurrentCertificate) {
    cert_files files;
    server_process server(files.flags());
    { std::ofstream{files.key} << "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"; }
    ::kill(server.pid(), SIGHUP);
    ASSERT_TRUE(wait_for_log(server, "\"event\":\"tls.reload_failed\"")) << server.log();
    EXPECT_EQ(tls_peer_subject(server.tls_port()), "/CN=vigil-test-a");
    EXPECT_EQ(https_request(server.tls_port(), ca("a"), "GET", "/health").status, 200);

    // A certificate whose key does not match is refused the same way.
    files.use("a");
    fs::copy_file(tls_data / "key-b.pem", files.key, fs::copy_options::overwrite_existing);
    ::kill(server.pid(), SIGHUP);
    ASSERT_TRUE(wait_for_log(server, "mismatch")) << server.log();
    EXPECT_EQ(tls_peer_subject(server.tls_port()), "/CN=vigil-test-a");
}

TEST(Tls, TlsOnlyRunsNoPlainListenerAndBadFilesStopStartup) {
    cert_files files;
    auto flags = files.flags();
    flags.push_back("--tls-only");
    flags.push_back("true");
    server_process server(flags);
    EXPECT_EQ(server.port(), 0);
    EXPECT_EQ(https_request(server.tls_port(), ca("a"), "GET", "/health").status, 200);

    EXPECT_THROW(server_process({"--tls-cert", files.cert.string(), "--tls-key", "/nonexistent/key.pem"}),
                 std::runtime_error);
    EXPECT_THROW(server_process({"--tls-cert", files.cert.string()}), std::runtime_error);
}
