// The embedding API (the quick reference's backend usage) and the CLI's token
// minting, checked with real clients.
#include "app/server.hpp"
#include "auth/jwt_verifier.hpp"
#include "support/clients.hpp"
#include "support/server_process.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <memory>

using namespace vigil::test;

namespace {

vigil::settings embedded_settings() {
    vigil::settings s;
    s.host = "127.0.0.1";
    s.port = 0;
    s.threads = 1;
    s.store.engine = "memory";
    s.jwt.secret = test_secret;
    s.log_level = "warn";
    return s;
}

}  // namespace

TEST(EmbeddingApi, SendAnomalyAlertAndConnectionStats) {
    vigil::server server{embedded_settings()};
    server.start();
    auto& ws_manager = server.embedding();

    EXPECT_FALSE(ws_manager.get_connection_stats("user_123"));
    auto client = ws_client::connect_user(server.port(), "user_123");
    client->send_text(R"({"type":"ping"})");
    EXPECT_EQ(client->read_json().at("type"), "pong");

    boost::json::value detection = {{"type", "intrusion"}, {"confidence", 0.93}};
    std::string const png = std::string{"\x89PNG\r\n\x1A\n", 8} + "rest-of-image";
    auto const result =
        ws_manager.send_anomaly_alert("user_123", "stream_456", detection, vigil::annotated_frame{"", png}).get();
    EXPECT_TRUE(result.delivered);
    EXPECT_EQ(result.seq, 1u);

    auto const m = client->read_json();
    EXPECT_EQ(m.at("type"), "anomaly_detected");
    EXPECT_EQ(m.at("alert_id"), result.alert_id.c_str());
    EXPECT_EQ(m.at("stream_id"), "stream_456");
    EXPECT_EQ(m.at("frame").at("content_type"), "image/png");

    auto const stats = ws_manager.get_connection_stats("user_123");
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->user_id, "user_123");
    EXPECT_TRUE(stats->connected);
    EXPECT_GE(stats->uptime_seconds, 0);
    EXPECT_FALSE(stats->connected_at.empty());
    EXPECT_EQ(ws_manager.get_all_connection_stats().size(), 1u);

    EXPECT_THROW(ws_manager.send_anomaly_alert("bad user", "s", detection), std::invalid_argument);
    EXPECT_THROW(ws_manager.send_anomaly_alert("u", "s", boost::json::value{42}), std::invalid_argument);
    EXPECT_THROW(ws_manager.send_anomaly_alert("u", "s", detection, vigil::annotated_frame{"", "not an image"}),
                 std::invalid_argument);
    client->close();
    server.request_stop();
    server.wait();
}

// An embedded publish goes through the HTTP API's check, with the server's
// configured limits: each limit refuses it before anything is stored.
TEST(EmbeddingApi, SendAnomalyAlertHoldsToTheLimitsOfAnHttpPublish) {
    auto settings = embedded_settings();
    settings.limits.max_frame_bytes = 1024;
    vigil::server server{settings};
    server.start();
    auto& api = server.embedding();
    boost::json::value const detection = {{"type", "intrusion"}, {"confidence", 0.93}};
    std::string const png = std::string{"\x89PNG\r\n\x1A\n", 8} + "rest-of-image";

    auto refusal = [&](auto&& send) -> std::string {
        try {
            send();
        } catch (vigil::alert_rejected const& e) {
            return e.error.code;
        }
        return "accepted";
    };
    EXPECT_EQ(refusal([&] { api.send_anomaly_alert("u", "s", detection, {}, std::string(257, 'k')).get(); }),
              "invalid_alert");
    boost::json::value const huge = {{"blob", std::string(64 * 1024, 'x')}};
    EXPECT_EQ(refusal([&] { api.send_anomaly_alert("u", "s", huge).get(); }), "detection_too_large");
    EXPECT_EQ(
        refusal([&] {
            api.send_anomaly_alert("u", "s", detection, vigil::annotated_frame{"", png + std::string(1024, 'x')}).get();
        }),
        "frame_too_large");
    EXPECT_EQ(refusal([&] { api.send_anomaly_alert("u", std::string(257, 's'), detection).get(); }), "invalid_alert");
    EXPECT_EQ(refusal([&] {
                  api.send_anomaly_alert("u", "s", detection, vigil::annotated_frame{"image/jpeg", png}).get();
              }),
              "unsupported_media_type");
    EXPECT_EQ(refusal([&] {
                  api.send_anomaly_alert_async("u", "s", detection, vigil::annotated_frame{"", "not an image"},
                                               [](vigil::publish_outcome) {});
              }),
              "unsupported_media_type");
    EXPECT_TRUE(server.embedding().get_all_connection_stats().empty());

    // Within the limits it is stored, and its numbers read as written in C++.
    auto client = ws_client::connect_user(server.port(), "u");
    auto const ok =
        api.send_anomaly_alert("u", "s", detection, vigil::annotated_frame{"image/png", png}, std::string(256, 'k'))
            .get();
    EXPECT_EQ(ok.seq, 1u);
    for (;;) {
        auto const e = client->read();
        ASSERT_EQ(e.kind, ws_event::text);
        if (e.data == R"({"type":"ping"})") continue;
        EXPECT_NE(e.data.find(R"("detection":{"type":"intrusion","confidence":0.93})"), std::string::npos) << e.data;
        break;
    }
    client->close();
    server.request_stop();
    server.wait();
}

TEST(Cli, TokenCommandMintsAVerifiableToken) {
    std::string const cmd = std::string{"VIGIL_JWT_SECRET="} + test_secret + " " + VIGIL_BINARY_FOR_TESTS +
                            " token --user cli_user --role publisher --ttl 120";
    std::unique_ptr<FILE, decltype(&pclose)> pipe{popen(cmd.c_str(), "r"), &pclose};
    ASSERT_TRUE(pipe);
    std::array<char, 4096> buf{};
    std::string out;
    while (fgets(buf.data(), int(buf.size()), pipe.get())) out += buf.data();
    while (!out.empty() && out.back() == '\n') out.pop_back();

    vigil::jwt_settings s;
    s.secret = test_secret;
    vigil::auth::jwt_verifier verifier{s};
    auto const claims = verifier.verify(out, std::time(nullptr));
    ASSERT_TRUE(claims) << out;
    EXPECT_EQ(claims->subject, "cli_user");
    EXPECT_TRUE(claims->can_publish());
    EXPECT_LE(claims->expires_at, std::time(nullptr) + 120);
}
