// hiredis driven by Asio (bus/redis_connection), against a real redis-server.
#include "bus/redis_connection.hpp"
#include "support/redis_process.hpp"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

using namespace vigil;
using namespace vigil::test;
using namespace std::chrono_literals;
namespace net = boost::asio;
using boost::system::error_code;

namespace {

// An io_context on a thread of its own, and a way to run code there and wait.
class loop {
public:
    loop()
        : work_(ioc_.get_executor()), thread_([this] {
              sigset_t pipe;  // as redis_connection requires
              sigemptyset(&pipe);
              sigaddset(&pipe, SIGPIPE);
              pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
              ioc_.run();
          }) {}
    ~loop() {
        work_.reset();
        thread_.join();
    }

    net::any_io_executor executor() { return ioc_.get_executor(); }

    template <class F>
    auto run(F f) -> decltype(f()) {
        std::packaged_task<decltype(f())()> task{std::move(f)};
        auto result = task.get_future();
        net::post(ioc_, [&] { task(); });
        return result.get();
    }

private:
    net::io_context ioc_;
    net::executor_work_guard<net::io_context::executor_type> work_;
    std::thread thread_;
};

// The outcome of something that happens later on the loop's thread.
template <class T>
class eventual {
public:
    void set(T v) {
        std::lock_guard lock{mutex_};
        if (!value_) value_ = std::move(v);
        cv_.notify_all();
    }
    std::optional<T> wait(std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock{mutex_};
        cv_.wait_for(lock, timeout, [&] { return value_.has_value(); });
        return value_;
    }
    bool has_value() {
        std::lock_guard lock{mutex_};
        return value_.has_value();
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::optional<T> value_;
};

struct outcome {
    error_code ec;
    std::string detail;
};

// A connection made on the loop, with its ready and down outcomes.
struct client {
    explicit client(loop& l, redis_endpoint const& ep, redis_connection::options o = {}) : l_(l) {
        l_.run([&] {
            conn = redis_connection(l_.executor(), o);
            conn.connect(
                ep,
                [this](error_code ec, std::string_view d) {
                    ready.set({ec, std::string(d)});
                },
                [this](error_code ec, std::string_view d) {
                    down.set({ec, std::string(d)});
                });
        });
    }
    ~client() {
        l_.run([&] { conn.close(); });
    }

    // Runs a command on the loop; its reply as text, or the error.
    std::string call(std::initializer_list<std::string_view> args) {
        auto reply = std::make_shared<eventual<std::string>>();  // may be answered after a timed-out wait
        std::vector<std::string> copy(args.begin(), args.end());
        bool const sent = l_.run([&] {
            std::vector<std::string_view> views(copy.begin(), copy.end());
            return conn.command(views, [reply](error_code ec, redisReply const* r) {
                reply->set(ec ? "error: " + ec.message() : text(r));
            });
        });
        if (!sent) return "not sent";
        return reply->wait().value_or("no answer");
    }

    static std::string text(redisReply const* r) {
        switch (r->type) {
            case REDIS_REPLY_NIL: return "(nil)";
            case REDIS_REPLY_INTEGER: return std::to_string(r->integer);
            case REDIS_REPLY_ARRAY: return "(array)";
            default: return std::string(r->str, r->len);
        }
    }

