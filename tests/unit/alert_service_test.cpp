// The ordering guarantee of alert_service, without sockets: a fake subscriber
// records what it is handed.
#include "alerts/alert_service.hpp"
#include "alerts/delivery_sequencer.hpp"
#include "bus/local_alert_bus.hpp"
#include "store/memory_alert_store.hpp"
#include "store/sqlite_alert_store.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <unistd.h>

using namespace vigil;

namespace {

// A connection without a socket: the real delivery_sequencer decides what it
// "sends", which is recorded.
class recording_subscriber final : public subscriber, public std::enable_shared_from_this<recording_subscriber> {
public:
    recording_subscriber(std::string user, alert_service& service)
        : user_(std::move(user)), service_(&service), sequencer_({100000, std::size_t{1} << 30}) {}
    std::string const& user_id() const noexcept override { return user_; }
    bool deliver(sequenced_message m) override {
        std::lock_guard lock{mutex_};
        if (closed_) return false;
        sequencer_.on_live(std::move(m));
        pump();
        return true;
    }
    void replay(replay_delivery page) override {
        std::lock_guard lock{mutex_};
        for (auto const& m : page.alerts) EXPECT_EQ(boost::json::parse(*m.text).as_object().at("replayed"), true);
        sequencer_.on_page(std::move(page));
        pump();
    }
    void close(std::uint16_t code, std::string_view) override {
        std::lock_guard lock{mutex_};
        closed_ = true;
        close_code_ = code;
    }
    connection_stats stats() const override { return {user_, 0, 0, "conn-" + user_}; }
    bool tick_due(std::int64_t) const noexcept override { return false; }
    void on_tick(std::int64_t) override {}
    std::vector<std::int64_t> seqs() {
        std::lock_guard lock{mutex_};
        return seqs_;
    }
    std::vector<std::string> epochs() {
        std::lock_guard lock{mutex_};
        return epochs_;
    }
    bool caught_up() {
        std::lock_guard lock{mutex_};
        return sequencer_.caught_up();
    }
    int close_code() {
        std::lock_guard lock{mutex_};
        return close_code_;
    }

private:
    void pump() {
        for (;;) {
            auto step = sequencer_.next(true);
            switch (step.kind) {
                case delivery_sequencer::step_kind::idle: return;
                case delivery_sequencer::step_kind::send: {
                    auto const v = boost::json::parse(*step.message.text).as_object();
                    EXPECT_EQ(v.at("seq").to_number<std::uint64_t>(), step.message.seq);
                    seqs_.push_back(std::int64_t(step.message.seq));
                    epochs_.push_back(std::string{v.at("epoch").as_string()});
                    break;
                }
                case delivery_sequencer::step_kind::fetch:
                    service_->fetch(weak_from_this(), step.after, step.unacked_only);
                    break;
                case delivery_sequencer::step_kind::overflow: ADD_FAILURE() << "held too much"; return;
            }
        }
    }
    std::string user_;
    alert_service* service_;
    std::mutex mutex_;
    delivery_sequencer sequencer_;
    std::vector<std::int64_t> seqs_;
    std::vector<std::string> epochs_;
    bool closed_ = false;
    int close_code_ = 0;
};

new_alert alert(std::string user) { return {std::move(user), "s", "{}", std::nullopt, "t", ""}; }

// An event loop on a thread of its own, standing in for an I/O thread.
class loop_site final : public work_site {
public:
    loop_site() : thread_{[this] { run(); }} {}
    ~loop_site() override {
        {
            std::lock_guard lock{mutex_};
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    void defer(std::function<void()> f) override {
        {
            std::lock_guard lock{mutex_};
            queue_.push_back(std::move(f));
        }
        cv_.notify_all();
    }
    std::thread::id id() const { return thread_.get_id(); }

private:
    void run() {
        alert_service::set_work_site(this);
        for (;;) {
            std::function<void()> f;
            {
                std::unique_lock lock{mutex_};
                cv_.wait(lock, [&] { return done_ || !queue_.empty(); });
                if (queue_.empty()) return;
                f = std::move(queue_.front());
                queue_.pop_front();
            }
            f();
        }
    }
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;
    bool done_ = false;
    std::thread thread_;
};

// Draining on work sites, with a worker that does not wake by itself during
// a test (it would take the drain for its maintenance now and then).
alert_service_options on_work_sites() {
    alert_service_options o;
    o.drain_on_work_sites = true;
    o.maintenance_interval_ms = 600'000;
    o.prune_interval_ms = 600'000;
    return o;
}

std::vector<publish_result> publish_sync(alert_service& svc, std::vector<new_alert> a) {
    std::promise<publish_outcome> p;
    svc.publish(std::move(a), [&](publish_outcome o) { p.set_value(std::move(o)); });
    return p.get_future().get().value();
}

}  // namespace

TEST(AlertService, ReplayAndLiveNeitherGapNorDuplicate) {
    memory_alert_store store;
    connection_registry registry;
    local_alert_bus bus;
    alert_service_options small_batches;
    small_batches.replay_batch = 7;  // many follow-up batches
    alert_service svc{store, bus, registry, small_batches};
    bus.start(svc.bus_receiver());

    for (int round = 0; round < 20; ++round) {
        std::string const user = "u" + std::to_string(round);
        publish_sync(svc, {alert(user), alert(user), alert(user)});
        std::thread producer{[&] {
            for (int i = 0; i < 50; ++i) publish_sync(svc, {alert(user)});
        }};
        auto sub = std::make_shared<recording_subscriber>(user, svc);
        svc.open(sub, std::nullopt);
        producer.join();
        publish_sync(svc, {alert(user)});  // a barrier: every publish before it is handed over
        // The replay is pulled a batch at a time, each batch queueing the
        // request for the next, so it may still be going on behind the barrier
        // (and holding live alerts back): let its requests drain.
        for (int i = 0; i < 1000 && !sub->caught_up(); ++i) publish_sync(svc, {alert("barrier")});
        ASSERT_TRUE(sub->caught_up()) << "round " << round;
        auto const seqs = sub->seqs();
        ASSERT_EQ(seqs.size(), 54u) << "round " << round;
        for (std::size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], std::int64_t(i + 1));
    }
}

TEST(AlertService, GroupCommitAnswersEveryPublisher) {
    memory_alert_store store;
    connection_registry registry;
    local_alert_bus bus;
    alert_service svc{store, bus, registry, {}};
    bus.start(svc.bus_receiver());
    std::vector<std::thread> threads;
    std::atomic<int> answered{0};
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 100; ++i)
                if (publish_sync(svc, {alert("shared")}).size() == 1) ++answered;
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(answered, 800);
    EXPECT_EQ(store.last_seq("shared"), 800u);
}

