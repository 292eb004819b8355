// Web Push in a cluster (docs/decisions/0022-push-delivery.md): two nodes on
// one PostgreSQL and one Redis, sharing one VAPID key. A user whose tab is
// open on one node is not pushed for an alert committed on the other; once
// it is closed, the committing node pushes, and a group's count is the
// cluster's, not a node's.
#include "support/clients.hpp"
#include "support/mock_push_service.hpp"
#include "support/postgres_process.hpp"
#include "support/redis_process.hpp"
#include "support/server_process.hpp"

#include "common/base64.hpp"
#include "push/p256_key.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

using namespace vigil::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

bool eventually(std::function<bool()> const& done, std::chrono::milliseconds limit = 20s) {
    auto const until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        if (done()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return done();
}

headers admin() { return {{"Authorization", "Bearer " + token_for("ops", "admin")}}; }

// Whether node `port`'s monitoring lists a live connection of `user` (its own or another node's).
bool sees_connected(std::uint16_t port, std::string const& user) {
    auto const r = http_request(port, "GET", "/ws/connections", {}, admin());
    if (r.status != 200) return false;
    auto const body = r.json();
    for (auto const& c : body.at("connections").as_array())
        if (c.at("user_id") == json::value(user)) return true;
    return false;
}

}  // namespace

TEST(ClusterPush, TheCommittingNodePushesOnlyWhileTheUserIsLiveNowhere) {
    if (!postgres_process::available()) GTEST_SKIP() << "PostgreSQL binaries not found";
    postgres_process pg;
    redis_process redis;

    // One key for the cluster, as an operator gives every node.
    auto const dir = std::filesystem::temp_directory_path() / ("vigil-cluster-push-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto const key_file = (dir / "vapid.pem").string();
    auto const vapid = vigil::push::p256_key::generate();
    std::ofstream{key_file} << vapid.private_pem();
    ::chmod(key_file.c_str(), 0600);

    std::vector<std::unique_ptr<server_process>> nodes;
    for (int i = 0; i < 2; ++i)
        nodes.push_back(std::make_unique<server_process>(std::vector<std::string>{
            "--store", "postgres", "--postgres-url", pg.url(), "--bus", "redis", "--redis-url", redis.url(),
            "--node-id", "n" + std::to_string(i), "--dev", "--push-allow-insecure-endpoints",
            "--vapid-private-key-file", key_file, "--ping-interval", "5", "--heartbeat-timeout", "60"}));
    auto const port = [&](int i) { return nodes[std::size_t(i)]->port(); };
    auto const public_key = vigil::base64url_encode(vapid.public_point());
    for (int i = 0; i < 2; ++i)
        EXPECT_EQ(http_request(port(i), "GET", "/api/v1/push/vapid-public-key").json().at("public_key"),
                  json::value(public_key));

    // A browser subscribes through node 1.
    std::string const user = "cluster_push";
    auto const browser_key = vigil::push::p256_key::generate();
    std::string const auth = "0123456789abcdef";
    mock_push_service service{{"127.0.0.1", {}, {}, browser_key.private_pem(), auth, public_key}};
    json::object subscription{
        {"endpoint", service.endpoint("/wpush/cluster")},
        {"keys",
         {{"p256dh", vigil::base64url_encode(browser_key.public_point())}, {"auth", vigil::base64url_encode(auth)}}}};
    auto const user_token = headers{{"Authorization", "Bearer " + token_for(user)}};
    ASSERT_EQ(
        http_request(port(1), "POST", "/api/v1/push/subscriptions", json::serialize(subscription), user_token).status,
        201);

    json::object const alert{{"user_id", user}, {"stream_id", "cam-1"}, {"detection", {{"label", "person"}}}};
    {
        // The tab is open on node 1; node 0 commits the alert and must not push.
        auto ws = ws_client::connect_user(port(1), user);
        ASSERT_TRUE(eventually([&] { return sees_connected(port(0), user); }));
        auto const r = publish(port(0), alert);
        ASSERT_EQ(r.status, 201) << r.body;
        EXPECT_EQ(r.json().at("delivered"), true);
        for (;;) {
            auto const m = ws->read_json(10s);
            if (m.at("type") == "anomaly_detected") break;
        }
        std::this_thread::sleep_for(1s);
        EXPECT_EQ(service.received().size(), 0u);
        ws->close();
    }

    // Closed everywhere: node 0 pushes, signed with the shared key.
    ASSERT_TRUE(eventually([&] { return !sees_connected(port(0), user) && !sees_connected(port(1), user); }));
    auto const first = publish(port(0), alert);
    ASSERT_EQ(first.status, 201);
    EXPECT_EQ(first.json().at("delivered"), false);
    ASSERT_TRUE(service.wait_for(1, 20s));
    // The same group committed on the other node counts on.
    auto const second = publish(port(1), alert);
    ASSERT_EQ(second.status, 201);
    ASSERT_TRUE(service.wait_for(2, 20s));
    std::this_thread::sleep_for(500ms);
    auto const pushes = service.received();
    ASSERT_EQ(pushes.size(), 2u);
    std::vector<json::object> payloads;
    for (auto const& p : pushes) {
        ASSERT_TRUE(p.vapid) << p.vapid_error;
        ASSERT_TRUE(p.plaintext) << p.decrypt_error;
        payloads.push_back(json::parse(*p.plaintext).as_object());
    }
    EXPECT_EQ(payloads[0].at("alert_id"), first.json().at("alert_id"));
    EXPECT_EQ(payloads[0].at("count"), 1);
    EXPECT_EQ(payloads[1].at("alert_id"), second.json().at("alert_id"));
    EXPECT_EQ(payloads[1].at("count"), 2);
    EXPECT_EQ(pushes[0].header("topic"), pushes[1].header("topic"));

    nodes.clear();
    std::filesystem::remove_all(dir);
}
