// The C++ client library (src/client) against the real binary: delivery,
// resume across a server restart without gap or duplicate, and 4001.
#include "client/alert_client.hpp"
#include "support/clients.hpp"
#include "support/server_process.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

using namespace vigil::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// Runs an alert_client on its own thread and records what it hands over.
class recorded_client {
public:
    recorded_client(std::uint16_t port, std::string user) : user_(user) {
        vigil::client::client_options o;
        o.port = port;
        o.user_id = user;
        o.get_token = [user] { return token_for(user); };
        o.initial_reconnect_delay = 100ms;
        o.max_reconnect_delay = 500ms;
        o.heartbeat_interval = 500ms;
        o.heartbeat_timeout = 2s;
        client_ = std::make_unique<vigil::client::alert_client>(
            o,
            [this](json::object const& a) {
                std::lock_guard lock{mutex_};
                seqs_.push_back(a.at("seq").as_int64());
                changed_.notify_all();
            },
            [this](vigil::client::status_event const& e) {
                std::lock_guard lock{mutex_};
                statuses_.push_back(e);
                changed_.notify_all();
            });
        thread_ = std::thread{[this] { client_->run(); }};
    }
    ~recorded_client() {
        client_->stop();
        thread_.join();
    }

    bool wait_for(std::function<bool()> const& done, std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock{mutex_};
        return changed_.wait_for(lock, timeout, done);
    }
    bool wait_open() {
        return wait_for(
            [&] { return !statuses_.empty() && statuses_.back().status == vigil::client::client_status::open; });
    }
    std::vector<std::int64_t> seqs() {
        std::lock_guard lock{mutex_};
        return seqs_;
    }
    std::vector<std::int64_t> const& seqs_locked() const { return seqs_; }
    std::string last_epoch() const { return client_->last_epoch(); }
    std::vector<vigil::client::status_event> const& statuses_locked() const { return statuses_; }

private:
    std::string user_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::int64_t> seqs_;
    std::vector<vigil::client::status_event> statuses_;
    std::unique_ptr<vigil::client::alert_client> client_;
    std::thread thread_;
};

json::value alert_for(std::string const& user, int n) {
    return {{"user_id", user}, {"stream_id", "cam"}, {"detection", {{"n", n}}}};
}

}  // namespace

TEST(ClientBackoff, GrowsDoublesAndStaysWithinJitterBounds) {
    vigil::client::client_options o;
    for (int attempt = 1; attempt <= 12; ++attempt) {
        double const base = std::min(1000.0 * (1 << (attempt - 1)), 30000.0);
        auto const lo = vigil::client::backoff_delay(attempt, o, 0.0).count();
        auto const hi = vigil::client::backoff_delay(attempt, o, 0.999).count();
        EXPECT_NEAR(double(lo), base * 0.5, 1) << attempt;
        EXPECT_LE(hi, 30000) << attempt;
        EXPECT_GT(hi, lo) << attempt;
    }
    EXPECT_EQ(vigil::client::backoff_delay(1, o, 0.5).count(), 1000);
}

TEST(Client, ReceivesAndResumesAcrossARestartWithoutGapOrDuplicate) {
    auto const dir = std::filesystem::temp_directory_path() / ("vigil-client-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::uint16_t port = 0;
    auto server = std::make_unique<server_process>(std::vector<std::string>{}, dir.string());
    port = server->port();
    recorded_client c{port, "cpp_user"};
    ASSERT_TRUE(c.wait_open());
    for (int i = 1; i <= 3; ++i) ASSERT_EQ(publish(port, alert_for("cpp_user", i)).status, 201);
    ASSERT_TRUE(c.wait_for([&] { return c.seqs_locked().size() == 3; }));

    server->stop();
    server =
        std::make_unique<server_process>(std::vector<std::string>{}, dir.string(), std::vector<std::string>{}, port);
    for (int i = 4; i <= 6; ++i) ASSERT_EQ(publish(port, alert_for("cpp_user", i)).status, 201);
    ASSERT_TRUE(c.wait_for([&] { return c.seqs_locked().size() >= 6; }));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(c.seqs(), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
    server.reset();
    std::filesystem::remove_all(dir);
}

// A memory store restarted numbers from 1 again, in a new epoch: the client
// resumes with its old seq and epoch, and the server's new alerts reach it.
TEST(Client, StartsOverWhenTheServersNumberingDoes) {
    auto server = std::make_unique<server_process>(std::vector<std::string>{"--store", "memory"});
    auto const port = server->port();
    recorded_client c{port, "cpp_epoch"};
    ASSERT_TRUE(c.wait_open());
    for (int i = 1; i <= 3; ++i) ASSERT_EQ(publish(port, alert_for("cpp_epoch", i)).status, 201);
    ASSERT_TRUE(c.wait_for([&] { return c.seqs_locked().size() == 3; }));
    auto const old_epoch = c.last_epoch();
    EXPECT_FALSE(old_epoch.empty());

    server->stop();
    server = std::make_unique<server_process>(std::vector<std::string>{"--store", "memory"}, std::string{},
                                              std::vector<std::string>{}, port);
    for (int i = 1; i <= 2; ++i) ASSERT_EQ(publish(port, alert_for("cpp_epoch", 10 + i)).status, 201);
    ASSERT_TRUE(c.wait_for([&] { return c.seqs_locked().size() >= 5; }));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(c.seqs(), (std::vector<std::int64_t>{1, 2, 3, 1, 2}));
    EXPECT_NE(c.last_epoch(), old_epoch);
}

TEST(Client, StopsWhenReplacedByANewerConnection) {
    server_process server;
    recorded_client first{server.port(), "cpp_twice"};
    ASSERT_TRUE(first.wait_open());
    recorded_client second{server.port(), "cpp_twice"};
    ASSERT_TRUE(second.wait_open());
    EXPECT_TRUE(first.wait_for([&] {
        auto const& s = first.statuses_locked();
        return !s.empty() && s.back().status == vigil::client::client_status::stopped;
    }));
    ASSERT_EQ(publish(server.port(), alert_for("cpp_twice", 1)).status, 201);
    EXPECT_TRUE(second.wait_for([&] { return second.seqs_locked().size() == 1; }));
    EXPECT_TRUE(first.seqs().empty());
}
