// The quick reference and SPEC sections 1, 2, 4 and 6, checked against the real
// binary with real clients.
#include "support/clients.hpp"
#include "support/server_process.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <regex>
#include <thread>

using namespace vigil::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

json::value alert_for(std::string const& user, std::string const& stream = "stream_456") {
    return {{"user_id", user}, {"stream_id", stream}, {"detection", {{"type", "intrusion"}, {"confidence", 0.5}}}};
}

headers bearer(std::string const& token) { return {{"Authorization", "Bearer " + token}}; }

// Proves nothing is queued ahead: the answer to a ping is the next message.
void expect_next_is_pong(ws_client& c) {
    c.send_text(R"({"type":"ping"})");
    auto const m = c.read_json();
    EXPECT_EQ(m.at("type"), "pong") << json::serialize(m);
}

class ServerTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { server_ = new server_process({"--admin-api-keys", "admin-key-1"}); }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    static std::uint16_t port() { return server_->port(); }
    static server_process* server_;
};
server_process* ServerTest::server_ = nullptr;

}  // namespace

TEST_F(ServerTest, HealthAnswers) {
    auto const r = http_request(port(), "GET", "/health");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.json().at("status"), "ok");
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    auto const body = r.json();
    auto const& o = body.as_object();
    EXPECT_EQ(o.at("store").at("state"), "ok");
    EXPECT_EQ(o.at("bus").at("engine"), "local");
    EXPECT_EQ(o.at("bus").at("state"), "ok");
    EXPECT_FALSE(o.at("node").as_string().empty());
}

TEST_F(ServerTest, QuickReferencePingGetsPong) {
    auto c = ws_client::connect_user(port(), "user_ping");
    c->send_text(R"({"type":"ping"})");
    EXPECT_EQ(c->read_json().at("type"), "pong");
}

TEST_F(ServerTest, TokenInAuthorizationHeaderIsAccepted) {
    http_reply refusal;
    auto c = ws_client::connect(port(), "/ws/alerts/user_bearer", &refusal, bearer(token_for("user_bearer")));
    ASSERT_TRUE(c) << refusal.status << refusal.body;
    expect_next_is_pong(*c);
}

TEST_F(ServerTest, HandshakeRefusalsAreHttpErrorsWithJsonBodies) {
    struct refusal_case {
        std::string target;
        int status;
        std::string code;
    };
    std::string const none_token = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1MSIsImV4cCI6OTk5OTk5OTk5OX0.";
    std::vector<refusal_case> const cases = {
        {"/ws/alerts/u1", 401, "missing_token"},
        {"/ws/alerts/u1?token=not-a-jwt", 401, "malformed_token"},
        {"/ws/alerts/u1?token=" + token_signed_with("another-secret-entirely-0123456789", "u1"), 401,
         "invalid_signature"},
        {"/ws/alerts/u1?token=" + token_for("u1", "", -10), 401, "token_expired"},
        {"/ws/alerts/u1?token=" + none_token, 401, "wrong_algorithm"},
        {"/ws/alerts/u1?token=" + token_for("someone_else"), 403, "wrong_user"},
        {"/ws/alerts/bad%20user?token=" + token_for("bad user"), 400, "invalid_user_id"},
        {"/ws/alerts/u1?since=abc&token=" + token_for("u1"), 400, "bad_request"},
        {"/ws/elsewhere/u1?token=" + token_for("u1"), 404, "not_found"},
    };
    for (auto const& c : cases) {
        http_reply r;
        auto client = ws_client::connect(port(), c.target, &r);
        EXPECT_FALSE(client) << c.target;
        EXPECT_EQ(r.status, c.status) << c.target << " " << r.body;
        EXPECT_EQ(r.json().at("error"), c.code.c_str()) << c.target << " " << r.body;
    }
}

TEST_F(ServerTest, NewerConnectionReplacesOlderWith4001) {
    auto first = ws_client::connect_user(port(), "user_twice");
    expect_next_is_pong(*first);
    auto second = ws_client::connect_user(port(), "user_twice");
    EXPECT_EQ(first->wait_close(), 4001);
    expect_next_is_pong(*second);
    auto const r = http_request(port(), "GET", "/ws/connections", {}, {{"X-API-Key", "admin-key-1"}});
    int seen = 0;
    auto const body = r.json();
    for (auto const& c : body.at("connections").as_array())
        if (c.at("user_id") == "user_twice") ++seen;
    EXPECT_EQ(seen, 1);
}

