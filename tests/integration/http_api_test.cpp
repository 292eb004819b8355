// The HTTP API as a new user meets it (issue 26): detections come back as
// published, precise refusals for bad cursors, credentials and bodies, and
// tickets for real users only. Against the real binary.
#include "support/clients.hpp"
#include "support/server_process.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

using namespace vigil::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

headers bearer(std::string const& token) { return {{"Authorization", "Bearer " + token}}; }
headers publisher() { return bearer(token_for("producer", "publisher")); }

// The next text message as it came over the wire, skipping server pings.
std::string read_text(ws_client& c) {
    for (;;) {
        auto const e = c.read();
        if (e.kind != ws_event::text) throw std::runtime_error("no message: " + std::to_string(int(e.kind)));
        if (e.data != R"({"type":"ping"})") return e.data;
    }
}

class HttpApiTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { server_ = new server_process({"--admin-api-keys", "admin-key-1"}); }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    static std::uint16_t port() { return server_->port(); }
    static server_process* server_;
};
server_process* HttpApiTest::server_ = nullptr;

}  // namespace

TEST_F(HttpApiTest, DetectionComesBackAsPublishedLiveInHistoryAndAlone) {
    auto c = ws_client::connect_user(port(), "as_published");
    c->send_text(R"({"type":"ping"})");
    ASSERT_EQ(json::parse(read_text(*c)).at("type"), "pong");

    // What a producer writes by hand, spaces and all.
    std::string const body =
        R"({"user_id":"as_published","stream_id":"cam-1",)"
        R"("detection": {"type": "intrusion", "confidence": 0.93, "count": 12345678901234567890123, "area": 1.50}})";
    std::string const stored = R"({"type":"intrusion","confidence":0.93,"count":12345678901234567890123,"area":1.50})";
    auto const r = http_request(port(), "POST", "/api/v1/alerts", body, publisher());
    ASSERT_EQ(r.status, 201) << r.body;
    std::string const id{r.json().at("alert_id").as_string()};

    auto const live = read_text(*c);
    EXPECT_NE(live.find(R"("detection":)" + stored), std::string::npos) << live;

    auto const history =
        http_request(port(), "GET", "/api/v1/alerts?user_id=as_published", {}, bearer(token_for("as_published")));
    ASSERT_EQ(history.status, 200) << history.body;
    EXPECT_NE(history.body.find(R"("detection":)" + stored), std::string::npos) << history.body;
    EXPECT_EQ(history.json().at("alerts").as_array().size(), 1u);  // still one valid JSON document

    auto const one = http_request(port(), "GET", "/api/v1/alerts/" + id, {}, bearer(token_for("as_published")));
    ASSERT_EQ(one.status, 200) << one.body;
    EXPECT_NE(one.body.find(R"("detection":)" + stored), std::string::npos) << one.body;
    EXPECT_EQ(one.json().at("stream_id"), "cam-1");

    // A reconnect replays it from the store, still as published.
    c.reset();
    auto again = ws_client::connect_user(port(), "as_published");
    auto const replayed = read_text(*again);
    EXPECT_NE(replayed.find(R"("detection":)" + stored), std::string::npos) << replayed;
}

TEST_F(HttpApiTest, NonStringStreamIdIsRefused) {
    for (std::string const stream : {"42", "4.2", "true", "null", R"({"id":1})"}) {
        auto const r = http_request(port(), "POST", "/api/v1/alerts",
                                    R"({"user_id":"u","stream_id":)" + stream + R"(,"detection":{}})", publisher());
        EXPECT_EQ(r.status, 400) << stream << " " << r.body;
        EXPECT_EQ(r.json().at("error"), "invalid_alert") << r.body;
    }
}

TEST_F(HttpApiTest, InvalidHistoryCursorIs400) {
    auto const user = bearer(token_for("cursor_user"));
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(
            http_request(port(), "POST", "/api/v1/alerts",
                         R"({"user_id":"cursor_user","stream_id":"s","detection":{"n":)" + std::to_string(i) + "}}",
                         publisher())
                .status,
            201);
    for (std::string const bad : {"xyz", "1", "01A216DA-795E-7270-B59A-30FBE5456E0F", "%20"}) {
        auto const r = http_request(port(), "GET", "/api/v1/alerts?before=" + bad, {}, user);
        EXPECT_EQ(r.status, 400) << bad << " " << r.body;
        EXPECT_EQ(r.json().at("error"), "bad_request") << r.body;
    }
    // The cursor a page gives leads to the next page.
    auto const first = http_request(port(), "GET", "/api/v1/alerts?limit=2", {}, user);
    ASSERT_EQ(first.status, 200) << first.body;
    std::string const next{first.json().at("next_before").as_string()};
    auto const second = http_request(port(), "GET", "/api/v1/alerts?limit=2&before=" + next, {}, user);
    ASSERT_EQ(second.status, 200) << second.body;
    auto const rest = second.json().at("alerts").as_array();
    ASSERT_EQ(rest.size(), 1u);
    EXPECT_EQ(rest[0].at("detection").at("n"), 0);
}

