// The Redis engine of the bus beyond the shared contract: outages of the
// server, a subscription that stops delivering, presence of nodes that
// vanish, presence at 19,000 connections, hostile payloads, stopping while
// Redis does not answer. Against real redis-servers the tests start.
#include "bus/redis_alert_bus.hpp"
#include "bus/redis_wire.hpp"
#include "common/metrics.hpp"
#include "contract/alert_bus_contract.hpp"
#include "support/redis_process.hpp"
#include "support/tcp_proxy.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <thread>

using namespace vigil;
using namespace vigil::test;
using namespace std::chrono_literals;

namespace {

// Short intervals, so that outages heal within a test's patience; timeouts
// generous enough for a loaded machine, where a false alarm would show as an
// extra link change.
redis_bus_options quick(std::string url, std::string node) {
    redis_bus_options o;
    o.url = std::move(url);
    o.node_id = std::move(node);
    o.command_timeout = 1500ms;
    o.reconnect_min = 50ms;
    o.reconnect_max = 300ms;
    o.presence_interval = 300ms;
    o.presence_ttl = 2000ms;
    o.heartbeat_refresh = 1000ms;
    o.probe_interval = 300ms;
    o.probe_timeout = 1500ms;
    return o;
}

bool eventually(std::function<bool()> const& check, std::chrono::milliseconds timeout = 10s) {
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (check()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return check();
}

bus_alert make_alert(std::string user, std::uint64_t seq, std::string origin) {
    bus_alert a;
    a.user_id = std::move(user);
    a.seq = seq;
    a.alert_id = "id-" + std::to_string(seq);
    a.origin_node = std::move(origin);
    a.text = std::make_shared<std::string const>(R"({"type":"anomaly_detected","seq":)" + std::to_string(seq) + "}");
    return a;
}

bool received(recording_handler const& h, std::uint64_t seq) {
    for (auto const& a : h.alerts())
        if (a.seq == seq) return true;
    return false;
}

std::vector<node_connection> listed(alert_bus const& bus) {
    std::vector<node_connection> out;
    bus.remote_connections([&](std::vector<node_connection> c) { out = std::move(c); });  // at once, for this engine
    return out;
}

// A value of this process's /metrics, 0 when absent.
double metric(std::string const& series) {
    auto const text = metrics::global().render(0);
    auto const at = text.find("\n" + series + " ");
    if (at == std::string::npos) return 0;
    return std::stod(text.substr(at + series.size() + 2));
}

}  // namespace

TEST(RedisAlertBus, ComesBackAfterRedisIsKilledAndRestarted) {
    redis_process server;
    redis_alert_bus a{quick(server.url(), "a")}, b{quick(server.url(), "b")};
    recording_handler ha, hb;
    ha.set_connections({{"alice", 1'700'000'000'000, 1'700'000'000'000, "c-alice"}});
    a.start(ha), b.start(hb);
    ASSERT_TRUE(eventually([&] { return a.status().up && b.status().up && b.connected_elsewhere("alice"); }));
    auto const reconnects = metrics::global().bus_reconnects.value();

    server.kill();
    ASSERT_TRUE(eventually([&] { return !a.status().up && !b.status().up; }));
    EXPECT_NE(a.status().detail.find("connection"), std::string::npos) << a.status().detail;
    a.publish(make_alert("u", 1, "a"));  // its own node has it at once, link or not
    EXPECT_TRUE(received(ha, 1));

    server.start();  // same port, no data: resubscribe and rewrite presence
    // status() turns up a moment before the handler hears of it: wait for both.
    auto const back_up = [](recording_handler& h) {
        auto const links = h.links();
        return !links.empty() && links.back();
    };
    ASSERT_TRUE(eventually([&] { return a.status().up && b.status().up && back_up(ha) && back_up(hb); }));
    // Up, down, and up again at the end (a loaded machine may see one more
    // loss while Redis starts: a probe or a command past its deadline).
    for (auto const* h : {&ha, &hb}) {
        auto const links = h->links();
        ASSERT_GE(links.size(), 3u);
        EXPECT_TRUE(links[0]);
        EXPECT_FALSE(links[1]);
        EXPECT_TRUE(links.back());
    }
    EXPECT_GE(metrics::global().bus_reconnects.value(), reconnects + 4);  // two connections each
    a.publish(make_alert("u", 2, "a"));
    EXPECT_TRUE(eventually([&] { return received(hb, 2); }));
    EXPECT_TRUE(eventually([&] { return b.connected_elsewhere("alice"); }));
    a.stop(), b.stop();
}

TEST(RedisAlertBus, ReportsTheLinkDownWhenRedisIsUnreachableAtStart) {
    redis_process server;
    server.kill();  // its port, with nothing listening
    redis_alert_bus a{quick(server.url(), "a")};
    recording_handler ha;
    EXPECT_FALSE(a.status().up);
    a.start(ha);
    ASSERT_TRUE(eventually([&] { return !ha.links().empty(); }));
    EXPECT_EQ(ha.links(), (std::vector<bool>{false}));
    EXPECT_NE(a.status().detail.find("connection"), std::string::npos) << a.status().detail;
    server.start();
    ASSERT_TRUE(eventually([&] { return a.status().up && ha.links().size() >= 2; }));
    EXPECT_EQ(ha.links(), (std::vector<bool>{false, true}));
    a.stop();
}

TEST(RedisAlertBus, ReplacesASubscriptionThatStoppedDelivering) {
    redis_process server;
    tcp_proxy proxy{server.port()};
    redis_alert_bus a{quick(proxy.redis_url(), "a")}, b{quick(server.url(), "b")};
    recording_handler ha, hb;
    a.start(ha), b.start(hb);
    ASSERT_TRUE(eventually([&] { return a.status().up && b.status().up; }));
    auto const probe_errors = metric(R"(vigil_bus_errors_total{kind="probe"})");

    // a's subscriber connection stays open but nothing reaches it any more:
    // only the probe can tell.
    proxy.deafen_subscribers();
    ASSERT_TRUE(eventually([&] { return ha.links().size() >= 3; }, 10s)) << "links seen: " << ha.links().size();
    EXPECT_EQ(ha.links(), (std::vector<bool>{true, false, true}));
    EXPECT_GT(metric(R"(vigil_bus_errors_total{kind="probe"})"), probe_errors);
    EXPECT_EQ(hb.links(), (std::vector<bool>{true})) << "b's link never failed";

    b.publish(make_alert("u", 7, "b"));
    EXPECT_TRUE(eventually([&] { return received(ha, 7); }, 5s));
    a.stop(), b.stop();
}

TEST(RedisAlertBus, ResubscribesWhenTheServerKillsItsSubscribers) {
    redis_process server;
    redis_alert_bus a{quick(server.url(), "a")}, b{quick(server.url(), "b")};
    recording_handler ha, hb;
    a.start(ha), b.start(hb);
    ASSERT_TRUE(eventually([&] { return a.status().up && b.status().up; }));
    server.command({"CLIENT", "KILL", "TYPE", "pubsub"});
    ASSERT_TRUE(eventually([&] { return ha.links().size() >= 3 && hb.links().size() >= 3; }));
    EXPECT_EQ(ha.links(), (std::vector<bool>{true, false, true}));
    // Every node subscribes once to every shard, the control and its own probe channel.
    EXPECT_EQ(server.command({"PUBSUB", "NUMSUB", "vigil:alerts:0"}), "vigil:alerts:0\n2");
    EXPECT_EQ(server.command({"PUBSUB", "NUMSUB", "vigil:probe:a"}), "vigil:probe:a\n1");
    for (std::uint64_t seq = 1; seq <= 50; ++seq) a.publish(make_alert("u" + std::to_string(seq), seq, "a"));
    EXPECT_TRUE(hb.wait_for([&] { return hb.alert_count_locked() == 50; }));
    a.stop(), b.stop();
}

TEST(RedisAlertBus, PublishesMadeWhileCutOffGoOutOnceReconnected) {
    redis_process server;
    tcp_proxy proxy{server.port()};
    redis_alert_bus a{quick(proxy.redis_url(), "a")}, b{quick(server.url(), "b")};
    recording_handler ha, hb;
    a.start(ha), b.start(hb);
    ASSERT_TRUE(eventually([&] { return a.status().up && b.status().up; }));
    proxy.cut();
    ASSERT_TRUE(eventually([&] { return !a.status().up; }));
    for (std::uint64_t seq = 1; seq <= 5; ++seq) a.publish(make_alert("u", seq, "a"));
    EXPECT_EQ(ha.alerts().size(), 5u);
    proxy.restore();
    ASSERT_TRUE(eventually([&] { return a.status().up; }));
    EXPECT_TRUE(hb.wait_for([&] { return hb.alert_count_locked() == 5; }));
    a.stop(), b.stop();
}

TEST(RedisAlertBus, ANodeCutOffDisappearsFromTheOthersWithin15Seconds) {
    // The default intervals: this is the bound SPEC section 5 promises.
    redis_process server;
    tcp_proxy proxy{server.port()};
    redis_bus_options oa, ob;
    oa.url = proxy.redis_url(), oa.node_id = "a";
    ob.url = server.url(), ob.node_id = "b";
    redis_alert_bus a{oa}, b{ob};
    recording_handler ha, hb;
    ha.set_connections({{"alice", 1'700'000'000'000, 1'700'000'000'000, "c-alice"}});
    hb.set_connections({{"bob", 1'700'000'000'000, 1'700'000'000'000, "c-bob"}});
    a.start(ha), b.start(hb);
    ASSERT_TRUE(eventually([&] { return b.connected_elsewhere("alice") && a.connected_elsewhere("bob"); }));

    // a's process is as good as dead to the cluster: it cannot refresh, and
    // cannot withdraw either.
    proxy.cut();
    auto const cut_at = std::chrono::steady_clock::now();
    ASSERT_TRUE(eventually([&] { return !b.connected_elsewhere("alice") && listed(b).empty(); }, 16s));
    auto const gone_after = std::chrono::steady_clock::now() - cut_at;
    EXPECT_LT(gone_after, 15s);
    EXPECT_GT(gone_after, 5s) << "it was not withdrawn: it expired";
    // a cannot confirm b's entries either: it stops showing them.
    EXPECT_TRUE(eventually([&] { return !a.connected_elsewhere("bob"); }, 5s));
    a.stop(), b.stop();
}

TEST(RedisAlertBus, ACleanStopWithdrawsAtOnce) {
    redis_process server;
    redis_bus_options oa, ob;
    oa.url = ob.url = server.url();
    oa.node_id = "a", ob.node_id = "b";
    redis_alert_bus a{oa}, b{ob};
    recording_handler ha, hb;
    ha.set_connections({{"alice", 1'700'000'000'000, 1'700'000'000'000, "c-alice"}});
    a.start(ha), b.start(hb);
    ASSERT_TRUE(eventually([&] { return b.connected_elsewhere("alice"); }));
    a.stop();
    EXPECT_EQ(server.command({"EXISTS", "vigil:presence:a"}), "0");
    EXPECT_EQ(server.command({"ZSCORE", "vigil:nodes", "a"}), "");
    auto const stopped_at = std::chrono::steady_clock::now();
    ASSERT_TRUE(eventually([&] { return !b.connected_elsewhere("alice"); }));
    EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, 4s);  // b's next presence read
    EXPECT_EQ(ha.links(), (std::vector<bool>{true})) << "nothing reported after stop";
    b.stop();
}

