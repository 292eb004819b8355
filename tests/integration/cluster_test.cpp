// Cluster mode end to end (SPEC section 5): three real `vigil serve` nodes on
// one PostgreSQL store and one Redis bus, each server started by the test on
// free ports. What a user of the cluster checks: a publish on any node reaches
// the user on any node in seq order; one connection per user across nodes;
// monitoring sees every node; acks are shared; and nothing is lost or
// duplicated when a node is killed, Redis dies or PostgreSQL restarts.
#include "support/clients.hpp"
#include "support/postgres_process.hpp"
#include "support/redis_process.hpp"
#include "support/server_process.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

using namespace vigil::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

using clock_type = std::chrono::steady_clock;

class cluster : public ::testing::Test {
protected:
    void SetUp() override {
        if (!postgres_process::available()) GTEST_SKIP() << "PostgreSQL binaries not found";
        pg_ = std::make_unique<postgres_process>();
        redis_ = std::make_unique<redis_process>();
        for (int i = 0; i < 3; ++i) start_node(i);
    }

    // A failed test shows what each node logged (warnings and errors).
    void TearDown() override {
        if (!HasFailure()) return;
        for (std::size_t i = 0; i < nodes_.size(); ++i) {
            if (!nodes_[i]) continue;
            std::string warnings, line;
            std::istringstream all{nodes_[i]->log()};
            while (std::getline(all, line))
                if (line.find("\"level\":\"info\"") == std::string::npos) warnings += line + "\n";
            std::cerr << "--- node n" << i << " (warnings and errors)\n"
                      << warnings.substr(warnings.size() > 8000 ? warnings.size() - 8000 : 0);
        }
    }

    // Node i: its own port (kept across a restart), named n<i>.
    void start_node(int i, std::uint16_t port = 0) {
        std::vector<std::string> args = {"--store", "postgres", "--postgres-url", pg_->url(), "--bus", "redis",
                                         "--redis-url", redis_->url(), "--node-id", name(i),
                                         // The tests read their sockets only when they expect something.
                                         "--ping-interval", "5", "--heartbeat-timeout", "60"};
        if (nodes_.size() <= std::size_t(i)) nodes_.resize(std::size_t(i) + 1);
        nodes_[std::size_t(i)] =
            std::make_unique<server_process>(args, std::string{}, std::vector<std::string>{}, port);
    }

    static std::string name(int i) { return "n" + std::to_string(i); }
    server_process& node(int i) { return *nodes_[std::size_t(i)]; }
    std::uint16_t port(int i) { return node(i).port(); }

    // Waits until `done` holds, polling; false after `limit`.
    static bool eventually(std::function<bool()> const& done, std::chrono::milliseconds limit = 15s) {
        auto const until = clock_type::now() + limit;
        while (clock_type::now() < until) {
            if (done()) return true;
            std::this_thread::sleep_for(50ms);
        }
        return done();
    }

    // The connections /ws/connections on node i lists: user -> node.
    std::map<std::string, std::string> connections_seen_from(int i) {
        auto const r = http_request(port(i), "GET", "/ws/connections", {},
                                    {{"Authorization", "Bearer " + token_for("ops", "admin")}});
        std::map<std::string, std::string> out;
        if (r.status != 200) return out;
        auto const body = r.json();
        for (auto const& c : body.at("connections").as_array()) {
            auto const& o = c.as_object();
            out[std::string{o.at("user_id").as_string()}] = std::string{o.at("node").as_string()};
        }
        return out;
    }

    std::unique_ptr<postgres_process> pg_;
    std::unique_ptr<redis_process> redis_;
    std::vector<std::unique_ptr<server_process>> nodes_;
};

json::value alert_for(std::string const& user, std::string const& key) {
    return {{"user_id", user}, {"stream_id", "cam-1"}, {"detection", {{"key", key}}}, {"idempotency_key", key}};
}

struct received {
    std::uint64_t seq = 0;
    std::string epoch;
    std::string alert_id;
    std::string key;
};