TEST_F(HttpApiTest, EachCredentialFailureHasItsOwnCode) {
    struct refusal_case {
        headers credentials;
        int status;
        std::string code;
    };
    std::vector<refusal_case> const cases = {
        {{}, 401, "missing_token"},
        {{{"X-API-Key", "wrong-key"}}, 401, "invalid_api_key"},
        {bearer("wrong-key"), 401, "malformed_token"},
        {bearer("aaa.bbb.ccc"), 401, "malformed_token"},
        {bearer(token_signed_with("another-secret-entirely-0123456789", "ops")), 401, "invalid_signature"},
        {bearer(token_for("ops", "admin", -10)), 401, "token_expired"},
        {bearer(token_for("ops")), 403, "forbidden"},
        {{{"X-API-Key", "admin-key-1"}}, 200, ""},
        {bearer("admin-key-1"), 200, ""},
    };
    for (auto const& c : cases) {
        auto const r = http_request(port(), "GET", "/ws/connections", {}, c.credentials);
        auto const what = c.credentials.empty() ? std::string{"none"} : c.credentials[0].second;
        EXPECT_EQ(r.status, c.status) << what << " " << r.body;
        if (!c.code.empty()) {
            EXPECT_EQ(r.json().at("error"), c.code.c_str()) << what << " " << r.body;
        }
    }
    // The WebSocket tells a non-JWT from a badly signed one the same way.
    http_reply refusal;
    EXPECT_FALSE(ws_client::connect(port(), "/ws/alerts/u1?token=aaa.bbb.ccc", &refusal));
    EXPECT_EQ(refusal.json().at("error"), "malformed_token") << refusal.body;
}

TEST_F(HttpApiTest, TicketsAreForRealUsersNamedByAdmins) {
    auto ticket = [&](headers const& credentials, std::string const& body = {}, std::string const& query = {}) {
        return http_request(port(), "POST", "/api/v1/ws-ticket" + query, body, credentials);
    };
    headers const admin_key{{"X-API-Key", "admin-key-1"}};

    // An API key is no user: it must name one.
    auto const unnamed = ticket(admin_key);
    EXPECT_EQ(unnamed.status, 400) << unnamed.body;
    EXPECT_EQ(unnamed.json().at("error"), "missing_user_id") << unnamed.body;

    auto const named = ticket(admin_key, R"({"user_id":"ticket_target"})");
    ASSERT_EQ(named.status, 201) << named.body;
    EXPECT_EQ(named.json().at("user_id"), "ticket_target");
    std::string const url{named.json().at("url").as_string()};
    EXPECT_EQ(url.rfind("/ws/alerts/ticket_target?ticket=", 0), 0u) << url;
    http_reply refusal;
    auto c = ws_client::connect(port(), url, &refusal);
    ASSERT_TRUE(c) << refusal.status << " " << refusal.body;
    c->send_text(R"({"type":"ping"})");
    EXPECT_EQ(json::parse(read_text(*c)).at("type"), "pong");

    EXPECT_EQ(ticket(admin_key, {}, "?user_id=ticket_target").json().at("user_id"), "ticket_target");
    EXPECT_EQ(ticket(bearer(token_for("ops", "admin")), R"({"user_id":"ticket_target"})").status, 201);

    // A user token gets its own ticket, and no one else's.
    auto const own = ticket(bearer(token_for("ticket_self")));
    ASSERT_EQ(own.status, 201) << own.body;
    EXPECT_EQ(own.json().at("user_id"), "ticket_self");
    EXPECT_EQ(ticket(bearer(token_for("ticket_self")), R"({"user_id":"ticket_self"})").status, 201);
    auto const other = ticket(bearer(token_for("ticket_self")), R"({"user_id":"ticket_target"})");
    EXPECT_EQ(other.status, 403) << other.body;
    EXPECT_EQ(other.json().at("error"), "forbidden");

    auto const publisher_key = ticket(bearer(token_for("producer", "publisher")), R"({"user_id":"ticket_target"})");
    EXPECT_EQ(publisher_key.status, 403) << publisher_key.body;
    EXPECT_EQ(ticket(admin_key, R"({"user_id":"not valid"})").json().at("error"), "invalid_user_id");
    EXPECT_EQ(ticket(admin_key, R"({"user_id":42})").status, 400);
    EXPECT_EQ(ticket(admin_key, "<ticket/>").status, 400);
}