TEST(RedisAlertBus, EveryConnectionIsListedWithItsId) {
    redis_process server;
    redis_alert_bus a{quick(server.url(), "a")}, b{quick(server.url(), "b")};
    recording_handler ha, hb;
    // For a moment a node may hold two connections of one user (the older is closing).
    ha.set_connections({{"alice", 1'700'000'000'000, 1'700'000'000'500, "c-old"},
                        {"alice", 1'700'000'001'000, 1'700'000'001'000, "c-new"},
                        {"bob", 1'700'000'002'000, 1'700'000'002'000, "c-bob"}});
    a.start(ha), b.start(hb);
    ASSERT_TRUE(eventually([&] { return listed(b).size() == 3; }));
    std::map<std::string, connection_stats> by_id;
    for (auto const& c : listed(b)) by_id[c.stats.connection_id] = c.stats;
    EXPECT_EQ(by_id["c-old"].user_id, "alice");
    EXPECT_EQ(by_id["c-old"].last_heartbeat_ms, 1'700'000'000'500);
    EXPECT_EQ(by_id["c-new"].connected_at_ms, 1'700'000'001'000);
    EXPECT_EQ(by_id["c-bob"].user_id, "bob");
    ha.set_connections({{"alice", 1'700'000'001'000, 1'700'000'001'000, "c-new"}});
    EXPECT_TRUE(eventually([&] { return listed(b).size() == 1 && listed(b)[0].stats.connection_id == "c-new"; }));
    EXPECT_TRUE(b.connected_elsewhere("alice"));
    EXPECT_FALSE(b.connected_elsewhere("bob"));
    a.stop(), b.stop();
}