// The next anomaly_detected, skipping anything else (pongs, ack_ok).
std::optional<received> next_alert(ws_client& c, std::chrono::milliseconds timeout = 10s) {
    auto const until = clock_type::now() + timeout;
    while (clock_type::now() < until) {
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now());
        auto const e = c.read(std::max(left, 1ms));
        if (e.kind == ws_event::closed) ADD_FAILURE() << "closed with " << e.close_code << " " << e.close_reason;
        if (e.kind != ws_event::text) return std::nullopt;
        auto const v = json::parse(e.data);
        auto const& m = v.as_object();
        if (m.at("type") != "anomaly_detected") continue;
        return received{std::uint64_t(m.at("seq").as_int64()), std::string{m.at("epoch").as_string()},
                        std::string{m.at("alert_id").as_string()},
                        std::string{m.at("detection").at("key").as_string()}};
    }
    return std::nullopt;
}

// Publishes until it gets an answer that is not a 503 (the store down), with
// the same idempotency key each time, as the SDKs do. Returns the status;
// counts the 503s in `unavailable` when given.
int publish_retrying(std::uint16_t port, json::value const& body, std::atomic<int>* unavailable = nullptr,
                     std::chrono::seconds limit = 60s) {
    auto const until = clock_type::now() + limit;
    for (;;) {
        auto const r = publish(port, body);
        if (r.status != 503 || clock_type::now() > until) return r.status;
        EXPECT_FALSE(r.header("Retry-After").empty()) << "a 503 says when to retry";
        if (unavailable) ++*unavailable;
        std::this_thread::sleep_for(200ms);
    }
}

// A connection that resumes from the last position it saw, reconnecting
// (to the next node in `ports`) when its node goes away, and records every
// alert it is given.
struct resuming_listener {
    std::string user;
    std::vector<std::uint16_t> ports;
    std::vector<received> alerts;

    void connect(std::size_t node) {
        std::string target = "/ws/alerts/" + user + "?token=" + token_for(user);
        if (!alerts.empty()) target += "&since=" + std::to_string(alerts.back().seq) + "&epoch=" + alerts.back().epoch;
        client = ws_client::connect(ports[node % ports.size()], target);
        if (!client) throw std::runtime_error("refused on node " + std::to_string(node));
    }

    // Reads until `count` alerts are in, moving to the next node when the
    // connection ends; false if that takes longer than `limit`.
    bool collect(std::size_t count, std::chrono::seconds limit = 30s) {
        auto const until = clock_type::now() + limit;
        std::size_t node = 0;
        while (alerts.size() < count && clock_type::now() < until) {
            if (auto a = next_alert(*client, 2s)) {
                alerts.push_back(*a);
                continue;
            }
            if (client->read(1ms).kind == ws_event::timeout) continue;  // quiet, still open
            for (;;) {                                                  // closed: resume on another node
                try {
                    connect(++node);
                    break;
                } catch (std::exception const&) {
                    if (clock_type::now() > until) return false;
                    std::this_thread::sleep_for(200ms);
                }
            }
        }
        return alerts.size() >= count;
    }

    std::unique_ptr<ws_client> client;
};

void expect_in_order_once(std::vector<received> const& alerts, std::size_t expected) {
    ASSERT_EQ(alerts.size(), expected);
    std::set<std::string> ids;
    for (std::size_t i = 0; i < alerts.size(); ++i) {
        EXPECT_EQ(alerts[i].seq, i + 1) << "seq order without a gap, at " << i;
        EXPECT_EQ(alerts[i].epoch, alerts[0].epoch) << "one epoch on every node";
        EXPECT_TRUE(ids.insert(alerts[i].alert_id).second) << "duplicate " << alerts[i].alert_id;
    }
}

}  // namespace

// Three publishers, one per node, publish to users connected on every node at
// once: each user gets every alert exactly once, in seq order.
TEST_F(cluster, PublishOnAnyNodeReachesTheUserOnAnyNodeInOrder) {
    constexpr int users = 6, per_publisher = 25;
    std::vector<std::unique_ptr<ws_client>> clients;
    for (int u = 0; u < users; ++u)
        clients.push_back(ws_client::connect_user(port(u % 3), "user-" + std::to_string(u)));
    std::this_thread::sleep_for(300ms);  // each replay (of nothing) is done

    std::atomic<int> refused{0};
    std::vector<std::thread> publishers;
    for (int p = 0; p < 3; ++p)
        publishers.emplace_back([&, p] {
            for (int i = 0; i < per_publisher; ++i)
                for (int u = 0; u < users; ++u) {
                    auto const key = "p" + std::to_string(p) + "-" + std::to_string(i);
                    if (publish(port(p), alert_for("user-" + std::to_string(u), key)).status != 201) ++refused;
                }
        });
    for (auto& t : publishers) t.join();
    EXPECT_EQ(refused, 0);

    for (int u = 0; u < users; ++u) {
        std::vector<received> got;
        while (got.size() < std::size_t(3 * per_publisher))
            if (auto a = next_alert(*clients[std::size_t(u)]))
                got.push_back(*a);
            else
                break;
        expect_in_order_once(got, 3 * per_publisher);
        std::map<std::string, int> per_node;  // each publisher's alerts come in the order it published them
        for (auto const& a : got) per_node[a.key.substr(0, 2)]++;
        EXPECT_EQ(per_node.size(), 3u) << "alerts from every node";
    }
}