TEST(AlertService, NewConnectionReplacesOld) {
    memory_alert_store store;
    connection_registry registry;
    local_alert_bus bus;
    alert_service svc{store, bus, registry, {}};
    bus.start(svc.bus_receiver());
    auto first = std::make_shared<recording_subscriber>("u", svc);
    auto second = std::make_shared<recording_subscriber>("u", svc);
    svc.open(first, std::nullopt);
    svc.open(second, std::nullopt);
    auto const r = publish_sync(svc, {alert("u")});
    EXPECT_TRUE(r[0].delivered);
    EXPECT_EQ(first->close_code(), close_code::replaced);
    EXPECT_TRUE(first->seqs().empty());
    EXPECT_EQ(second->seqs().size(), 1u);
}

TEST(AlertService, CommitsOnTheWorkSiteWhereThePublishArrived) {
    memory_alert_store store;
    connection_registry registry;
    local_alert_bus bus;
    alert_service svc{store, bus, registry, on_work_sites()};
    bus.start(svc.bus_receiver());
    loop_site site;
    std::promise<std::thread::id> on_site;
    site.defer(
        [&] { svc.publish({alert("u")}, [&](publish_outcome) { on_site.set_value(std::this_thread::get_id()); }); });
    EXPECT_EQ(on_site.get_future().get(), site.id());
    std::promise<void> drained;  // the site's loop has left the drain
    site.defer([&] { drained.set_value(); });
    drained.get_future().wait();

    // From a thread that is not a work site: the service's worker.
    std::promise<std::thread::id> elsewhere;
    svc.publish({alert("u")}, [&](publish_outcome) { elsewhere.set_value(std::this_thread::get_id()); });
    auto const id = elsewhere.get_future().get();
    EXPECT_NE(id, site.id());
    EXPECT_NE(id, std::this_thread::get_id());
}