    loop& l_;
    redis_connection conn;
    eventual<outcome> ready;
    eventual<outcome> down;
};

redis_endpoint endpoint_of(redis_process const& server) { return parse_redis_url(server.url()); }

}  // namespace

TEST(RedisConnection, ConnectsAndAnswersCommands) {
    redis_process server;
    loop l;
    client c{l, endpoint_of(server)};
    auto const ready = c.ready.wait();
    ASSERT_TRUE(ready);
    ASSERT_FALSE(ready->ec) << ready->detail;
    EXPECT_TRUE(l.run([&] { return c.conn.ready(); }));
    EXPECT_EQ(c.call({"SET", "k", std::string_view("v\0\r\n", 4)}), "OK");
    EXPECT_EQ(server.command({"STRLEN", "k"}), "4");  // binary-safe
    EXPECT_EQ(c.call({"GET", "k"}), std::string("v\0\r\n", 4));
    EXPECT_EQ(c.call({"GET", "missing"}), "(nil)");
    EXPECT_EQ(c.call({"NOSUCHCOMMAND"}).substr(0, 3), "ERR");  // an error reply reaches the handler
}

TEST(RedisConnection, ResolvesAHostName) {
    redis_process server;
    loop l;
    client c{l, parse_redis_url("redis://localhost:" + std::to_string(server.port()))};
    auto const ready = c.ready.wait();
    ASSERT_TRUE(ready);
    ASSERT_FALSE(ready->ec) << ready->detail;
    EXPECT_EQ(c.call({"PING"}), "PONG");
    client nowhere{l, parse_redis_url("redis://no-such-host.invalid:6379")};
    auto const failed = nowhere.ready.wait();
    ASSERT_TRUE(failed);
    EXPECT_TRUE(failed->ec == redis_errc::connect_failed || failed->ec == redis_errc::connect_timeout)
        << failed->detail;
}

TEST(RedisConnection, LogsInAndSelectsTheDatabase) {
    redis_process server{{"--requirepass", "s3cret"}};
    loop l;
    client c{l, parse_redis_url("redis://:s3cret@127.0.0.1:" + std::to_string(server.port()) + "/5")};
    auto const ready = c.ready.wait();
    ASSERT_TRUE(ready);
    ASSERT_FALSE(ready->ec) << ready->detail;
    EXPECT_EQ(c.call({"SET", "in-db-5", "yes"}), "OK");
    client db0{l, parse_redis_url("redis://:s3cret@127.0.0.1:" + std::to_string(server.port()))};
    ASSERT_FALSE(db0.ready.wait()->ec);
    EXPECT_EQ(db0.call({"GET", "in-db-5"}), "(nil)");
    EXPECT_EQ(c.call({"GET", "in-db-5"}), "yes");

    client wrong{l, parse_redis_url("redis://:nope@127.0.0.1:" + std::to_string(server.port()))};
    auto const refused = wrong.ready.wait();
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->ec, redis_errc::handshake_failed);
    EXPECT_NE(refused->detail.find("AUTH"), std::string::npos) << refused->detail;
    EXPECT_EQ(refused->detail.find("nope"), std::string::npos) << "the password is never repeated";
    EXPECT_FALSE(wrong.down.wait(200ms)) << "a connection that never was ready is not reported down";
}

TEST(RedisConnection, ReportsARefusedConnection) {
    loop l;
    auto const port = free_port();
    client c{l, parse_redis_url("redis://127.0.0.1:" + std::to_string(port))};
    auto const ready = c.ready.wait();
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->ec, redis_errc::connect_failed);
    EXPECT_FALSE(ready->detail.empty());
}

TEST(RedisConnection, TimesOutAServerThatAcceptsButNeverAnswers) {
    // The kernel completes the TCP handshake on a listening socket nobody reads.
    net::io_context ioc;
    net::ip::tcp::acceptor silent{ioc, {net::ip::make_address("127.0.0.1"), 0}};
    loop l;
    redis_connection::options o;
    o.connect_timeout = 300ms;
    auto const started = std::chrono::steady_clock::now();
    client c{l, parse_redis_url("redis://127.0.0.1:" + std::to_string(silent.local_endpoint().port())), o};
    auto const ready = c.ready.wait();
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->ec, redis_errc::connect_timeout) << ready->detail;
    EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);
}

