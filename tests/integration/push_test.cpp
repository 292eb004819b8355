// Web Push end to end (SPEC sections 8 and 9, docs/notifications.md): the
// real binary pushes to a push service on loopback (plain HTTP, allowed by
// --dev --push-allow-insecure-endpoints) that checks each push's VAPID
// header against the key the server serves and decrypts its body with the
// keys of a browser made here, as a browser makes them.
#include "support/clients.hpp"
#include "support/mock_push_service.hpp"
#include "support/postgres_process.hpp"
#include "support/server_process.hpp"

#include "common/base64.hpp"
#include "push/p256_key.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <set>
#include <string>
#include <thread>

using namespace vigil::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

headers bearer(std::string const& token) { return {{"Authorization", "Bearer " + token}}; }

// A JSON string's text (anything else serialised), to compare with std::string.
std::string text(json::value const& v) { return v.is_string() ? std::string{v.get_string()} : json::serialize(v); }

// Where the push of an alert is among those received (size() when absent).
// Pushes go out concurrently, so the push service may receive them in
// another order than their alerts were committed.
std::size_t index_of(std::vector<json::object> const& payloads, std::string const& alert_id) {
    auto const it = std::find_if(payloads.begin(), payloads.end(), [&](json::object const& p) {
        return p.contains("alert_id") && text(p.at("alert_id")) == alert_id;
    });
    return std::size_t(it - payloads.begin());
}

// The alert ids of the pushes received, in no particular order.
std::multiset<std::string> alert_ids(std::vector<json::object> const& payloads) {
    std::multiset<std::string> out;
    for (auto const& p : payloads)
        if (p.contains("alert_id")) out.insert(text(p.at("alert_id")));
    return out;
}

// What the contract says a group's Topic and tag are, computed here apart
// from the server's code: base64url(SHA-256(user "\n" group_key)[0..24]).
std::string expected_topic(std::string const& user, std::string const& group_key) {
    auto const key = user + "\n" + group_key;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(key.data(), key.size(), digest, &size, EVP_sha256(), nullptr);
    return vigil::base64url_encode({reinterpret_cast<char const*>(digest), 24});
}

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), int(n));
    return out;
}

// VIGIL_PUSH_TEST_STORE=postgres (ctest's pg. tests) runs the same cases on
// a PostgreSQL store; the default is SQLite.
bool on_postgres() {
    auto const* store = std::getenv("VIGIL_PUSH_TEST_STORE");
    return store && std::string_view{store} == "postgres";
}

