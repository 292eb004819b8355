// The alert_bus contract's cases, and its instantiation for the in-process
// engine. Networked engines instantiate AlertBusContract beside their own
// server fixtures.
#include "contract/alert_bus_contract.hpp"

#include "bus/local_alert_bus.hpp"

using namespace vigil;
using namespace vigil::test;

TEST_P(AlertBusContract, APublishReachesItsOwnNodeAtOnce) {
    auto a = node("a");
    recording_handler h;
    a->start(h);
    auto const sent = alert("u1", 7, "a");
    a->publish(sent);
    auto const got = h.alerts();  // no waiting: inside publish()
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].user_id, "u1");
    EXPECT_EQ(got[0].seq, 7u);
    EXPECT_EQ(got[0].alert_id, sent.alert_id);
    EXPECT_EQ(got[0].origin_node, "a");
    EXPECT_EQ(*got[0].text, *sent.text);
    a->stop();
}

TEST_P(AlertBusContract, NothingReachesAStoppedNode) {
    auto a = node("a");
    recording_handler h;
    a->publish(alert("u1", 1, "a"));  // before start
    a->start(h);
    a->stop();
    a->stop();  // idempotent
    a->publish(alert("u1", 2, "a"));
    EXPECT_TRUE(h.alerts().empty());
}

TEST_P(AlertBusContract, StatusIsUpOnceStarted) {
    auto a = node("a");
    recording_handler h;
    a->start(h);
    EXPECT_TRUE(eventually([&] { return a->status().up; }));
    EXPECT_FALSE(a->status().engine.empty());
    EXPECT_EQ(a->node_id(), "a");
    a->stop();
}

TEST_P(AlertBusContract, ASingleNodeKnowsNoOtherConnections) {
    auto a = node("a");
    recording_handler h;
    h.set_connections({{"u1", 1000, 2000, "c1"}});
    a->start(h);
    EXPECT_FALSE(a->connected_elsewhere("u1"));  // its own connection is not "elsewhere"
    std::vector<node_connection> seen{{"x", {}}};
    a->remote_connections([&](std::vector<node_connection> c) { seen = std::move(c); });
    EXPECT_TRUE(eventually([&] { return seen.empty(); }));
    a->stop();
}

TEST_P(AlertBusContract, APublishReachesEveryOtherNodeOnce) {
    if (!has_nodes(3)) GTEST_SKIP() << GetParam().name << " is a single node";
    auto a = node("a"), b = node("b"), c = node("c");
    recording_handler ha, hb, hc;
    a->start(ha), b->start(hb), c->start(hc);
    ASSERT_TRUE(eventually([&] { return a->status().up && b->status().up && c->status().up; }));
    constexpr std::uint64_t n = 500;
    for (std::uint64_t seq = 1; seq <= n; ++seq) a->publish(alert("u" + std::to_string(seq % 7), seq, "a"));
    for (auto* h : {&hb, &hc}) {
        ASSERT_TRUE(h->wait_for([&] { return h->alert_count_locked() >= n; }, std::chrono::seconds{10}));
        std::vector<int> seen(n + 1, 0);
        for (auto const& got : h->alerts()) {
            ASSERT_LE(got.seq, n);
            ++seen[got.seq];
            EXPECT_EQ(got.origin_node, "a");
            EXPECT_EQ(*got.text, *alert("x", got.seq, "a").text);
        }
        for (std::uint64_t seq = 1; seq <= n; ++seq) EXPECT_EQ(seen[seq], 1) << "seq " << seq;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
    EXPECT_EQ(ha.alerts().size(), n);  // its own, once: not echoed back by the engine
    a->stop(), b->stop(), c->stop();
}

TEST_P(AlertBusContract, ControlMessagesReachTheOthersNotTheSender) {
    if (!has_nodes(2)) GTEST_SKIP() << GetParam().name << " is a single node";
    auto a = node("a"), b = node("b");
    recording_handler ha, hb;
    a->start(ha), b->start(hb);
    ASSERT_TRUE(eventually([&] { return a->status().up && b->status().up; }));
    bus_control c;
    c.what = bus_control::kind::connection_replaced;
    c.user_id = "alice";
    c.node = "a";
    c.connection_id = "conn-42";
    c.connected_at_ms = 1'700'000'000'123;
    a->publish_control(c);
    ASSERT_TRUE(hb.wait_for([&] { return hb.control_count_locked() == 1; }));
    auto const got = hb.controls()[0];
    EXPECT_EQ(got.what, bus_control::kind::connection_replaced);
    EXPECT_EQ(got.user_id, "alice");
    EXPECT_EQ(got.node, "a");
    EXPECT_EQ(got.connection_id, "conn-42");
    EXPECT_EQ(got.connected_at_ms, 1'700'000'000'123);
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
    EXPECT_TRUE(ha.controls().empty());
    a->stop(), b->stop();
}

TEST_P(AlertBusContract, PresenceShowsOtherNodesConnections) {
    if (!has_nodes(2)) GTEST_SKIP() << GetParam().name << " is a single node";
    auto a = node("a"), b = node("b");
    recording_handler ha, hb;
    ha.set_connections({{"alice", 1'700'000'000'000, 1'700'000'005'000, "c-alice"}});
    a->start(ha), b->start(hb);
    auto listed_by_b = [&] {
        std::vector<node_connection> out;
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
        b->remote_connections([&](std::vector<node_connection> c) {
            std::lock_guard lock{m};
            out = std::move(c);
            done = true;
            cv.notify_all();
        });
        std::unique_lock lock{m};
        cv.wait_for(lock, std::chrono::seconds{5}, [&] { return done; });
        return out;
    };
    ASSERT_TRUE(eventually([&] { return b->connected_elsewhere("alice"); }));
    auto const listed = listed_by_b();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].node, "a");
    EXPECT_EQ(listed[0].stats.user_id, "alice");
    EXPECT_EQ(listed[0].stats.connected_at_ms, 1'700'000'000'000);
    EXPECT_FALSE(a->connected_elsewhere("alice"));  // a's own

    ha.set_connections({});  // alice left a
    EXPECT_TRUE(eventually([&] { return !b->connected_elsewhere("alice"); }, std::chrono::seconds{6}));
    ha.set_connections({{"bob", 1'700'000'000'000, 1'700'000'000'000, "c-bob"}});
    ASSERT_TRUE(eventually([&] { return b->connected_elsewhere("bob"); }, std::chrono::seconds{6}));
    a->stop();  // a node that goes away takes its entries with it
    EXPECT_TRUE(
        eventually([&] { return !b->connected_elsewhere("bob") && listed_by_b().empty(); }, std::chrono::seconds{16}));
    b->stop();
}

namespace {

struct local_cluster final : bus_cluster {
    std::unique_ptr<alert_bus> node(std::string id) override {
        return std::make_unique<local_alert_bus>(std::move(id));
    }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Engines, AlertBusContract,
                         ::testing::Values(bus_factory{"local", [] { return std::make_unique<local_cluster>(); }, 1}),
                         [](auto const& info) { return info.param.name; });