// A newer connection for the same user on another node closes the older one
// with 4001 (within 3 s), and the user's alerts go to the newer one.
TEST_F(cluster, NewerConnectionOnAnotherNodeReplacesTheOlder) {
    auto older = ws_client::connect_user(port(0), "alice");
    std::this_thread::sleep_for(200ms);
    auto const opened = clock_type::now();
    auto newer = ws_client::connect_user(port(1), "alice");
    EXPECT_EQ(older->wait_close(5s), 4001);
    EXPECT_LT(clock_type::now() - opened, 3s);

    ASSERT_EQ(publish(port(2), alert_for("alice", "k1")).status, 201);
    auto const a = next_alert(*newer);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->key, "k1");
}

// /ws/connections on any node lists every node's connections with their
// node; a closed one disappears (within 5 s).
TEST_F(cluster, MonitoringSeesEveryNode) {
    auto a = ws_client::connect_user(port(0), "ann");
    auto b = ws_client::connect_user(port(1), "bob");
    ASSERT_TRUE(eventually(
        [&] {
            auto const seen = connections_seen_from(2);
            return seen.count("ann") && seen.at("ann") == "n0" && seen.count("bob") && seen.at("bob") == "n1";
        },
        5s))
        << "both connections, each with its node, seen from a third node";

    auto const one = http_request(port(2), "GET", "/ws/connections/bob", {},
                                  {{"Authorization", "Bearer " + token_for("ops", "admin")}});
    ASSERT_EQ(one.status, 200) << one.body;
    EXPECT_EQ(one.json().at("connected"), true);
    EXPECT_EQ(one.json().at("node"), "n1");

    b->close();
    EXPECT_TRUE(eventually([&] { return !connections_seen_from(2).count("bob"); }, 5s));
    auto const health = http_request(port(2), "GET", "/health");
    ASSERT_EQ(health.status, 200);
    EXPECT_EQ(health.json().at("status"), "ok");
    EXPECT_EQ(health.json().at("bus").at("engine"), "redis");
    EXPECT_EQ(health.json().at("store").at("engine"), "postgres");
    EXPECT_EQ(health.json().at("node"), "n2");
}

// An ack on one node shows at once in history read on another (one store).
TEST_F(cluster, AckOnOneNodeShowsOnEveryNode) {
    auto c = ws_client::connect_user(port(0), "carol");
    ASSERT_EQ(publish(port(1), alert_for("carol", "k1")).status, 201);
    auto const a = next_alert(*c);
    ASSERT_TRUE(a.has_value());
    c->send_json({{"type", "ack"}, {"alert_id", a->alert_id}});
    auto const ok = c->read_json();
    EXPECT_EQ(ok.at("type"), "ack_ok") << json::serialize(ok);

    auto const user =
        std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer " + token_for("carol")}};
    auto const unacked = http_request(port(2), "GET", "/api/v1/alerts?status=unacked", {}, user);
    ASSERT_EQ(unacked.status, 200);
    EXPECT_TRUE(unacked.json().at("alerts").as_array().empty()) << unacked.body;
    auto const one = http_request(port(1), "GET", "/api/v1/alerts/" + a->alert_id, {}, user);
    ASSERT_EQ(one.status, 200);
    EXPECT_EQ(one.json().at("status"), "acked");
}