TEST_F(ServerTest, ServerSendsJsonPings) {
    auto c = ws_client::connect_user(port(), "user_pinged");
    bool pinged = false;
    for (int i = 0; i < 5 && !pinged; ++i) {
        auto const e = c->read(1500ms);
        pinged = e.kind == ws_event::text && e.data == R"({"type":"ping"})";
    }
    EXPECT_TRUE(pinged);
}

TEST_F(ServerTest, SilentClientIsClosedWith4000AndRemoved) {
    auto c = ws_client::connect_user(port(), "user_silent");
    // Neither reading (so no protocol pongs) nor writing, past the 3 s timeout.
    std::this_thread::sleep_for(4500ms);
    EXPECT_EQ(c->wait_close(), 4000);
    auto const r = http_request(port(), "GET", "/ws/connections/user_silent", {}, {{"X-API-Key", "admin-key-1"}});
    EXPECT_EQ(r.json().at("connected"), false);
}

TEST_F(ServerTest, ProtocolPongsAloneKeepAConnectionAlive) {
    // A client that only answers WebSocket pings (as browsers and wscat do) and
    // never sends a message of its own must not be timed out.
    auto c = ws_client::connect_user(port(), "user_pongs_only");
    auto const until = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < until) {
        auto const e = c->read(200ms);
        ASSERT_NE(e.kind, ws_event::closed) << e.close_code;
    }
    expect_next_is_pong(*c);
}

TEST_F(ServerTest, MonitoringNeedsAdminAndShowsQuickReferenceFields) {
    auto c = ws_client::connect_user(port(), "user_watched");
    expect_next_is_pong(*c);
    EXPECT_EQ(http_request(port(), "GET", "/ws/connections").status, 401);
    EXPECT_EQ(http_request(port(), "GET", "/ws/connections", {}, bearer(token_for("user_watched"))).status, 403);

    auto const all = http_request(port(), "GET", "/ws/connections", {}, bearer(token_for("ops", "admin")));
    ASSERT_EQ(all.status, 200);
    auto const all_json = all.json();
    auto const& body = all_json.as_object();
    EXPECT_EQ(body.size(), 2u);
    auto const& list = body.at("connections").as_array();
    EXPECT_EQ(body.at("total_connections").as_int64(), static_cast<std::int64_t>(list.size()));
    bool found = false;
    for (auto const& row : list) {
        if (row.at("user_id") != "user_watched") continue;
        found = true;
        auto const& o = row.as_object();
        EXPECT_EQ(o.size(), 4u) << json::serialize(o);
        EXPECT_EQ(o.at("connected"), true);
        EXPECT_TRUE(o.at("uptime_seconds").is_int64());
        EXPECT_TRUE(o.at("seconds_since_heartbeat").is_int64());
    }
    EXPECT_TRUE(found);

    auto const one = http_request(port(), "GET", "/ws/connections/user_watched", {}, {{"X-API-Key", "admin-key-1"}});
    ASSERT_EQ(one.status, 200);
    auto const one_json = one.json();
    auto const& o = one_json.as_object();
    EXPECT_EQ(o.size(), 6u) << one.body;
    EXPECT_EQ(o.at("user_id"), "user_watched");
    EXPECT_EQ(o.at("connected"), true);
    std::regex const iso{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)"};
    EXPECT_TRUE(std::regex_match(std::string{o.at("connected_at").as_string()}, iso));
    EXPECT_TRUE(std::regex_match(std::string{o.at("last_heartbeat").as_string()}, iso));
    EXPECT_GE(o.at("uptime_seconds").as_int64(), 0);
    EXPECT_LE(o.at("seconds_since_heartbeat").as_int64(), 2);

    auto const nobody = http_request(port(), "GET", "/ws/connections/nobody_here", {}, {{"X-API-Key", "admin-key-1"}});
    EXPECT_EQ(nobody.json().at("connected"), false);
}

