// The ordering guarantee of alert_service, without sockets: a fake subscriber
// records what it is handed.
#include "alerts/alert_service.hpp"
#include "bus/local_alert_bus.hpp"
#include "store/memory_alert_store.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <deque>
#include <future>
#include <thread>

using namespace vigil;

namespace {

class recording_subscriber final : public subscriber, public std::enable_shared_from_this<recording_subscriber> {
public:
    recording_subscriber(std::string user, alert_service& service) : user_(std::move(user)), service_(&service) {}
    std::string const& user_id() const noexcept override { return user_; }
    // Mirrors ws_session's rules: live alerts wait for the replay; each seq once.
    bool deliver(sequenced_message m) override {
        std::lock_guard lock{mutex_};
        if (replaying_)
            held_.push_back(m.seq);
        else
            record(m.seq);
        return !closed_;
    }
    void replay_batch(std::vector<sequenced_message> batch, bool more) override {
        std::lock_guard lock{mutex_};
        for (auto const& m : batch) {
            EXPECT_NE(boost::json::parse(*m.text).as_object().at("replayed"), false);
            record(m.seq);
        }
        if (more) {
            service_->replay_more(weak_from_this(), last_, true);
            return;
        }
        replaying_ = false;
        for (auto s : held_) record(s);
        held_.clear();
    }
    void close(std::uint16_t code, std::string_view) override {
        std::lock_guard lock{mutex_};
        closed_ = true;
        close_code_ = code;
    }
    connection_stats stats() const override { return {user_, 0, 0}; }
    bool tick_due(std::int64_t) const noexcept override { return false; }
    void on_tick(std::int64_t) override {}
    std::vector<std::int64_t> seqs() {
        std::lock_guard lock{mutex_};
        return seqs_;
    }
    bool replaying() {
        std::lock_guard lock{mutex_};
        return replaying_;
    }
    int close_code() {
        std::lock_guard lock{mutex_};
        return close_code_;
    }

private:
    void record(std::uint64_t seq) {
        if (seq == 0 || seq <= last_) return;
        last_ = seq;
        seqs_.push_back(std::int64_t(seq));
    }
    std::string user_;
    alert_service* service_;
    bool replaying_ = true;
    std::vector<std::uint64_t> held_;
    std::uint64_t last_ = 0;
    std::mutex mutex_;
    std::vector<std::int64_t> seqs_;
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
    return std::get<std::vector<publish_result>>(p.get_future().get());
}

}  // namespace

TEST(AlertService, ReplayAndLiveNeitherGapNorDuplicate) {
    memory_alert_store store;
    connection_registry registry;
    local_alert_bus bus{registry};
    alert_service_options small_batches;
    small_batches.replay_batch = 7;  // many follow-up batches
    alert_service svc{store, bus, registry, small_batches};

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
        for (int i = 0; i < 1000 && sub->replaying(); ++i) publish_sync(svc, {alert("barrier")});
        ASSERT_FALSE(sub->replaying()) << "round " << round;
        auto const seqs = sub->seqs();
        ASSERT_EQ(seqs.size(), 54u) << "round " << round;
        for (std::size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], std::int64_t(i + 1));
    }
}

TEST(AlertService, GroupCommitAnswersEveryPublisher) {
    memory_alert_store store;
    connection_registry registry;
    local_alert_bus bus{registry};
    alert_service svc{store, bus, registry, {}};
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
    local_alert_bus bus{registry};
    alert_service svc{store, bus, registry, {}};
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
    local_alert_bus bus{registry};
    alert_service svc{store, bus, registry, on_work_sites()};
    loop_site site;
    std::promise<std::thread::id> on_site;
    site.defer([&] { svc.publish({alert("u")}, [&](publish_outcome) { on_site.set_value(std::this_thread::get_id()); }); });
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
    local_alert_bus bus{registry};
    alert_service svc{store, bus, registry, on_work_sites()};
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
    local_alert_bus bus{registry};
    alert_service svc{store, bus, registry, on_work_sites()};
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
    ASSERT_TRUE(std::holds_alternative<std::vector<publish_result>>(outcome));
    EXPECT_EQ(std::get<std::vector<publish_result>>(outcome)[0].seq, 1u);

    std::promise<publish_outcome> late;
    svc.publish({alert("u")}, [&](publish_outcome o) { late.set_value(std::move(o)); });
    auto const refused = late.get_future().get();
    ASSERT_TRUE(std::holds_alternative<std::string>(refused));
    EXPECT_EQ(std::get<std::string>(refused), "server stopping");
}