// A node killed with -9 while alerts flow loses nothing: its user resumes on
// another node with seq and epoch and gets every published alert once; the
// dead node's connections leave monitoring (within 15 s).
TEST_F(cluster, NodeKilledWhilePublishingLosesNothing) {
    constexpr int total = 120;
    resuming_listener listener{"dave", {port(0), port(1), port(2)}, {}};
    listener.connect(0);
    std::this_thread::sleep_for(200ms);

    std::atomic<int> published{0};
    std::thread publisher([&] {
        for (int i = 0; i < total; ++i) {
            // Through the nodes that stay; a few ms apart so the kill lands mid-stream.
            if (publish_retrying(port(1 + i % 2), alert_for("dave", "k" + std::to_string(i))) == 201) ++published;
            std::this_thread::sleep_for(5ms);
        }
    });
    std::this_thread::sleep_for(200ms);
    node(0).kill_hard();
    ASSERT_TRUE(listener.collect(total, 60s)) << "got " << listener.alerts.size();
    publisher.join();
    EXPECT_EQ(published, total);
    expect_in_order_once(listener.alerts, total);
    std::set<std::string> keys;
    for (auto const& a : listener.alerts) keys.insert(a.key);
    EXPECT_EQ(keys.size(), std::size_t(total)) << "every published alert, once";

    EXPECT_TRUE(eventually(
        [&] {
            for (auto const& [user, where] : connections_seen_from(2))
                if (where == "n0") return false;
            return true;
        },
        15s))
        << "the dead node's connections are gone";
}

// Redis killed while alerts flow: publishes are still answered 201 and the
// user still gets them (read from the store) on an open connection; /health
// says degraded. When Redis comes back, one connection per user holds again.
TEST_F(cluster, RedisOutageKeepsDeliveryGoing) {
    constexpr int total = 40;
    auto c = ws_client::connect_user(port(0), "frank");
    std::this_thread::sleep_for(200ms);
    for (int i = 0; i < total / 2; ++i)
        ASSERT_EQ(publish(port(1), alert_for("frank", "k" + std::to_string(i))).status, 201);

    redis_->kill();
    EXPECT_TRUE(eventually(
        [&] {
            auto const h = http_request(port(1), "GET", "/health");
            return h.status == 200 && h.json().at("status") == "degraded";
        },
        10s))
        << "a node without its bus says degraded";
    for (int i = total / 2; i < total; ++i) {
        auto const r = publish(port(1), alert_for("frank", "k" + std::to_string(i)));
        ASSERT_EQ(r.status, 201) << "publishes succeed while Redis is down: " << r.body;
    }
    std::vector<received> got;
    while (got.size() < std::size_t(total))
        if (auto a = next_alert(*c, 10s))
            got.push_back(*a);
        else
            break;
    expect_in_order_once(got, total);

    // New connections are accepted while Redis is down.
    auto during = ws_client::connect_user(port(2), "gina");
    ASSERT_TRUE(during != nullptr);

    redis_->start();
    EXPECT_TRUE(eventually(
        [&] {
            auto const h = http_request(port(1), "GET", "/health");
            return h.status == 200 && h.json().at("status") == "ok";
        },
        15s))
        << "the bus comes back by itself";
    // One connection per user again: a newer one on another node closes frank's.
    auto newer = ws_client::connect(port(2), "/ws/alerts/frank?token=" + token_for("frank") +
                                                 "&since=" + std::to_string(total) + "&epoch=" + got.back().epoch);
    ASSERT_TRUE(newer != nullptr);
    EXPECT_EQ(c->wait_close(15s), 4001);
    ASSERT_EQ(publish(port(1), alert_for("frank", "after")).status, 201);
    auto const a = next_alert(*newer);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->key, "after");
    EXPECT_EQ(a->seq, std::uint64_t(total + 1));
}

// PostgreSQL stopped and restarted while alerts flow: a publish it cannot
// commit is answered 503 with Retry-After (never 201), open connections stay
// up, and every publish retried with its idempotency key gives exactly one
// alert, delivered once.
TEST_F(cluster, PostgresRestartWithIdempotentRetriesGivesEachAlertOnce) {
    constexpr int total = 60;
    auto c = ws_client::connect_user(port(0), "hank");
    std::this_thread::sleep_for(200ms);

    std::atomic<int> created{0}, unavailable{0};
    std::thread publisher([&] {
        for (int i = 0; i < total; ++i) {
            auto const status =
                publish_retrying(port(1 + i % 2), alert_for("hank", "k" + std::to_string(i)), &unavailable);
            EXPECT_TRUE(status == 201 || status == 200) << status;  // 200: a retry the store had committed
            if (status == 201 || status == 200) ++created;
            std::this_thread::sleep_for(10ms);
        }
    });
    std::this_thread::sleep_for(300ms);
    pg_->stop();
    std::this_thread::sleep_for(2s);
    pg_->start();
    publisher.join();
    EXPECT_EQ(created, total);
    EXPECT_GT(unavailable, 0) << "the outage was seen by the publisher";

    std::vector<received> got;
    while (got.size() < std::size_t(total))
        if (auto a = next_alert(*c, 15s))
            got.push_back(*a);
        else
            break;
    expect_in_order_once(got, total);
    std::set<std::string> keys;
    for (auto const& a : got) keys.insert(a.key);
    EXPECT_EQ(keys.size(), std::size_t(total)) << "one alert per idempotency key";
    EXPECT_FALSE(next_alert(*c, 1s).has_value()) << "nothing more";
}