TEST_F(ServerTest, PublishReachesOnlyTheRightUser) {
    auto alice = ws_client::connect_user(port(), "alice");
    auto bob = ws_client::connect_user(port(), "bob");
    expect_next_is_pong(*alice);
    expect_next_is_pong(*bob);

    auto const r = publish(port(), alert_for("alice"));
    ASSERT_EQ(r.status, 201) << r.body;
    auto const r_json = r.json();
    auto const& answer = r_json.as_object();
    EXPECT_EQ(answer.at("delivered"), true);
    EXPECT_TRUE(answer.at("alert_id").is_string());

    auto const m = alice->read_json();
    EXPECT_EQ(m.at("type"), "anomaly_detected");
    EXPECT_EQ(m.at("alert_id"), answer.at("alert_id"));
    EXPECT_EQ(m.at("seq"), answer.at("seq"));
    EXPECT_EQ(m.at("user_id"), "alice");
    EXPECT_EQ(m.at("stream_id"), "stream_456");
    EXPECT_EQ(m.at("detection").at("type"), "intrusion");
    EXPECT_TRUE(m.at("timestamp").is_string());
    expect_next_is_pong(*bob);  // nothing for bob
}

TEST_F(ServerTest, BatchPublishAnswersAList) {
    auto carol = ws_client::connect_user(port(), "carol");
    expect_next_is_pong(*carol);
    auto const r = publish(port(), json::array{alert_for("carol", "s1"), alert_for("carol", "s2")});
    ASSERT_EQ(r.status, 201) << r.body;
    auto const r_json = r.json();
    auto const& list = r_json.as_array();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[1].at("seq").as_int64(), list[0].at("seq").as_int64() + 1);
    EXPECT_EQ(carol->read_json().at("stream_id"), "s1");
    EXPECT_EQ(carol->read_json().at("stream_id"), "s2");
}

TEST_F(ServerTest, PublishingNeedsThePublisherRole) {
    auto const body = json::serialize(alert_for("dave"));
    EXPECT_EQ(http_request(port(), "POST", "/api/v1/alerts", body).status, 401);
    EXPECT_EQ(http_request(port(), "POST", "/api/v1/alerts", body, bearer(token_for("dave"))).status, 403);
    EXPECT_EQ(http_request(port(), "POST", "/api/v1/alerts", body, bearer(token_for("ops", "admin"))).status, 201);
    EXPECT_EQ(http_request(port(), "POST", "/api/v1/alerts", body, {{"X-API-Key", "admin-key-1"}}).status, 201);
}

TEST_F(ServerTest, AckIsConfirmed) {
    auto erin = ws_client::connect_user(port(), "erin");
    expect_next_is_pong(*erin);
    ASSERT_EQ(publish(port(), alert_for("erin")).status, 201);
    auto const m = erin->read_json();
    erin->send_json({{"type", "ack"}, {"alert_id", m.at("alert_id")}});
    auto const ok = erin->read_json();
    EXPECT_EQ(ok.at("type"), "ack_ok");
    EXPECT_EQ(ok.at("alert_id"), m.at("alert_id"));
    // Then the change itself, as every recipient gets it (docs/handling.md).
    auto const update = erin->read_json();
    EXPECT_EQ(update.at("type"), "alert_updated");
    EXPECT_EQ(update.at("alert_id"), m.at("alert_id"));
    EXPECT_EQ(update.at("owner"), "erin");

    erin->send_json({{"type", "ack"}, {"alert_id", "no-such-alert"}});
    auto const err = erin->read_json();
    EXPECT_EQ(err.at("type"), "error");
    EXPECT_EQ(err.at("alert_id"), "no-such-alert");
}

TEST_F(ServerTest, BadMessagesGetErrorsAndKeepTheConnection) {
    auto c = ws_client::connect_user(port(), "user_sloppy");
    struct bad_case {
        std::string text;
        std::string code;
    };
    for (auto const& [text, code] : std::vector<bad_case>{{"not json", "invalid_json"},
                                                          {"[1,2]", "invalid_message"},
                                                          {R"({"no":"type"})", "missing_type"},
                                                          {R"({"type":"dance"})", "unknown_type"},
                                                          {R"({"type":"ack"})", "invalid_ack"},
                                                          {R"({"type":"refresh"})", "invalid_refresh"}}) {
        c->send_text(text);
        auto const m = c->read_json();
        EXPECT_EQ(m.at("type"), "error") << text;
        EXPECT_EQ(m.at("error"), code.c_str()) << text;
    }
    expect_next_is_pong(*c);
}