// The server under test, one per suite: --dev opens /metrics on loopback.
class PushTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        std::vector<std::string> args{"--dev", "--push-allow-insecure-endpoints", "--admin-api-keys", "admin-key-1"};
        if (on_postgres()) {
            if (!postgres_process::available()) GTEST_SKIP() << "no PostgreSQL here";
            for (std::string a : {"--store", "postgres", "--postgres-url"}) args.push_back(a);
            args.push_back(postgres_process::shared().url());
        }
        server_ = new server_process(args);
        if (on_postgres()) ASSERT_NE(server_->log().find(R"("store":"postgres")"), std::string::npos) << server_->log();
        auto const r = http_request(server_->port(), "GET", "/api/v1/push/vapid-public-key");
        ASSERT_EQ(r.status, 200) << r.body;
        public_key_ = new std::string{std::string{r.json().at("public_key").as_string()}};
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
        delete public_key_;
    }
    static std::uint16_t port() { return server_->port(); }

    // A browser of `user`: its keys, and the push service it subscribes through.
    struct browser {
        std::string user;
        vigil::push::p256_key key = vigil::push::p256_key::generate();
        std::string auth = random_bytes(16);
        std::unique_ptr<mock_push_service> service;

        explicit browser(std::string u) : user(std::move(u)) {
            mock_push_service::options o;
            o.subscriber_private_pem = key.private_pem();
            o.subscriber_auth = auth;
            o.vapid_public_key = *public_key_;
            service = std::make_unique<mock_push_service>(std::move(o));
        }
        std::string endpoint() const { return service->endpoint("/wpush/v2/" + user); }
        std::string subscription_json() const {
            json::object keys{{"p256dh", vigil::base64url_encode(key.public_point())},
                              {"auth", vigil::base64url_encode(auth)}};
            return json::serialize(json::object{{"endpoint", endpoint()}, {"expirationTime", nullptr}, {"keys", keys}});
        }
        http_reply subscribe() const {
            return http_request(port(), "POST", "/api/v1/push/subscriptions", subscription_json(),
                                bearer(token_for(user)));
        }
        http_reply call(std::string const& method, std::string const& target, std::string const& body = {}) const {
            return http_request(port(), method, target, body, bearer(token_for(user)));
        }
        // The pushes received so far, decrypted; fails the test on any that did not verify or decrypt.
        std::vector<json::object> payloads() const {
            std::vector<json::object> out;
            for (auto const& p : service->received()) {
                EXPECT_TRUE(p.vapid) << p.vapid_error;
                EXPECT_TRUE(p.plaintext) << p.decrypt_error;
                if (p.plaintext) out.push_back(json::parse(*p.plaintext).as_object());
            }
            return out;
        }
        bool wait_for(std::size_t n, std::chrono::milliseconds t = 20s) const { return service->wait_for(n, t); }
    };

    static std::string publish_alert(std::string const& user, std::string const& stream, std::string const& severity,
                                     json::object detection = {{"type", "person"}}, std::string group_key = {}) {
        json::object a{{"user_id", user}, {"stream_id", stream}, {"severity", severity}, {"detection", detection}};
        if (!group_key.empty()) a["group_key"] = group_key;
        auto const r = publish(port(), a);
        EXPECT_EQ(r.status, 201) << r.body;
        return std::string{r.json().at("alert_id").as_string()};
    }

    static json::object history_row(std::string const& user, std::string const& alert_id) {
        auto const r = http_request(port(), "GET", "/api/v1/alerts/" + alert_id, {}, bearer(token_for(user)));
        EXPECT_EQ(r.status, 200) << r.body;
        return r.json().as_object();
    }

    // A counter of /metrics (open to loopback under --dev); 0 when absent.
    static double metric(std::string const& line_start) {
        auto const r = http_request(port(), "GET", "/metrics");
        auto const at = r.body.find("\n" + line_start + " ");
        if (at == std::string::npos) return 0;
        return std::stod(r.body.substr(at + line_start.size() + 2));
    }

    static bool eventually(std::function<bool()> const& f, std::chrono::milliseconds limit = 20s) {
        auto const deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (f()) return true;
            std::this_thread::sleep_for(50ms);
        }
        return f();
    }

    static server_process* server_;
    static std::string* public_key_;
};
server_process* PushTest::server_ = nullptr;
std::string* PushTest::public_key_ = nullptr;

}  // namespace