TEST_F(HttpApiTest, HeadHealthAnswersLikeGetWithoutABody) {
    auto const get = http_request(port(), "GET", "/health");
    auto const head = http_request(port(), "HEAD", "/health");
    EXPECT_EQ(head.status, 200);
    EXPECT_TRUE(head.body.empty()) << head.body;
    EXPECT_EQ(head.header("Content-Type"), "application/json");
    EXPECT_EQ(head.header("Content-Length"), get.header("Content-Length"));
    auto const post = http_request(port(), "POST", "/health");
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(post.header("Allow"), "GET, HEAD");
    // The connection stays usable after a HEAD (keep-alive framing intact).
    EXPECT_EQ(http_request(port(), "GET", "/health").json().at("status"), "ok");
}

TEST_F(HttpApiTest, NonJsonBodyIs415) {
    std::string const alert = R"({"user_id":"media_user","stream_id":"s","detection":{}})";
    auto with_type = [&](std::string const& type, std::string const& body) {
        auto h = publisher();
        h.emplace_back("Content-Type", type);
        return http_request(port(), "POST", "/api/v1/alerts", body, h);
    };
    auto const xml = with_type("application/xml", "<alert><user_id>media_user</user_id></alert>");
    EXPECT_EQ(xml.status, 415) << xml.body;
    EXPECT_EQ(xml.json().at("error"), "unsupported_media_type");
    EXPECT_EQ(with_type("text/xml; charset=utf-8", alert).status, 415);
    EXPECT_EQ(with_type("multipart/form-data; boundary=x", alert).status, 415);
    // JSON, and the types clients send when they declare nothing in particular.
    for (std::string const ok :
         {"application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.vigil+json",
          "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"})
        EXPECT_EQ(with_type(ok, alert).status, 201) << ok;
    EXPECT_EQ(http_request(port(), "POST", "/api/v1/alerts", alert, publisher()).status, 201);  // no type
    // Not JSON, declared as such: still invalid_json.
    EXPECT_EQ(with_type("application/json", "<alert/>").json().at("error"), "invalid_json");
}

TEST(HttpApiStartup, PortInUseIsNamedWithoutSourcePaths) {
    server_process first;
    try {
        server_process second({"--port", std::to_string(first.port())});
        FAIL() << "a second server started on port " << first.port();
    } catch (std::runtime_error const& e) {
        std::string const log = e.what();
        EXPECT_NE(log.find("cannot listen on 127.0.0.1:" + std::to_string(first.port()) +
                           " (--port): Address already in use"),
                  std::string::npos)
            << log;
        EXPECT_EQ(log.find(".hpp"), std::string::npos) << log;
        EXPECT_EQ(log.find(".ipp"), std::string::npos) << log;
    }
}

// Operators see HTTP: a line per refused request, with why and who, never a
// token; request counters by route and status; build and process metrics.
TEST(HttpApiOperators, AccessLogNamesRefusalsAndCallersWithoutTokens) {
    server_process server({"--admin-api-keys", "admin-key-1", "--access-log", "errors"});
    auto const publisher_token = token_for("detector-7", "publisher");
    auto const user_token = token_for("viewer");
    std::string const alert = R"({"user_id":"viewer","stream_id":"s","detection":{}})";
    ASSERT_EQ(http_request(server.port(), "POST", "/api/v1/alerts", alert, bearer(publisher_token)).status, 201);
    ASSERT_EQ(http_request(server.port(), "POST", "/api/v1/alerts", alert, bearer(user_token)).status, 403);
    ASSERT_EQ(http_request(server.port(), "GET", "/ws/connections", {}, {{"X-API-Key", "wrong-key"}}).status, 401);
    ASSERT_EQ(
        http_request(server.port(), "GET", "/api/v1/alerts/" + std::string(36, 'x'), {}, bearer(user_token)).status,
        404);
    http_reply refusal;
    ASSERT_FALSE(ws_client::connect(server.port(), "/ws/alerts/viewer?token=" + publisher_token, &refusal));

    std::string log;
    auto const wait_for = [&](std::string const& needle) {
        for (int i = 0; i < 100 && (log = server.log()).find(needle) == std::string::npos; ++i)
            std::this_thread::sleep_for(50ms);
        return log.find(needle) != std::string::npos;
    };
    EXPECT_TRUE(wait_for(R"("event":"http.request","method":"POST","route":"/api/v1/alerts","status":403,)"));
    EXPECT_NE(log.find(R"("caller":"viewer","error":"forbidden")"), std::string::npos) << log;
    EXPECT_TRUE(wait_for(R"("route":"/ws/connections","status":401,)"));
    EXPECT_NE(log.find(R"("caller":"","error":"invalid_api_key")"), std::string::npos) << log;
    EXPECT_TRUE(wait_for(R"("route":"/api/v1/alerts/{id}","status":404,)"));
    EXPECT_TRUE(wait_for(R"("event":"ws.refused","status":403,"error":"wrong_user")"));
    // In `errors` mode an accepted request has no line; no line has a token or key.
    EXPECT_EQ(log.find(R"("status":201)"), std::string::npos) << log;
    for (auto const& secret : {publisher_token, user_token, std::string{"wrong-key"}, std::string{"admin-key-1"}})
        EXPECT_EQ(log.find(secret), std::string::npos) << secret;
}