TEST_F(ServerTest, BinaryFramesAreRefusedWith1003) {
    auto c = ws_client::connect_user(port(), "user_binary");
    c->send_binary("\x01\x02\x03");
    EXPECT_EQ(c->wait_close(), 1003);
}

TEST_F(ServerTest, OversizedMessagesAreRefusedWith1009) {
    auto bystander = ws_client::connect_user(port(), "user_bystander");
    auto c = ws_client::connect_user(port(), "user_big");
    c->send_text(R"({"type":"ping","pad":")" + std::string(70 * 1024, 'x') + "\"}");
    EXPECT_EQ(c->wait_close(), 1009);
    expect_next_is_pong(*bystander);
}

TEST_F(ServerTest, FloodingClientIsClosedWith1008) {
    auto bystander = ws_client::connect_user(port(), "user_calm");
    auto c = ws_client::connect_user(port(), "user_flood");
    for (int i = 0; i < 400; ++i) {
        try {
            c->send_text(R"({"type":"pong"})");
        } catch (...) {
            break;  // the server already closed
        }
    }
    EXPECT_EQ(c->wait_close(), 1008);
    expect_next_is_pong(*bystander);
}

TEST_F(ServerTest, BadHttpGetsJson4xx) {
    auto const garbage = raw_exchange(port(), "GARBAGE\r\n\r\n");
    EXPECT_NE(garbage.find("HTTP/1.1 400"), std::string::npos) << garbage;
    EXPECT_NE(garbage.find("\"error\""), std::string::npos) << garbage;

    auto const huge_head =
        raw_exchange(port(), "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(16 * 1024, 'a') + "\r\n\r\n");
    EXPECT_NE(huge_head.find("HTTP/1.1 431"), std::string::npos) << huge_head.substr(0, 200);

    auto const nowhere = http_request(port(), "GET", "/no/such/thing");
    EXPECT_EQ(nowhere.status, 404);
    EXPECT_EQ(nowhere.json().at("error"), "not_found");

    auto const wrong_method = http_request(port(), "DELETE", "/health");
    EXPECT_EQ(wrong_method.status, 405);
    EXPECT_EQ(wrong_method.header("Allow"), "GET, HEAD");

    auto const no_upgrade = http_request(port(), "GET", "/ws/alerts/alice");
    EXPECT_EQ(no_upgrade.status, 426);

    auto const pub = bearer(token_for("producer", "publisher"));
    auto const bad_json = http_request(port(), "POST", "/api/v1/alerts", "{nope", pub);
    EXPECT_EQ(bad_json.status, 400);
    EXPECT_EQ(bad_json.json().at("error"), "invalid_json");

    auto const missing = http_request(port(), "POST", "/api/v1/alerts", R"({"user_id":"x"})", pub);
    EXPECT_EQ(missing.status, 400);
    EXPECT_EQ(missing.json().at("error"), "invalid_alert");

    auto const bad_batch = http_request(port(), "POST", "/api/v1/alerts",
                                        "[" + json::serialize(alert_for("x")) + R"(,{"user_id":"x"}])", pub);
    EXPECT_EQ(bad_batch.status, 400);
    EXPECT_EQ(bad_batch.json().at("index"), 1);

    std::string const too_big =
        R"({"user_id":"x","stream_id":"s","detection":{"pad":")" + std::string(9 * 1024 * 1024, 'x') + "\"}}";
    auto const big = http_request(port(), "POST", "/api/v1/alerts", too_big, pub);
    EXPECT_EQ(big.status, 413);

    EXPECT_EQ(http_request(port(), "GET", "/health").status, 200);  // still serving
}

TEST_F(ServerTest, LogsNeverContainTokens) {
    auto const token = token_for("user_logged");
    { auto c = ws_client::connect_user(port(), "user_logged"); }
    http_reply r;
    ws_client::connect(port(), "/ws/alerts/someone?token=" + token, &r);  // refused: logged with its target
    EXPECT_EQ(r.status, 403);
    std::this_thread::sleep_for(200ms);
    auto const log = server_->log();
    EXPECT_NE(log.find("ws.refused"), std::string::npos);
    EXPECT_EQ(log.find(token), std::string::npos);
    EXPECT_EQ(log.find(test_secret), std::string::npos);
    // Each line is one JSON object.
    std::istringstream lines{log};
    std::string line;
    while (std::getline(lines, line)) {
        boost::system::error_code ec;
        json::parse(line, ec);
        EXPECT_FALSE(ec) << line;
    }
}