// Handling across nodes (docs/handling.md): a team's members on different
// nodes, an escalation step that every node is looking for fires once, and
// an acknowledgement on one node reaches a member on another at once.
TEST_F(cluster, ATeamAlertEscalatesOnceAndItsStateReachesEveryNode) {
    headers const admin{{"Authorization", "Bearer " + token_for("ops", "admin")}};
    ASSERT_EQ(http_request(port(0), "PUT", "/api/v1/teams/crew", R"({"members":["alice","bob"]})", admin).status, 200);
    ASSERT_EQ(http_request(port(1), "PUT", "/api/v1/escalation-policies/crew-policy",
                           R"({"steps":[{"notify":"team:crew","ack_within_seconds":2},)"
                           R"({"notify":"user:sup","ack_within_seconds":60}]})",
                           admin)
                  .status,
              200);
    auto alice = ws_client::connect_user(port(0), "alice");
    auto bob = ws_client::connect_user(port(1), "bob");
    auto sup = ws_client::connect_user(port(2), "sup");
    std::this_thread::sleep_for(500ms);  // presence reaches every node

    auto const published = publish(port(2), json::object{{"team", "crew"},
                                                         {"stream_id", "gate"},
                                                         {"escalation", "crew-policy"},
                                                         {"detection", {{"type", "intrusion"}}}});
    ASSERT_EQ(published.status, 201) << published.body;
    std::string const id{published.json().at("alert_id").as_string()};
    auto read_type = [](ws_client& c, std::string_view type, std::chrono::milliseconds timeout) {
        auto const until = clock_type::now() + timeout;
        for (;;) {
            auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now());
            if (left <= 0ms) throw std::runtime_error("no " + std::string{type} + " in time");
            auto m = c.read_json(left);
            if (m.at("type").as_string() == type) return m;
        }
    };
    EXPECT_EQ(read_type(*alice, "anomaly_detected", 5s).at("alert_id").as_string(), id);
    EXPECT_EQ(read_type(*bob, "anomaly_detected", 5s).at("alert_id").as_string(), id);

    auto const escalated = read_type(*sup, "anomaly_detected", 6s);
    EXPECT_EQ(escalated.at("alert_id").as_string(), id);
    EXPECT_EQ(escalated.at("escalation_level"), 2);

    bob->send_json({{"type", "ack"}, {"alert_id", id}});
    auto const sent = clock_type::now();
    read_type(*bob, "ack_ok", 5s);
    auto const seen = read_type(*alice, "alert_updated", 3s);
    // skip the escalation's update if it is the one read
    auto const update = seen.at("change") == "escalated" ? read_type(*alice, "alert_updated", 3s) : seen;
    EXPECT_LT(clock_type::now() - sent, 1500ms);
    EXPECT_EQ(update.at("owner"), "bob");
    EXPECT_EQ(read_type(*sup, "alert_updated", 3s).at("alert_id").as_string(), id);

    // Deliveries are recorded a moment after they happen: wait for the three.
    int escalations = 0;
    std::set<std::string> delivered_on;
    EXPECT_TRUE(eventually([&] {
        auto const trail = http_request(port(0), "GET", "/api/v1/alerts/" + id + "/events", {}, admin);
        if (trail.status != 200) return false;
        auto const body = trail.json();
        escalations = 0;
        delivered_on.clear();
        for (auto const& e : body.at("events").as_array()) {
            if (e.at("type") == "escalated") ++escalations;
            if (e.at("type") == "delivered") delivered_on.insert(std::string{e.at("node").as_string()});
        }
        return delivered_on.size() == 3;
    }));
    EXPECT_EQ(escalations, 1);  // three nodes looked; one fired
    EXPECT_EQ(delivered_on, (std::set<std::string>{"n0", "n1", "n2"}));
}