TEST(HttpApiOperators, EveryRequestIsLoggedWithAccessLogAll) {
    server_process server({"--access-log", "all"});
    ASSERT_EQ(http_request(server.port(), "POST", "/api/v1/alerts", R"({"user_id":"u","stream_id":"s","detection":{}})",
                           publisher())
                  .status,
              201);
    std::string log;
    for (int i = 0; i < 100 && (log = server.log()).find(R"("status":201)") == std::string::npos; ++i)
        std::this_thread::sleep_for(50ms);
    EXPECT_NE(log.find(R"("method":"POST","route":"/api/v1/alerts","status":201,)"), std::string::npos) << log;
    EXPECT_NE(log.find(R"("caller":"producer")"), std::string::npos) << log;
}

TEST(HttpApiOperators, MetricsCountRequestsByRouteAndStatusWithBuildAndProcess) {
    server_process server({"--admin-api-keys", "admin-key-1"});
    headers const admin{{"X-API-Key", "admin-key-1"}};
    for (int i = 0; i < 3; ++i) http_request(server.port(), "GET", "/health");
    http_request(server.port(), "GET", "/api/v1/alerts?before=xyz", {}, bearer(token_for("u")));
    http_request(server.port(), "GET", "/no/such/thing");
    auto const m = http_request(server.port(), "GET", "/metrics", {}, admin);
    ASSERT_EQ(m.status, 200);
    EXPECT_NE(m.body.find(R"(vigil_http_requests_total{method="GET",route="/health",status="200"} 3)"),
              std::string::npos)
        << m.body;
    EXPECT_NE(m.body.find(R"(vigil_http_requests_total{method="GET",route="/api/v1/alerts",status="400"} 1)"),
              std::string::npos);
    EXPECT_NE(m.body.find(R"(vigil_http_requests_total{method="GET",route="unmatched",status="404"} 1)"),
              std::string::npos);
    EXPECT_NE(m.body.find(R"(vigil_build_info{version=")"), std::string::npos);
    for (std::string const name :
         {"process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds ", "process_max_fds "})
        EXPECT_NE(m.body.find("\n" + name), std::string::npos) << name;
    EXPECT_EQ(m.body.find("vigil_tls_certificate_expiry_seconds"), std::string::npos);  // no TLS here
}

// SIGHUP rereads the configuration file: API keys and log level change
// without a restart; a file that does not load changes nothing.
TEST(HttpApiOperators, SighupReloadsApiKeysAndLogLevel) {
    auto const file = std::filesystem::temp_directory_path() / ("vigil-reload-" + std::to_string(::getpid()) + ".toml");
    std::ofstream{file} << "log_level = \"info\"\n[auth]\nadmin_api_keys = [\"first-key\"]\n";
    server_process server({"--config", file.string()});
    auto status_with = [&](std::string const& key) {
        return http_request(server.port(), "GET", "/ws/connections", {}, {{"X-API-Key", key}}).status;
    };
    EXPECT_EQ(status_with("first-key"), 200);
    EXPECT_EQ(status_with("second-key"), 401);
    raw_exchange(server.port(), "NOT HTTP\r\n\r\n");
    EXPECT_EQ(server.log().find("http.bad_request"), std::string::npos);  // a debug line, not at info

    std::ofstream{file} << "log_level = \"debug\"\n[auth]\nadmin_api_keys = [\"second-key\"]\n";
    ::kill(server.pid(), SIGHUP);
    auto wait_for_log = [&](std::string const& needle) {
        for (int i = 0; i < 100; ++i) {
            if (server.log().find(needle) != std::string::npos) return true;
            std::this_thread::sleep_for(50ms);
        }
        return false;
    };
    ASSERT_TRUE(wait_for_log("\"event\":\"config.reloaded\"")) << server.log();
    EXPECT_EQ(status_with("first-key"), 401);
    EXPECT_EQ(status_with("second-key"), 200);
    raw_exchange(server.port(), "NOT HTTP\r\n\r\n");
    EXPECT_TRUE(wait_for_log("http.bad_request")) << server.log();

    std::ofstream{file} << "[auth]\nadmin_api_keys = \"not a list\"\n";
    ::kill(server.pid(), SIGHUP);
    ASSERT_TRUE(wait_for_log("\"event\":\"config.reload_failed\"")) << server.log();
    EXPECT_EQ(status_with("second-key"), 200);
    EXPECT_EQ(server.log().find("second-key"), std::string::npos);  // keys are never logged
    std::filesystem::remove(file);
}