// ---------------------------------------------------------------- own servers

TEST(ServerLifecycle, TokenExpiryClosesWith4003UnlessRefreshed) {
    server_process server;
    auto const short_lived = token_for("user_expiring", "", 2);
    http_reply r;
    auto expiring = ws_client::connect(server.port(), "/ws/alerts/user_expiring?token=" + short_lived, &r);
    ASSERT_TRUE(expiring);
    auto const short_lived2 = token_for("user_refreshing", "", 2);
    auto refreshing = ws_client::connect(server.port(), "/ws/alerts/user_refreshing?token=" + short_lived2, &r);
    ASSERT_TRUE(refreshing);
    refreshing->send_json({{"type", "refresh"}, {"token", token_for("user_refreshing", "", 3600)}});
    EXPECT_EQ(refreshing->read_json().at("type"), "refresh_ok");
    refreshing->send_json({{"type", "refresh"}, {"token", token_for("someone_else", "", 3600)}});
    EXPECT_EQ(refreshing->read_json().at("type"), "error");

    EXPECT_EQ(expiring->wait_close(6000ms), 4003);
    for (int i = 0; i < 3; ++i) expect_next_is_pong(*refreshing);  // still alive past the old expiry
}

TEST(ServerLifecycle, GracefulShutdownClosesWith1001) {
    server_process server;
    auto c = ws_client::connect_user(server.port(), "user_leaving");
    expect_next_is_pong(*c);
    std::thread stopper{[&] { EXPECT_EQ(server.stop(), 0); }};
    EXPECT_EQ(c->wait_close(), 1001);
    stopper.join();
}

TEST(ServerLifecycle, DevModeOpensMonitoringOnLoopbackOnly) {
    server_process server({"--dev"});
    EXPECT_EQ(http_request(server.port(), "GET", "/ws/connections").status, 200);
    EXPECT_NE(server.log().find("server.dev_mode"), std::string::npos);
    // Credentials, when given, are still checked.
    EXPECT_EQ(http_request(server.port(), "GET", "/ws/connections", {}, {{"Authorization", "Bearer junk"}}).status,
              401);
}

TEST_F(ServerTest, MetricsInPrometheusFormatForAdmins) {
    http_reply refused;
    ws_client::connect(port(), "/ws/alerts/metrics_user?token=garbage", &refused);
    {
        auto c = ws_client::connect_user(port(), "metrics_user");
        expect_next_is_pong(*c);
        ASSERT_EQ(publish(port(), alert_for("metrics_user")).status, 201);
        EXPECT_EQ(c->read_json().at("type"), "anomaly_detected");
    }
    EXPECT_EQ(http_request(port(), "GET", "/metrics").status, 401);
    auto const r = http_request(port(), "GET", "/metrics", {}, {{"X-API-Key", "admin-key-1"}});
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type").rfind("text/plain", 0), 0u);
    for (auto const* name :
         {"# TYPE vigil_connections gauge", "vigil_connections_opened_total ",
          "vigil_handshake_failures_total{reason=\"malformed_token\"} ", "vigil_alerts_published_total ",
          "vigil_alerts_delivered_total ", "vigil_store_commit_seconds_bucket{le=\"+Inf\"} ",
          "vigil_publish_to_delivery_seconds_count "})
        EXPECT_NE(r.body.find(name), std::string::npos) << name;
    // The alert above had no severity: medium, the default. (The registry is the
    // process's, so other tests' alerts may count too: at least one.)
    auto const medium = r.body.find("vigil_alerts_published_by_severity_total{severity=\"medium\"} ");
    ASSERT_NE(medium, std::string::npos);
    EXPECT_NE(r.body.compare(medium + 60, 2, "0\n"), 0);
    EXPECT_NE(r.body.find("vigil_alerts_published_by_severity_total{severity=\"critical\"} "), std::string::npos);
    // Every sample line is "name[{label="value",...}] value".
    std::istringstream lines{r.body};
    std::string line;
    std::regex const sample{R"(^[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? [0-9.e+-]+$)"};
    while (std::getline(lines, line)) {
        if (!line.empty() && line[0] != '#') {
            EXPECT_TRUE(std::regex_match(line, sample)) << line;
        }
    }
}