TEST(RedisConnection, PipelinesWithoutWaitingForReplies) {
    redis_process server;
    loop l;
    client c{l, endpoint_of(server)};
    ASSERT_FALSE(c.ready.wait()->ec);
    constexpr int n = 20'000;
    std::vector<long long> replies;
    eventual<bool> done;
    std::size_t in_flight_after_sending = 0;
    l.run([&] {
        for (int i = 0; i < n; ++i) {
            bool const sent = c.conn.command({"INCR", "counter"}, [&](error_code ec, redisReply const* r) {
                replies.push_back(ec ? -1 : r->integer);
                if (replies.size() == n) done.set(true);
            });
            EXPECT_TRUE(sent);
        }
        // All of them were handed to hiredis before any reply could be read:
        // nothing waited for the one before.
        in_flight_after_sending = c.conn.in_flight();
    });
    EXPECT_EQ(in_flight_after_sending, std::size_t(n));
    ASSERT_TRUE(done.wait(30s));
    for (int i = 0; i < n; ++i) ASSERT_EQ(replies[i], i + 1) << "replies in order";
    EXPECT_EQ(l.run([&] { return c.conn.in_flight(); }), 0u);
}

TEST(RedisConnection, RefusesCommandsBeyondTheInFlightBound) {
    redis_process server;
    loop l;
    redis_connection::options o;
    o.max_in_flight = 10;
    client c{l, endpoint_of(server), o};
    ASSERT_FALSE(c.ready.wait()->ec);
    int answered = 0;
    auto const accepted = l.run([&] {
        int ok = 0;
        for (int i = 0; i < 15; ++i) ok += c.conn.command({"PING"}, [&](error_code, redisReply const*) { ++answered; });
        return ok;
    });
    EXPECT_EQ(accepted, 10);
    auto const deadline = std::chrono::steady_clock::now() + 5s;
    while (l.run([&] { return answered; }) < 10 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(l.run([&] { return answered; }), 10);
    EXPECT_EQ(c.call({"PING"}), "PONG");  // room again once they are answered
}

TEST(RedisConnection, ACommandWithoutAReplyTimesOutAndTheConnectionGoesDown) {
    redis_process server;
    loop l;
    redis_connection::options o;
    o.command_timeout = 500ms;
    client c{l, endpoint_of(server), o};
    ASSERT_FALSE(c.ready.wait()->ec);
    server.pause();  // SIGSTOP: the socket stays open, nothing answers
    auto const started = std::chrono::steady_clock::now();
    auto const reply = c.call({"GET", "k"});
    auto const waited = std::chrono::steady_clock::now() - started;
    server.resume();
    EXPECT_EQ(reply, "error: " + make_error_code(redis_errc::timeout).message());
    EXPECT_GE(waited, 500ms);
    EXPECT_LT(waited, 5s);
    auto const down = c.down.wait();
    ASSERT_TRUE(down);
    EXPECT_EQ(down->ec, redis_errc::timeout);
    EXPECT_FALSE(l.run([&] { return c.conn.ready(); }));
    EXPECT_EQ(c.call({"PING"}), "not sent");
}

TEST(RedisConnection, ASlowCommandTimesOutTheSameWay) {
    redis_process server{{"--enable-debug-command", "yes"}};
    loop l;
    redis_connection::options o;
    o.command_timeout = 300ms;
    client c{l, endpoint_of(server), o};
    ASSERT_FALSE(c.ready.wait()->ec);
    EXPECT_EQ(c.call({"DEBUG", "SLEEP", "2"}), "error: " + make_error_code(redis_errc::timeout).message());
    EXPECT_EQ(c.down.wait()->ec, redis_errc::timeout);
}

TEST(RedisConnection, AKilledServerFailsWhatWaitsAndARestartedOneTakesANewConnection) {
    redis_process server;
    loop l;
    client c{l, endpoint_of(server)};
    ASSERT_FALSE(c.ready.wait()->ec);
    server.pause();
    eventual<error_code> waiting;
    ASSERT_TRUE(
        l.run([&] { return c.conn.command({"PING"}, [&](error_code ec, redisReply const*) { waiting.set(ec); }); }));
    server.kill();
    auto const failed = waiting.wait();
    ASSERT_TRUE(failed);
    EXPECT_EQ(*failed, redis_errc::disconnected);
    auto const down = c.down.wait();
    ASSERT_TRUE(down);
    EXPECT_EQ(down->ec, redis_errc::disconnected);

    server.start();  // same port
    client again{l, endpoint_of(server)};
    ASSERT_FALSE(again.ready.wait()->ec);
    EXPECT_EQ(again.call({"PING"}), "PONG");
}

TEST(RedisConnection, ClosingInsideAReplyHandlerStopsEveryOtherHandler) {
    redis_process server;
    loop l;
    client c{l, endpoint_of(server)};
    ASSERT_FALSE(c.ready.wait()->ec);
    std::atomic<int> calls{0};
    l.run([&] {
        for (int i = 0; i < 100; ++i)
            c.conn.command({"PING"}, [&](error_code, redisReply const*) {
                ++calls;
                c.conn.close();  // hiredis is inside its read loop here
            });
    });
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(calls.load(), 1);
    EXPECT_FALSE(c.down.has_value()) << "close() is not a loss";
    EXPECT_FALSE(l.run([&] { return c.conn.ready(); }));
}

TEST(RedisConnection, DestroyedWithCommandsWaitingCallsNothing) {
    redis_process server;
    loop l;
    std::atomic<int> calls{0};
    {
        client c{l, endpoint_of(server)};
        ASSERT_FALSE(c.ready.wait()->ec);
        server.pause();
        l.run([&] {
            for (int i = 0; i < 100; ++i) c.conn.command({"PING"}, [&](error_code, redisReply const*) { ++calls; });
        });
    }  // closed with 100 commands unanswered
    server.resume();
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(calls.load(), 0);
}

TEST(RedisConnection, SubscribesAndReceivesOnlyThenAcceptsNoOtherCommand) {
    redis_process server;
    loop l;
    client c{l, endpoint_of(server)};
    ASSERT_FALSE(c.ready.wait()->ec);
    eventual<error_code> confirmed;
    std::mutex m;
    std::vector<std::pair<std::string, std::string>> got;
    ASSERT_TRUE(l.run([&] {
        return c.conn.subscribe(
            {"ch:1", "ch:2"},
            [&](std::string_view ch, std::string_view payload) {
                std::lock_guard lock{m};
                got.emplace_back(ch, payload);
            },
            [&](error_code ec) { confirmed.set(ec); });
    }));
    auto const ok = confirmed.wait();
    ASSERT_TRUE(ok);
    EXPECT_FALSE(*ok);
    EXPECT_EQ(server.command({"PUBLISH", "ch:2", std::string("x\0y", 3)}), "1");
    EXPECT_EQ(server.command({"PUBLISH", "ch:3", "nobody"}), "0");
    EXPECT_EQ(server.command({"PUBLISH", "ch:1", "z"}), "1");
    auto const deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
        {
            std::lock_guard lock{m};
            if (got.size() == 2) break;
        }
        std::this_thread::sleep_for(10ms);
    }
    std::lock_guard lock{m};
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], std::make_pair(std::string("ch:2"), std::string("x\0y", 3)));
    EXPECT_EQ(got[1], std::make_pair(std::string("ch:1"), std::string("z")));
    EXPECT_EQ(c.call({"PING"}), "not sent");  // hiredis 0.14 would misroute its reply
}

TEST(RedisConnection, ASubscriberKilledByTheServerIsReportedDown) {
    redis_process server;
    loop l;
    client c{l, endpoint_of(server)};
    ASSERT_FALSE(c.ready.wait()->ec);
    eventual<error_code> confirmed;
    l.run([&] {
        return c.conn.subscribe(
            {"ch"}, [](std::string_view, std::string_view) {}, [&](error_code ec) { confirmed.set(ec); });
    });
    ASSERT_TRUE(confirmed.wait());
    server.command({"CLIENT", "KILL", "TYPE", "pubsub"});
    auto const down = c.down.wait();
    ASSERT_TRUE(down);
    EXPECT_EQ(down->ec, redis_errc::disconnected);
}