TEST(AlertService, PublishesFromSeveralWorkSitesArriveInSeqOrder) {
    memory_alert_store store;
    connection_registry registry;
    local_alert_bus bus;
    alert_service svc{store, bus, registry, on_work_sites()};
    bus.start(svc.bus_receiver());
    auto sub = std::make_shared<recording_subscriber>("u", svc);
    svc.open(sub, std::nullopt);
    constexpr int per_source = 300;
    std::atomic<int> answered{0};
    {
        loop_site a, b;
        std::thread plain{[&] {
            for (int i = 0; i < per_source; ++i) publish_sync(svc, {alert("u")});
            answered += per_source;
        }};
        for (int i = 0; i < per_source; ++i)
            for (auto* site : {&a, &b})
                site->defer([&] { svc.publish({alert("u")}, [&](publish_outcome) { ++answered; }); });
        plain.join();
        while (answered < 3 * per_source) std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
    auto const seqs = sub->seqs();
    ASSERT_EQ(seqs.size(), std::size_t(3 * per_source)) << "an alert overtaken by a later one was dropped";
    for (std::size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], std::int64_t(i + 1));
}

TEST(AlertService, StopFinishesADrainWaitingOnAWorkSiteThenRefusesNewWork) {
    memory_alert_store store;
    connection_registry registry;
    local_alert_bus bus;
    alert_service svc{store, bus, registry, on_work_sites()};
    bus.start(svc.bus_receiver());
    loop_site site;
    std::promise<void> release;
    std::promise<publish_outcome> first;
    std::promise<void> queued;
    std::atomic<bool> answered{false};
    // The publish defers its drain to the site, which is then held busy.
    site.defer([&] {
        svc.publish({alert("u")}, [&](publish_outcome o) {
            answered = true;
            first.set_value(std::move(o));
        });
        queued.set_value();
    });
    site.defer([f = release.get_future().share()] { f.wait(); });
    queued.get_future().wait();

    std::atomic<bool> answered_when_stopped{false};
    std::thread stopper{[&] {
        svc.stop();
        answered_when_stopped = answered.load();
    }};
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    release.set_value();
    stopper.join();
    EXPECT_TRUE(answered_when_stopped) << "stop() returned before the publish it had accepted was answered";
    auto const outcome = first.get_future().get();
    ASSERT_TRUE(outcome.has_value());
    EXPECT_EQ((*outcome)[0].seq, 1u);

    std::promise<publish_outcome> late;
    svc.publish({alert("u")}, [&](publish_outcome o) { late.set_value(std::move(o)); });
    auto const refused = late.get_future().get();
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().status, 503);
    EXPECT_EQ(refused.error().code, "store_unavailable");
    EXPECT_EQ(refused.error().detail, "the server is stopping; retry it");
}

// ---------------------------------------------------------------- positions