TEST(RedisAlertBus, NineteenThousandConnectionsGoInChunks) {
    redis_process server;
    redis_alert_bus a{quick(server.url(), "a")}, b{quick(server.url(), "b")};
    recording_handler ha, hb;
    std::vector<connection_stats> many;
    for (int i = 0; i < 19'000; ++i)
        many.push_back(
            {"user-" + std::to_string(i), 1'700'000'000'000 + i, 1'700'000'100'000 + i, "conn-" + std::to_string(i)});
    ha.set_connections(many);
    a.start(ha), b.start(hb);
    ASSERT_TRUE(eventually([&] { return listed(b).size() == 19'000; }, 20s)) << listed(b).size();
    auto const seen = listed(b);
    std::map<std::string, connection_stats> by_user;
    for (auto const& c : seen) {
        EXPECT_EQ(c.node, "a");
        by_user[c.stats.user_id] = c.stats;
    }
    ASSERT_EQ(by_user.size(), 19'000u);
    EXPECT_EQ(by_user["user-18999"].connected_at_ms, 1'700'000'018'999);
    EXPECT_EQ(by_user["user-18999"].last_heartbeat_ms, 1'700'000'118'999);
    EXPECT_EQ(by_user["user-18999"].connection_id, "conn-18999");
    EXPECT_TRUE(b.connected_elsewhere("user-0"));
    // Written in bounded commands: 500 fields per HSET.
    auto const stats = server.command({"INFO", "commandstats"});
    std::smatch m;
    ASSERT_TRUE(std::regex_search(stats, m, std::regex{R"(cmdstat_hset:calls=(\d+))"}));
    EXPECT_GE(std::stoi(m[1]), 38);

    many.erase(many.begin());
    many.push_back({"newcomer", 1'700'000'200'000, 1'700'000'200'000, "conn-new"});
    ha.set_connections(many);
    EXPECT_TRUE(eventually([&] { return b.connected_elsewhere("newcomer") && !b.connected_elsewhere("user-0"); }));
    EXPECT_EQ(listed(b).size(), 19'000u);
    a.stop(), b.stop();
}

TEST(RedisAlertBus, HostilePayloadsAreCountedAndIgnored) {
    redis_process server;
    redis_alert_bus a{quick(server.url(), "a")};
    recording_handler ha;
    a.start(ha);
    ASSERT_TRUE(eventually([&] { return a.status().up; }));
    auto const before = metric(R"(vigil_bus_errors_total{kind="decode"})");
    auto const shard = redis_wire::shard_of("victim");
    auto const wrong = (shard + 1) % redis_wire::shard_count;
    bus_control c;
    c.user_id = "victim";
    c.node = "x";
    server.command({"PUBLISH", "vigil:alerts:0", "garbage"});
    server.command({"PUBLISH", "vigil:alerts:0", std::string(100'000, 'A')});
    server.command({"PUBLISH", "vigil:alerts:" + std::to_string(wrong),
                    redis_wire::encode_alert("x", make_alert("victim", 1, "x"))});
    server.command({"PUBLISH", "vigil:alerts:" + std::to_string(shard), redis_wire::encode_control("x", c)});
    server.command({"PUBLISH", "vigil:control", redis_wire::encode_alert("x", make_alert("victim", 2, "x"))});
    server.command({"PUBLISH", "vigil:alerts:" + std::to_string(shard),
                    redis_wire::encode_alert("x", make_alert("victim", 3, "x"))});
    ASSERT_TRUE(eventually([&] { return received(ha, 3); }));
    EXPECT_EQ(ha.alerts().size(), 1u);
    EXPECT_TRUE(ha.controls().empty());
    EXPECT_EQ(metric(R"(vigil_bus_errors_total{kind="decode"})"), before + 5);
    EXPECT_TRUE(a.status().up);
    a.stop();
}

TEST(RedisAlertBus, StopsPromptlyWhileRedisIsDownOrFrozen) {
    redis_process server;
    {
        redis_alert_bus a{quick(server.url(), "a")};
        recording_handler ha;
        a.start(ha);
        ASSERT_TRUE(eventually([&] { return a.status().up; }));
        server.pause();  // the withdrawal will get no answer
        auto const t0 = std::chrono::steady_clock::now();
        a.stop();
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);  // command_timeout (1.5 s) and a margin
        server.resume();
    }
    {
        redis_alert_bus a{quick(server.url(), "a")};
        recording_handler ha;
        a.start(ha);
        ASSERT_TRUE(eventually([&] { return a.status().up; }));
        server.kill();
        ASSERT_TRUE(eventually([&] { return !a.status().up; }));
        auto const t0 = std::chrono::steady_clock::now();
        a.stop();
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    }
}

// A PUBLISH in flight when its connection is lost (no answer within the
// command timeout) goes out again on the next connection: the other nodes'
// links stayed up, so they would not read the store for it, and its user
// would see it only with a later alert.
TEST(RedisAlertBus, APublishLostInFlightIsSentAgain) {
    redis_process server;
    tcp_proxy proxy{server.port()};
    redis_alert_bus a{quick(proxy.redis_url(), "a")}, b{quick(server.url(), "b")};
    recording_handler ha, hb;
    a.start(ha), b.start(hb);
    ASSERT_TRUE(eventually([&] { return a.status().up && b.status().up; }));
    a.publish(make_alert("u", 1, "a"));
    ASSERT_TRUE(eventually([&] { return received(hb, 1); }));

    proxy.mute_commands();  // a's PUBLISH leaves a and never reaches Redis
    a.publish(make_alert("u", 2, "a"));
    EXPECT_TRUE(eventually([&] { return received(hb, 2); }, 15s)) << "sent again after the command timeout";
    a.stop(), b.stop();
}

TEST(RedisAlertBus, RefusesABadUrlOrNodeId) {
    EXPECT_THROW(redis_alert_bus(quick("http://x", "a")), std::invalid_argument);
    EXPECT_THROW(redis_alert_bus(quick("redis://127.0.0.1", "")), std::invalid_argument);
    EXPECT_THROW(redis_alert_bus(quick("redis://127.0.0.1", "has space")), std::invalid_argument);
    redis_alert_bus never_started{quick("redis://127.0.0.1:1", "a")};
    EXPECT_FALSE(never_started.status().up);
    never_started.stop();  // without start: nothing to do
}