TEST_F(PushTest, TheKeyIsPublicAndSubscriptionsArePerDevice) {
    auto const key = http_request(port(), "GET", "/api/v1/push/vapid-public-key");  // no credentials
    ASSERT_EQ(key.status, 200);
    auto const point = vigil::base64url_decode(std::string{key.json().at("public_key").as_string()});
    ASSERT_TRUE(point);
    EXPECT_EQ(point->size(), 65u);
    EXPECT_EQ((*point)[0], '\x04');

    browser b{"push_devices"};
    EXPECT_EQ(b.subscribe().status, 201);
    auto const again = b.subscribe();  // the same endpoint: updated, not a second device
    EXPECT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.json().at("subscribed"), true);
    browser other_device{"push_devices"};
    EXPECT_EQ(other_device.subscribe().status, 201);
    auto settings = b.call("GET", "/api/v1/push/settings");
    ASSERT_EQ(settings.status, 200) << settings.body;
    EXPECT_EQ(settings.json().at("subscriptions"), 2);
    EXPECT_EQ(settings.json().at("quiet_hours"), nullptr);
    EXPECT_TRUE(settings.json().at("snoozes").as_array().empty());

    // The test push reaches both devices.
    auto const test = b.call("POST", "/api/v1/push/test");
    ASSERT_EQ(test.status, 202) << test.body;
    EXPECT_EQ(test.json().at("subscriptions"), 2);
    ASSERT_TRUE(b.wait_for(1));
    ASSERT_TRUE(other_device.wait_for(1));
    EXPECT_EQ(b.payloads().at(0).at("type"), "test");
    EXPECT_EQ(b.payloads().at(0).at("tag"), "vigil-test");

    auto const endpoint = json::serialize(json::object{{"endpoint", b.endpoint()}});
    EXPECT_EQ(
        http_request(port(), "DELETE", "/api/v1/push/subscriptions", endpoint, bearer(token_for("someone"))).status,
        404);  // not theirs
    EXPECT_EQ(b.call("DELETE", "/api/v1/push/subscriptions", endpoint).status, 204);
    EXPECT_EQ(b.call("DELETE", "/api/v1/push/subscriptions", endpoint).status, 404);
    EXPECT_EQ(b.call("GET", "/api/v1/push/settings").json().at("subscriptions"), 1);

    // Refusals.
    EXPECT_EQ(http_request(port(), "POST", "/api/v1/push/subscriptions", b.subscription_json()).status, 401);
    auto const key_user = http_request(port(), "POST", "/api/v1/push/subscriptions", b.subscription_json(),
                                       {{"X-API-Key", "admin-key-1"}});
    EXPECT_EQ(key_user.status, 403);
    auto const bad = b.call("POST", "/api/v1/push/subscriptions", R"({"endpoint":"https://x.example/1","keys":{}})");
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(bad.json().at("error"), "invalid_subscription");
    auto const insecure = b.call("POST", "/api/v1/push/subscriptions",
                                 R"({"endpoint":"http://push.example/1","keys":{"p256dh":"x","auth":"y"}})");
    EXPECT_EQ(insecure.status, 400);
    EXPECT_EQ(b.call("POST", "/api/v1/push/subscriptions", std::string(9000, ' ')).status, 413);
    EXPECT_EQ(http_request(port(), "POST", "/api/v1/push/test", {}, bearer(token_for("nobody_subscribed"))).status,
              404);
}

// Subscriptions are bounded per user: a new device beyond 32 replaces the oldest.
TEST_F(PushTest, AUserHasABoundedNumberOfDevices) {
    browser b{"push_many"};
    json::object keys{{"p256dh", vigil::base64url_encode(b.key.public_point())},
                      {"auth", vigil::base64url_encode(b.auth)}};
    auto const subscribe = [&](int n) {
        auto const body = json::serialize(
            json::object{{"endpoint", "http://127.0.0.1:9/device/" + std::to_string(n)}, {"keys", keys}});
        return b.call("POST", "/api/v1/push/subscriptions", body).status;
    };
    for (int n = 0; n < 32; ++n) ASSERT_EQ(subscribe(n), 201) << n;
    EXPECT_EQ(b.call("GET", "/api/v1/push/settings").json().at("subscriptions"), 32);
    std::this_thread::sleep_for(5ms);  // the newest is newer than every other
    EXPECT_EQ(subscribe(32), 201);
    EXPECT_EQ(b.call("GET", "/api/v1/push/settings").json().at("subscriptions"), 32);
    auto const oldest = json::serialize(json::object{{"endpoint", "http://127.0.0.1:9/device/0"}});
    EXPECT_EQ(b.call("DELETE", "/api/v1/push/subscriptions", oldest).status, 404);  // replaced
    auto const newest = json::serialize(json::object{{"endpoint", "http://127.0.0.1:9/device/32"}});
    EXPECT_EQ(b.call("DELETE", "/api/v1/push/subscriptions", newest).status, 204);
}

TEST_F(PushTest, AnOfflineUserGetsAPushNamingTheAlert) {
    browser b{"push_offline"};
    ASSERT_EQ(b.subscribe().status, 201);
    auto const sent_before = metric("vigil_push_sent_total");
    auto const id = publish_alert(b.user, "cam-3", "critical");
    ASSERT_TRUE(b.wait_for(1));
    auto const pushes = b.service->received();
    auto const& p = pushes.at(0);
    EXPECT_EQ(p.method, "POST");
    EXPECT_EQ(p.target, "/wpush/v2/push_offline");
    EXPECT_EQ(p.header("ttl"), "86400");
    EXPECT_EQ(p.header("urgency"), "high");
    auto const topic = expected_topic(b.user, "cam-3/person");
    EXPECT_EQ(p.header("topic"), topic);
    EXPECT_EQ(p.header("content-encoding"), "aes128gcm");
    ASSERT_TRUE(p.vapid) << p.vapid_error;
    EXPECT_EQ(p.vapid->aud, "http://127.0.0.1:" + std::to_string(b.service->port()));
    EXPECT_EQ(p.vapid->sub, "mailto:vigil@localhost");

    auto const payload = b.payloads().at(0);
    EXPECT_EQ(payload.at("type"), "alert");
    EXPECT_EQ(text(payload.at("alert_id")), id);
    EXPECT_EQ(text(payload.at("user_id")), b.user);
    EXPECT_EQ(payload.at("stream_id"), "cam-3");
    EXPECT_EQ(payload.at("severity"), "critical");
    EXPECT_EQ(payload.at("title"), "Critical: person on cam-3");
    EXPECT_EQ(text(payload.at("tag")), topic);
    EXPECT_EQ(payload.at("count"), 1);
    EXPECT_EQ(text(payload.at("url")), "/?alert=" + id);
    EXPECT_FALSE(payload.contains("thumbnail_url"));  // no frame
    EXPECT_TRUE(eventually([&] { return metric("vigil_push_sent_total") >= sent_before + 1; }));

    // Severity drives Urgency; medium and high are normal, low is low.
    auto const low = publish_alert(b.user, "cam-4", "low");
    ASSERT_TRUE(b.wait_for(2));
    EXPECT_EQ(b.service->received().at(index_of(b.payloads(), low)).header("urgency"), "low");
}

// The frame travels as a URL the service worker fetches with the user's
// credentials, never as bytes in the push.
TEST_F(PushTest, APushNamesItsFrameNotItsBytes) {
    browser b{"push_frame"};
    ASSERT_EQ(b.subscribe().status, 201);
    std::string const png = std::string{"\x89PNG\r\n\x1a\n", 8} + std::string(64, 'p');
    json::object a{{"user_id", b.user},
                   {"stream_id", "cam-9"},
                   {"detection", json::object{{"label", "person"}}},
                   {"frame", vigil::base64_encode(png)}};
    auto const r = publish(port(), a);
    ASSERT_EQ(r.status, 201) << r.body;
    auto const id = text(r.json().at("alert_id"));
    ASSERT_TRUE(b.wait_for(1));
    auto const payload = b.payloads().at(0);
    EXPECT_EQ(text(payload.at("thumbnail_url")), "/api/v1/alerts/" + id + "/frame");
    EXPECT_EQ(payload.at("severity"), "medium");  // the default
    EXPECT_EQ(b.service->received().at(0).header("urgency"), "normal");
    EXPECT_LT(b.service->received().at(0).body.size(), 1024u);
}

TEST_F(PushTest, AUserWithALiveConnectionIsNotPushed) {
    browser b{"push_live"};
    ASSERT_EQ(b.subscribe().status, 201);
    {
        auto ws = ws_client::connect_user(port(), b.user);
        auto const live = publish_alert(b.user, "cam-1", "critical");
        auto const m = ws->read_json();
        EXPECT_EQ(text(m.at("alert_id")), live);
        EXPECT_EQ(m.at("severity"), "critical");
        EXPECT_FALSE(m.contains("suppressed"));
        ws->close();
    }
    // Once the tab is closed, the next alert is pushed: and it is the first push.
    ASSERT_TRUE(eventually(
        [&] { return http_request(port(), "GET", "/ws/connections/push_live").json().at("connected") == false; }));
    auto const offline = publish_alert(b.user, "cam-1", "critical");
    ASSERT_TRUE(b.wait_for(1));
    std::this_thread::sleep_for(300ms);
    auto const payloads = b.payloads();
    ASSERT_EQ(payloads.size(), 1u);
    EXPECT_EQ(text(payloads[0].at("alert_id")), offline);
}

TEST_F(PushTest, GoneRemovesTheSubscription) {
    browser b{"push_gone"};
    ASSERT_EQ(b.subscribe().status, 201);
    auto const removed_before = metric("vigil_push_subscriptions_removed_total");
    b.service->script({mock_answer{.status = 410}});
    publish_alert(b.user, "cam-1", "high");
    ASSERT_TRUE(b.wait_for(1));
    ASSERT_TRUE(eventually([&] { return b.call("GET", "/api/v1/push/settings").json().at("subscriptions") == 0; }));
    EXPECT_GE(metric("vigil_push_subscriptions_removed_total"), removed_before + 1);
    // A second alert makes no request: a test push finds no device either.
    publish_alert(b.user, "cam-1", "high");
    EXPECT_EQ(b.call("POST", "/api/v1/push/test").status, 404);
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(b.service->received().size(), 1u);
}

TEST_F(PushTest, TooManyRequestsIsRetriedAfterRetryAfter) {
    browser b{"push_retry"};
    ASSERT_EQ(b.subscribe().status, 201);
    b.service->script({mock_answer{.status = 429, .headers = {{"Retry-After", "1"}}}});
    auto const id = publish_alert(b.user, "cam-1", "high");
    ASSERT_TRUE(b.wait_for(2, 30s));
    auto const pushes = b.service->received();
    EXPECT_GE(pushes[1].at - pushes[0].at, 900ms);
    auto const payloads = b.payloads();
    EXPECT_EQ(text(payloads.at(1).at("alert_id")), id);
    EXPECT_EQ(payloads.at(1).at("count"), 1);  // the same push, not a second one of its group
}

TEST_F(PushTest, ASnoozedStreamIsNotPushedUntilTheSnoozeEnds) {
    browser b{"push_snooze"};
    ASSERT_EQ(b.subscribe().status, 201);
    auto const snoozed = b.call("POST", "/api/v1/streams/cam%2F1/snooze", R"({"minutes":30})");
    ASSERT_EQ(snoozed.status, 200) << snoozed.body;
    EXPECT_EQ(snoozed.json().at("stream_id"), "cam/1");
    auto const until = snoozed.json().at("until").to_number<std::int64_t>();
    EXPECT_NEAR(double(until), double(std::time(nullptr)) * 1000 + 30 * 60'000, 60'000);
    auto const settings = b.call("GET", "/api/v1/push/settings").json();
    ASSERT_EQ(settings.at("snoozes").as_array().size(), 1u);
    EXPECT_EQ(settings.at("snoozes").at(0).at("stream_id"), "cam/1");

    // Stored, delivered live and in history flagged suppressed; not pushed.
    {
        auto ws = ws_client::connect_user(port(), b.user);
        auto const id = publish_alert(b.user, "cam/1", "high");
        auto const m = ws->read_json();
        EXPECT_EQ(text(m.at("alert_id")), id);
        EXPECT_EQ(m.at("suppressed"), true);
        ws->close();
    }
    ASSERT_TRUE(eventually(
        [&] { return http_request(port(), "GET", "/ws/connections/push_snooze").json().at("connected") == false; }));
    auto const quiet = publish_alert(b.user, "cam/1", "high");
    EXPECT_EQ(history_row(b.user, quiet).at("suppressed"), true);
    auto const critical = publish_alert(b.user, "cam/1", "critical");  // never suppressed
    EXPECT_FALSE(history_row(b.user, critical).contains("suppressed"));
    auto const other = publish_alert(b.user, "cam-2", "high");
    ASSERT_TRUE(b.wait_for(2));
    auto payloads = b.payloads();
    EXPECT_EQ(alert_ids(payloads), (std::multiset<std::string>{critical, other}));

    // Ended: the stream is pushed again, and the snoozed alerts are not sent in a burst.
    EXPECT_EQ(b.call("DELETE", "/api/v1/streams/cam%2F1/snooze").status, 204);
    EXPECT_EQ(b.call("DELETE", "/api/v1/streams/cam%2F1/snooze").status, 204);  // none: still 204
    auto const after = publish_alert(b.user, "cam/1", "high");
    ASSERT_TRUE(b.wait_for(3));
    std::this_thread::sleep_for(300ms);
    payloads = b.payloads();
    ASSERT_EQ(payloads.size(), 3u);
    EXPECT_EQ(text(payloads[2].at("alert_id")), after);

    EXPECT_EQ(b.call("POST", "/api/v1/streams/cam-1/snooze", R"({"minutes":0})").status, 400);
    EXPECT_EQ(b.call("POST", "/api/v1/streams/cam-1/snooze", R"({"minutes":1441})").status, 400);
    EXPECT_EQ(b.call("POST", "/api/v1/streams/cam-1/snooze", R"({"minutes":"5"})").json().at("error"),
              "invalid_snooze");
    EXPECT_EQ(b.call("POST", "/api/v1/streams/cam-1/snooze", "[").json().at("error"), "invalid_json");
    EXPECT_EQ(b.call("POST", "/api/v1/streams/cam%01/snooze", R"({"minutes":5})").json().at("error"),
              "invalid_stream_id");
}

// A snooze resumes by itself: the shortest one is a minute.
TEST_F(PushTest, ASnoozeEndsByItself) {
    if (on_postgres()) GTEST_SKIP() << "a minute's wait: once, on SQLite, is enough";
    browser b{"push_snooze_ends"};
    ASSERT_EQ(b.subscribe().status, 201);
    ASSERT_EQ(b.call("POST", "/api/v1/streams/cam-1/snooze", R"({"minutes":1})").status, 200);
    auto const held = publish_alert(b.user, "cam-1", "high");
    EXPECT_EQ(history_row(b.user, held).at("suppressed"), true);
    std::this_thread::sleep_for(61s);
    EXPECT_TRUE(b.call("GET", "/api/v1/push/settings").json().at("snoozes").as_array().empty());
    auto const after = publish_alert(b.user, "cam-1", "high");
    EXPECT_FALSE(history_row(b.user, after).contains("suppressed"));
    ASSERT_TRUE(b.wait_for(1));
    std::this_thread::sleep_for(300ms);
    auto const payloads = b.payloads();
    ASSERT_EQ(payloads.size(), 1u);  // the held alert is not sent afterwards
    EXPECT_EQ(text(payloads[0].at("alert_id")), after);
}

TEST_F(PushTest, QuietHoursHoldBackLowButNeverCritical) {
    browser b{"push_quiet"};
    ASSERT_EQ(b.subscribe().status, 201);
    EXPECT_EQ(b.call("GET", "/api/v1/push/quiet-hours").status, 404);
    // A span around now, in UTC+2 local time.
    auto const now_local = (std::time(nullptr) / 60 + 120) % 1440;
    auto const hh_mm = [](long m) {
        m = ((m % 1440) + 1440) % 1440;
        char buf[8];
        std::snprintf(buf, sizeof buf, "%02ld:%02ld", m / 60, m % 60);
        return std::string{buf};
    };
    json::object q{{"start", hh_mm(now_local - 60)},
                   {"end", hh_mm(now_local + 60)},
                   {"utc_offset_minutes", 120},
                   {"severities", json::array{"low", "medium"}}};
    auto const put = b.call("PUT", "/api/v1/push/quiet-hours", json::serialize(q));
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_EQ(put.json(), json::value(q));
    EXPECT_EQ(b.call("GET", "/api/v1/push/quiet-hours").json(), json::value(q));
    EXPECT_EQ(b.call("GET", "/api/v1/push/settings").json().at("quiet_hours"), json::value(q));

    auto const low = publish_alert(b.user, "cam-1", "low");
    auto const medium = publish_alert(b.user, "cam-1", "medium");
    auto const critical = publish_alert(b.user, "cam-1", "critical");
    auto const high = publish_alert(b.user, "cam-2", "high");
    EXPECT_EQ(history_row(b.user, low).at("suppressed"), true);
    EXPECT_EQ(history_row(b.user, medium).at("suppressed"), true);
    EXPECT_FALSE(history_row(b.user, critical).contains("suppressed"));
    ASSERT_TRUE(b.wait_for(2));
    std::this_thread::sleep_for(300ms);
    auto payloads = b.payloads();
    EXPECT_EQ(alert_ids(payloads), (std::multiset<std::string>{critical, high}));

    // Critical cannot be quieted; equal ends are no span.
    q["severities"] = json::array{"low", "critical"};
    auto const refused = b.call("PUT", "/api/v1/push/quiet-hours", json::serialize(q));
    EXPECT_EQ(refused.status, 400);
    EXPECT_EQ(refused.json().at("error"), "invalid_quiet_hours");
    EXPECT_EQ(b.call("PUT", "/api/v1/push/quiet-hours", R"({"start":"22:00","end":"22:00"})").status, 400);
    EXPECT_EQ(b.call("PUT", "/api/v1/push/quiet-hours", R"({"start":"24:00","end":"07:00"})").status, 400);
    EXPECT_EQ(
        b.call("PUT", "/api/v1/push/quiet-hours", R"({"start":"22:00","end":"07:00","utc_offset_minutes":900})").status,
        400);

    // Cleared: low is pushed again.
    EXPECT_EQ(b.call("DELETE", "/api/v1/push/quiet-hours").status, 204);
    EXPECT_EQ(b.call("GET", "/api/v1/push/quiet-hours").status, 404);
    auto const later = publish_alert(b.user, "cam-1", "low");
    ASSERT_TRUE(b.wait_for(3));
    EXPECT_EQ(text(b.payloads().at(2).at("alert_id")), later);
}

TEST_F(PushTest, AGroupReusesItsTopicAndCounts) {
    browser b{"push_group"};
    ASSERT_EQ(b.subscribe().status, 201);
    auto const first = publish_alert(b.user, "cam-1", "high", {{"label", "car"}});
    auto const second = publish_alert(b.user, "cam-1", "high", {{"label", "car"}});
    auto const other = publish_alert(b.user, "cam-1", "high", {{"label", "car"}}, "driveway");
    ASSERT_TRUE(b.wait_for(3));
    auto const pushes = b.service->received();
    auto const payloads = b.payloads();
    ASSERT_EQ(alert_ids(payloads), (std::multiset<std::string>{first, second, other}));
    // Counted in commit order, whatever order the push service saw them in.
    auto const i1 = index_of(payloads, first), i2 = index_of(payloads, second), i3 = index_of(payloads, other);
    auto const topic = expected_topic(b.user, "cam-1/car");
    EXPECT_EQ(pushes[i1].header("topic"), topic);
    EXPECT_EQ(pushes[i2].header("topic"), topic);
    EXPECT_EQ(payloads[i1].at("count"), 1);
    EXPECT_EQ(payloads[i2].at("count"), 2);
    EXPECT_EQ(text(payloads[i2].at("tag")), topic);
    EXPECT_EQ(payloads[i3].at("count"), 1);
    EXPECT_EQ(pushes[i3].header("topic"), expected_topic(b.user, "driveway"));
    EXPECT_EQ(text(payloads[i3].at("tag")), expected_topic(b.user, "driveway"));
}

TEST_F(PushTest, AnAcknowledgementReplacesThePushedNotification) {
    browser b{"push_ack"};
    ASSERT_EQ(b.subscribe().status, 201);
    auto const sent_before = metric("vigil_push_sent_total");
    auto const id = publish_alert(b.user, "cam-7", "high");
    ASSERT_TRUE(b.wait_for(1));
    ASSERT_TRUE(eventually([&] { return metric("vigil_push_sent_total") >= sent_before + 1; }));
    auto const ack = b.call("POST", "/api/v1/alerts/" + id + "/ack");
    ASSERT_EQ(ack.status, 200) << ack.body;
    ASSERT_TRUE(b.wait_for(2));
    auto const payloads = b.payloads();
    auto const& replaced = payloads.at(1);
    EXPECT_EQ(replaced.at("type"), "acknowledged");
    EXPECT_EQ(text(replaced.at("alert_id")), id);
    EXPECT_EQ(replaced.at("stream_id"), "cam-7");
    EXPECT_EQ(text(replaced.at("by")), b.user);
    EXPECT_EQ(replaced.at("tag"), payloads.at(0).at("tag"));
    EXPECT_EQ(b.service->received().at(1).header("topic"), std::string{payloads.at(0).at("tag").as_string()});

    // An alert that was never pushed (its user was live) sends nothing on its ack.
    auto ws = ws_client::connect_user(port(), b.user);
    auto const live = publish_alert(b.user, "cam-7", "high");
    for (;;)
        if (text(ws->read_json().at("alert_id")) == live) break;
    ws->send_json({{"type", "ack"}, {"alert_id", live}});
    EXPECT_EQ(ws->read_json().at("type"), "ack_ok");
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(b.service->received().size(), 2u);
}

TEST(PushSettings, InsecureEndpointsNeedDevMode) {
    try {
        server_process s{{"--push-allow-insecure-endpoints"}};
        FAIL() << "the server started";
    } catch (std::exception const& e) {
        SUCCEED() << e.what();
    }
}