namespace {

std::shared_ptr<recording_subscriber> open_user(alert_service& svc, std::string const& user,
                                                std::optional<stream_position> since) {
    auto sub = std::make_shared<recording_subscriber>(user, svc);
    svc.open(sub, std::move(since));
    for (int i = 0; i < 2000 && !sub->caught_up(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds{1});
    EXPECT_TRUE(sub->caught_up());
    return sub;
}

}  // namespace

TEST(AlertService, EveryAlertCarriesTheStoresEpoch) {
    memory_alert_store store;
    connection_registry registry;
    local_alert_bus bus;
    alert_service svc{store, bus, registry, {}};
    bus.start(svc.bus_receiver());
    publish_sync(svc, {alert("u")});
    auto const sub = open_user(svc, "u", std::nullopt);  // replayed
    publish_sync(svc, {alert("u")});                     // live
    EXPECT_EQ(sub->epochs(), (std::vector<std::string>{store.epoch(), store.epoch()}));
    EXPECT_EQ(store.epoch().size(), 16u);
    EXPECT_NE(store.epoch(), memory_alert_store{}.epoch());  // a new store, a new numbering
}

TEST(AlertService, AResumeInTheCurrentEpochGetsExactlyTheAlertsAfterSince) {
    memory_alert_store store;
    connection_registry registry;
    local_alert_bus bus;
    alert_service svc{store, bus, registry, {}};
    bus.start(svc.bus_receiver());
    publish_sync(svc, {alert("u"), alert("u"), alert("u"), alert("u")});
    auto const sub = open_user(svc, "u", stream_position{2, store.epoch()});
    publish_sync(svc, {alert("u")});
    EXPECT_EQ(sub->seqs(), (std::vector<std::int64_t>{3, 4, 5}));
    auto const without_epoch = open_user(svc, "u", stream_position{4, ""});  // clients that predate epochs
    EXPECT_EQ(without_epoch->seqs(), (std::vector<std::int64_t>{5}));
}

TEST(AlertService, ASinceFromAnotherEpochOrBeyondTheHeadStartsOver) {
    memory_alert_store store;
    connection_registry registry;
    local_alert_bus bus;
    alert_service svc{store, bus, registry, {}};
    bus.start(svc.bus_receiver());
    publish_sync(svc, {alert("u"), alert("u")});
    // The client's seq 2 was in a store that no longer exists: it gets every
    // unacknowledged alert, the new seq 1 and 2 included, never nothing.
    auto const other_epoch = open_user(svc, "u", stream_position{2, "0123456789abcdef"});
    EXPECT_EQ(other_epoch->seqs(), (std::vector<std::int64_t>{1, 2}));
    auto const beyond = open_user(svc, "u", stream_position{9, ""});
    publish_sync(svc, {alert("u")});
    EXPECT_EQ(beyond->seqs(), (std::vector<std::int64_t>{1, 2, 3}));
    auto const beyond_same_epoch = open_user(svc, "u", stream_position{9, store.epoch()});
    EXPECT_EQ(beyond_same_epoch->seqs(), (std::vector<std::int64_t>{1, 2, 3}));
}

// ---------------------------------------------------------------- two nodes

namespace {

// A network between nodes that reorders, loses and duplicates what it
// carries, like a bus under stress. The node that publishes gets its own
// alert at once, as every engine does (bus/alert_bus.hpp).
class chaos_network {
public:
    explicit chaos_network(unsigned seed) : rng_(seed), pump_([this] { run(); }) {}
    ~chaos_network() {
        {
            std::lock_guard lock{mutex_};
            done_ = true;
        }
        pump_.join();
    }
    void join(std::string const& node, bus_handler* h) {
        std::lock_guard lock{mutex_};
        nodes_[node] = h;
    }
    void leave(std::string const& node) {
        std::lock_guard lock{mutex_};
        nodes_.erase(node);
    }
    void send(bus_alert const& a) {
        std::lock_guard lock{mutex_};
        for (auto const& [name, h] : nodes_) {
            if (name == a.origin_node || cut_off_.count(name) || cut_off_.count(a.origin_node)) continue;
            if (!reliable_ && rng_() % 10 == 0) continue;  // lost
            in_flight_.push_back({name, a});
            if (!reliable_ && rng_() % 10 == 0) in_flight_.push_back({name, a});  // twice
        }
    }
    void make_reliable() {
        std::lock_guard lock{mutex_};
        reliable_ = true;
    }
    // Nothing reaches or leaves `node` until it is linked again.
    void cut(std::string const& node, bool off) {
        bus_handler* h = nullptr;
        {
            std::lock_guard lock{mutex_};
            if (off)
                cut_off_.insert(node);
            else
                cut_off_.erase(node);
            h = nodes_[node];
        }
        h->on_link_changed(!off);
    }
    bool idle() {
        std::lock_guard lock{mutex_};
        return in_flight_.empty();
    }

private:
    void run() {
        for (;;) {
            std::optional<std::pair<bus_handler*, bus_alert>> next;
            {
                std::lock_guard lock{mutex_};
                if (done_) return;
                if (!in_flight_.empty()) {
                    auto const i = rng_() % in_flight_.size();  // any order
                    auto it = nodes_.find(in_flight_[i].first);
                    if (it != nodes_.end()) next.emplace(it->second, std::move(in_flight_[i].second));
                    in_flight_.erase(in_flight_.begin() + std::ptrdiff_t(i));
                }
            }
            if (next)
                next->first->on_alert(next->second);
            else
                std::this_thread::sleep_for(std::chrono::microseconds{200});
        }
    }
    std::mutex mutex_;
    std::mt19937 rng_;
    std::map<std::string, bus_handler*> nodes_;
    std::vector<std::pair<std::string, bus_alert>> in_flight_;
    std::set<std::string> cut_off_;
    bool reliable_ = false;
    bool done_ = false;
    std::thread pump_;
};

class chaos_bus final : public alert_bus {
public:
    chaos_bus(chaos_network& net, std::string node) : net_(net), node_(std::move(node)) {}
    std::string const& node_id() const noexcept override { return node_; }
    void start(bus_handler& h) override {
        handler_ = &h;
        net_.join(node_, &h);
    }
    void stop() override { net_.leave(node_); }
    void publish(bus_alert const& a) override {
        handler_->on_alert(a);
        net_.send(a);
    }
    void publish_control(bus_control const&) override {}
    bool connected_elsewhere(std::string_view) const override { return false; }
    void remote_connections(std::function<void(std::vector<node_connection>)> done) const override { done({}); }
    bus_status status() const override { return {true, "chaos", {}}; }  // a bus that spans nodes

private:
    chaos_network& net_;
    std::string node_;
    bus_handler* handler_ = nullptr;
};

}  // namespace

// Two nodes share one SQLite database and both publish to the same user, whose
// connection is on the first; the bus between them reorders, loses and
// duplicates alerts. The connection still gets every seq once, in order.
TEST(AlertService, TwoNodesPublishingConcurrentlyKeepTheOrderGuarantee) {
    auto const dir = std::filesystem::temp_directory_path() / ("vigil-two-nodes-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto const db = (dir / "vigil.db").string();
    {
        chaos_network net{20261206};
        sqlite_alert_store store_a{{db, false, {}}}, store_b{{db, false, {}}};
        ASSERT_EQ(store_a.epoch(), store_b.epoch());  // one database, one numbering
        connection_registry registry_a, registry_b;
        chaos_bus bus_a{net, "a"}, bus_b{net, "b"};
        alert_service_options small_pages;
        small_pages.replay_batch = 5;
        alert_service node_a{store_a, bus_a, registry_a, small_pages}, node_b{store_b, bus_b, registry_b, small_pages};
        bus_a.start(node_a.bus_receiver());
        bus_b.start(node_b.bus_receiver());

        publish_sync(node_b, {alert("u"), alert("u")});
        auto const sub = std::make_shared<recording_subscriber>("u", node_a);
        node_a.open(sub, std::nullopt);
        constexpr int per_node = 150;
        std::thread on_b{[&] {
            for (int i = 0; i < per_node; ++i) publish_sync(node_b, {alert("u")});
        }};
        for (int i = 0; i < per_node; ++i) publish_sync(node_a, {alert("u")});
        on_b.join();
        net.make_reliable();
        publish_sync(node_b, {alert("u")});  // the last one arrives: losses before it show as a gap
        std::size_t const total = 2 + 2 * per_node + 1;
        for (int i = 0; i < 5000 && (sub->seqs().size() < total || !sub->caught_up() || !net.idle()); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds{2});
        auto const seqs = sub->seqs();
        ASSERT_EQ(seqs.size(), total);
        for (std::size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], std::int64_t(i + 1));
        EXPECT_EQ(store_a.last_seq("u"), total);
        node_a.stop(), node_b.stop();
        bus_a.stop(), bus_b.stop();
    }
    std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------- store outages

namespace {

// The memory engine, with reads that fail while `failing` is set: a store
// whose server went away for a while.
class store_with_outages final : public alert_store {
public:
    std::atomic<bool> failing{false};
    std::atomic<bool> writes_failing{false};
    std::atomic<int> refused{0};
    memory_alert_store inner;

    std::string const& epoch() const noexcept override { return inner.epoch(); }
    write_result write(write_batch const& b, std::int64_t now) override {
        // What an engine's error says: its server, which callers must not see.
        if (writes_failing) throw store_error("could not connect to postgresql://vigil@db.internal:5432/vigil");
        return inner.write(b, now);
    }
    replay_page after(std::string_view u, std::uint64_t a, bool unacked, std::size_t limit, bool frames) override {
        if (failing) {
            ++refused;
            throw store_error("connection refused");
        }
        return inner.after(u, a, unacked, limit, frames);
    }
    std::optional<stored_alert> get(std::string_view id, std::string_view user) override { return inner.get(id, user); }
    std::optional<annotated_frame> frame(std::string_view id) override { return inner.frame(id); }
    std::vector<stored_alert> history(history_query const& q) override { return inner.history(q); }
    feed_page feed(std::string const& cursor, std::size_t limit) override { return inner.feed(cursor, limit); }
    std::size_t prune_expired(std::int64_t now, std::size_t max_rows) override {
        return inner.prune_expired(now, max_rows);
    }
    std::uint64_t last_seq(std::string_view u) override { return inner.last_seq(u); }
};

}  // namespace

// A connection that opens while the store cannot be read stays open, and gets
// its replay and the alerts that came meanwhile once the store is back.
TEST(AlertService, AReplayTheStoreRefusedIsReadAgainWhenItIsBack) {
    store_with_outages store;
    connection_registry registry;
    local_alert_bus bus;
    alert_service_options fast;
    fast.maintenance_interval_ms = 20;
    alert_service svc{store, bus, registry, fast};
    bus.start(svc.bus_receiver());
    publish_sync(svc, {alert("u"), alert("u")});
    store.failing = true;
    auto sub = std::make_shared<recording_subscriber>("u", svc);
    svc.open(sub, std::nullopt);
    for (int i = 0; i < 500 && store.refused == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds{2});
    ASSERT_GT(store.refused, 0);
    publish_sync(svc, {alert("u")});  // live, held until the first page
    EXPECT_TRUE(sub->seqs().empty());
    EXPECT_EQ(sub->close_code(), 0) << "the connection stays open";
    store.failing = false;
    for (int i = 0; i < 1000 && sub->seqs().size() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds{5});
    EXPECT_EQ(sub->seqs(), (std::vector<std::int64_t>{1, 2, 3}));
    EXPECT_EQ(sub->close_code(), 0);
}

// A write the store refuses answers a publish and an ack with the same
// refusal HTTP answers (503 store_unavailable), whose words are the client's:
// the engine's message, which names its server, stays in the log.
TEST(AlertService, AStoreFailureIsRefusedWithoutTheEnginesMessage) {
    store_with_outages store;
    connection_registry registry;
    local_alert_bus bus;
    alert_service svc{store, bus, registry, {}};
    bus.start(svc.bus_receiver());
    auto const published = publish_sync(svc, {alert("u")});
    store.writes_failing = true;

    std::promise<publish_outcome> publish;
    svc.publish({alert("u")}, [&](publish_outcome o) { publish.set_value(std::move(o)); });
    std::promise<transition_outcome_or_error> ack;
    svc.transition({published[0].alert_id, "u", "u"},
                   [&](transition_outcome_or_error o) { ack.set_value(std::move(o)); });
    for (auto const& r : {publish.get_future().get().error(), ack.get_future().get().error()}) {
        EXPECT_EQ(r.status, 503);
        EXPECT_EQ(r.code, "store_unavailable");
        EXPECT_EQ(r.detail.find("postgresql"), std::string::npos) << r.detail;
        EXPECT_EQ(r.detail.find("db.internal"), std::string::npos) << r.detail;
    }
    svc.stop();
    bus.stop();
}

// While the bus has lost the other nodes, their alerts still reach this
// node's connections, read from the store within about a second; and once the
// link is back, nothing is lost across the switch.
TEST(AlertService, WithTheBusDownOtherNodesAlertsComeFromTheStore) {
    auto const dir = std::filesystem::temp_directory_path() / ("vigil-feed-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto const db = (dir / "vigil.db").string();
    {
        chaos_network net{7};
        net.make_reliable();
        sqlite_alert_store store_a{{db, false, {}}}, store_b{{db, false, {}}};
        connection_registry registry_a, registry_b;
        chaos_bus bus_a{net, "a"}, bus_b{net, "b"};
        alert_service_options quick;
        quick.maintenance_interval_ms = 20;
        quick.feed_poll_interval_ms = 200;
        alert_service node_a{store_a, bus_a, registry_a, quick}, node_b{store_b, bus_b, registry_b, quick};
        bus_a.start(node_a.bus_receiver());
        bus_b.start(node_b.bus_receiver());
        auto const sub = std::make_shared<recording_subscriber>("u", node_a);
        registry_a.attach(sub);  // attached as open() would, without a first read to wait for
        sub->replay(replay_delivery{});
        std::this_thread::sleep_for(std::chrono::milliseconds{3000});  // node a keeps a recovery point

        publish_sync(node_b, {alert("u")});
        for (int i = 0; i < 500 && sub->seqs().size() < 1; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds{4});
        net.cut("a", true);
        for (int i = 0; i < 5; ++i) publish_sync(node_b, {alert("u")});  // the bus cannot bring these
        auto const sent = std::chrono::steady_clock::now();
        for (int i = 0; i < 1000 && sub->seqs().size() < 6; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds{4});
        EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::seconds{2});
        EXPECT_EQ(sub->seqs(), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
        net.cut("a", false);
        for (int i = 0; i < 3; ++i) publish_sync(node_b, {alert("u")});
        for (int i = 0; i < 1000 && sub->seqs().size() < 9; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds{4});
        EXPECT_EQ(sub->seqs(), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
        node_a.stop(), node_b.stop();
        bus_a.stop(), bus_b.stop();
    }
    std::filesystem::remove_all(dir);
}

// A link lost and regained between two looks of the worker (a subscriber
// connection replaced in 100 ms): what the bus dropped meanwhile is read from
// the store all the same, without waiting for the user's next alert.
TEST(AlertService, ABriefLinkLossStillHasItsGapReadFromTheStore) {
    auto const dir = std::filesystem::temp_directory_path() / ("vigil-blip-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto const db = (dir / "vigil.db").string();
    {
        chaos_network net{11};
        net.make_reliable();
        sqlite_alert_store store_a{{db, false, {}}}, store_b{{db, false, {}}};
        connection_registry registry_a, registry_b;
        chaos_bus bus_a{net, "a"}, bus_b{net, "b"};
        alert_service_options quick;
        quick.maintenance_interval_ms = 20;
        quick.feed_poll_interval_ms = 200;
        alert_service node_a{store_a, bus_a, registry_a, quick}, node_b{store_b, bus_b, registry_b, quick};
        bus_a.start(node_a.bus_receiver());
        bus_b.start(node_b.bus_receiver());
        auto const sub = std::make_shared<recording_subscriber>("u", node_a);
        registry_a.attach(sub);
        sub->replay(replay_delivery{});
        std::this_thread::sleep_for(std::chrono::milliseconds{3000});  // node a keeps a recovery point

        publish_sync(node_b, {alert("u")});
        for (int i = 0; i < 500 && sub->seqs().size() < 1; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds{4});
        net.cut("a", true);
        publish_sync(node_b, {alert("u")});  // lost by the bus
        net.cut("a", false);                 // back before the worker looks (it looks every 2 s while linked)
        for (int i = 0; i < 1000 && sub->seqs().size() < 2; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds{5});
        EXPECT_EQ(sub->seqs(), (std::vector<std::int64_t>{1, 2}));
        node_a.stop(), node_b.stop();
        bus_a.stop(), bus_b.stop();
    }
    std::filesystem::remove_all(dir);
}
