// Webhooks end to end in one process: the dispatcher on the real memory
// store, POSTing to a receiver on loopback that checks every signature the
// way a receiver would (docs/handling.md's Python recipe, here with OpenSSL)
// and answers as each test scripts.
#include "alerts/webhook_dispatcher.hpp"
#include "common/clock.hpp"
#include "common/metrics.hpp"
#include "store/memory_alert_store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace vigil;
using namespace std::chrono_literals;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

constexpr char secret[] = "webhook-test-secret-0123456789";

// What a receiver computes: hex HMAC-SHA256 of the raw body.
std::string expected_signature(std::string const& body) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret, int(sizeof secret - 1), reinterpret_cast<unsigned char const*>(body.data()), body.size(),
         mac, &n);
    std::string out = "sha256=";
    char buf[3];
    for (unsigned int i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof buf, "%02x", mac[i]);
        out += buf;
    }
    return out;
}

struct received {
    std::string target, content_type, user_agent, event, delivery, signature, body;
    bool signature_ok = false;
    int attempt = 0;  // of this target and delivery id, from 1
    int status = 0;   // answered; 0: never
    steady::time_point at;
};

// A webhook receiver on 127.0.0.1: HTTP/1.1 with keep-alive. `script(attempt)`
// gives the status for a target's and delivery id's nth request; 0 leaves
// it unanswered. Each answer waits `delay`.
class receiver {
public:
    explicit receiver(std::function<int(int attempt)> script, std::chrono::milliseconds delay = 0ms)
        : script_(std::move(script)), delay_(delay) {
        accept();
        thread_ = std::thread{[this] { io_.run(); }};
    }
    ~receiver() {
        io_.stop();
        thread_.join();
        hung_.clear();
    }

    std::string url(std::string const& path) const {
        return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
    }
    std::vector<received> all() const {
        std::lock_guard lock{mutex_};
        return log_;
    }
    // Targets and delivery ids answered 2xx.
    std::size_t delivered() const {
        std::lock_guard lock{mutex_};
        return std::count_if(log_.begin(), log_.end(), [](auto const& r) { return r.status == 200; });
    }
    int max_in_progress() const {
        std::lock_guard lock{mutex_};
        return max_in_progress_;
    }

private:
    struct session : std::enable_shared_from_this<session> {
        session(receiver& owner, tcp::socket socket)
            : owner(owner), stream(std::move(socket)), timer(stream.get_executor()) {}
        receiver& owner;
        beast::tcp_stream stream;
        asio::steady_timer timer;
        beast::flat_buffer buffer;
        http::request<http::string_body> request;
        http::response<http::string_body> response;

        void read() {
            request = {};
            http::async_read(stream, buffer, request, [self = shared_from_this()](beast::error_code ec, std::size_t) {
                if (!ec) self->answer();
            });
        }
        void answer() {
            int const status = owner.record(request);
            if (status == 0) return owner.hang(shared_from_this());
            timer.expires_after(owner.delay_);
            timer.async_wait([self = shared_from_this(), status](beast::error_code) {
                auto& r = self->response;
                r = {};
                r.version(11);
                r.result(status);
                r.keep_alive(self->request.keep_alive());
                r.body() = status == 200 ? "ok" : "try again later";
                r.prepare_payload();
                http::async_write(self->stream, r, [self](beast::error_code ec, std::size_t) {
                    self->owner.answered();
                    if (!ec && self->response.keep_alive()) self->read();
                });
            });
        }
    };

    void accept() {
        acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
            if (ec) return;
            std::make_shared<session>(*this, std::move(socket))->read();
            accept();
        });
    }

    int record(http::request<http::string_body> const& q) {
        received r;
        r.target = std::string{q.target()};
        r.content_type = std::string{q[http::field::content_type]};
        r.user_agent = std::string{q[http::field::user_agent]};
        r.event = std::string{q["X-Vigil-Event"]};
        r.delivery = std::string{q["X-Vigil-Delivery"]};
        r.signature = std::string{q["X-Vigil-Signature"]};
        r.body = q.body();
        r.signature_ok = r.signature == expected_signature(r.body);
        r.at = steady::now();
        std::lock_guard lock{mutex_};
        r.attempt = ++attempts_[r.target + " " + r.delivery];
        r.status = script_(r.attempt);
        if (r.status != 0) max_in_progress_ = std::max(max_in_progress_, ++in_progress_);
        log_.push_back(r);
        return r.status;
    }
    void answered() {
        std::lock_guard lock{mutex_};
        --in_progress_;
    }
    void hang(std::shared_ptr<session> s) { hung_.push_back(std::move(s)); }  // on the I/O thread

    std::function<int(int)> script_;
    std::chrono::milliseconds delay_;
    asio::io_context io_{1};
    tcp::acceptor acceptor_{io_, {asio::ip::make_address("127.0.0.1"), 0}};
    std::thread thread_;
    std::vector<std::shared_ptr<session>> hung_;
    mutable std::mutex mutex_;
    std::vector<received> log_;
    std::map<std::string, int> attempts_;
    int in_progress_ = 0, max_in_progress_ = 0;
};

handling_store& handling_of(alert_store& s) {
    auto* h = dynamic_cast<handling_store*>(&s);
    if (!h) throw std::runtime_error("the memory store keeps no handling state");
    return *h;
}

std::string publish(alert_store& s, std::string const& user, std::int64_t now) {
    new_alert a;
    a.user_id = user;
    a.stream_id = "cam-3";
    a.detection_json = R"({"type":"intrusion"})";
    a.timestamp = "2026-12-07T01:00:00Z";
    a.severity = "high";
    a.published_by = "gateway";
    write_batch b;
    b.alerts.push_back(std::move(a));
    return s.write(b, now).appended.at(0).alert.alert_id;
}

transition_outcome change(alert_store& s, std::string const& id, std::string const& who, transition_kind kind,
                          std::int64_t now, std::string outcome = {}) {
    write_batch b;
    b.transitions.push_back({id, who, who, kind, std::move(outcome), {}});
    return s.write(b, now).transitions.at(0).outcome;
}

template <class Predicate>
bool eventually(Predicate p, std::chrono::milliseconds within) {
    auto const until = steady::now() + within;
    while (steady::now() < until) {
        if (p()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return p();
}

}  // namespace

// Four changes, two URLs: eight rows. The receiver refuses each one's first
// two attempts with 500; each then arrives once more, and never again after
// its 200, with the gaps growing (1 s, then 2 s).
TEST(WebhookDispatcher, RetriedWithGrowingGapsUntilDeliveredExactlyOnce) {
    memory_alert_store store;
    receiver hook{[](int attempt) { return attempt <= 2 ? 500 : 200; }};
    auto const urls = std::vector<std::string>{hook.url("/hooks/a"), hook.url("/hooks/b?token=receiver-token")};
    auto& m = metrics::global();
    auto const delivered_before = m.webhook_delivered.value(), failed_before = m.webhook_failed.value();

    webhook_dispatcher dispatcher{handling_of(store), {urls, secret}};
    auto const now = now_ms();
    auto const a1 = publish(store, "alice", now), a2 = publish(store, "bob", now), a3 = publish(store, "carol", now);
    ASSERT_EQ(change(store, a1, "alice", transition_kind::acknowledge, now), transition_outcome::applied);
    ASSERT_EQ(change(store, a2, "bob", transition_kind::resolve, now, "false_alarm"), transition_outcome::applied);
    ASSERT_EQ(change(store, a3, "carol", transition_kind::acknowledge, now), transition_outcome::applied);
    ASSERT_EQ(change(store, a3, "carol", transition_kind::reopen, now), transition_outcome::applied);
    dispatcher.poke();

    ASSERT_TRUE(eventually([&] { return hook.delivered() == 8; }, 30s)) << hook.delivered() << " of 8 delivered";
    std::this_thread::sleep_for(1500ms);  // past the first retry's gap: anything sent twice would show
    dispatcher.stop();

    auto const all = hook.all();
    ASSERT_EQ(all.size(), 24u) << "each of the 8 rows: two refusals, then one delivery";
    std::map<std::string, std::vector<received>> by_row;  // target and delivery id
    std::set<std::string> types;
    for (auto const& r : all) {
        EXPECT_TRUE(r.signature_ok) << r.signature;
        EXPECT_EQ(r.content_type, "application/json");
        EXPECT_EQ(r.user_agent, "vigil");
        auto const body = boost::json::parse(r.body).as_object();
        EXPECT_EQ(r.event, body.at("type").as_string());
        EXPECT_EQ(r.delivery, body.at("id").as_string());
        types.insert(r.event);
        by_row[r.target + " " + r.delivery].push_back(r);
    }
    EXPECT_EQ(types, (std::set<std::string>{"alert.acknowledged", "alert.resolved", "alert.reopened"}));
    ASSERT_EQ(by_row.size(), 8u);
    for (auto const& [row, tries] : by_row) {
        ASSERT_EQ(tries.size(), 3u) << row;
        EXPECT_EQ(tries[0].status, 500);
        EXPECT_EQ(tries[1].status, 500);
        EXPECT_EQ(tries[2].status, 200);
        EXPECT_EQ(tries[1].body, tries[0].body) << "the body is signed as first written";
        EXPECT_EQ(tries[2].body, tries[0].body);
        auto const first_gap = tries[1].at - tries[0].at, second_gap = tries[2].at - tries[1].at;
        // The backoff (less the store clock's millisecond), then growing.
        EXPECT_GE(first_gap, 995ms) << row;
        EXPECT_GE(second_gap, 1995ms) << row;
        EXPECT_GT(second_gap, first_gap) << row;
        EXPECT_LT(second_gap, 4s) << row;  // 2 s, a tenth of jitter, a tick of 250 ms
    }
    // Nothing is left to send.
    EXPECT_TRUE(handling_of(store).claim_webhooks(now_ms() + 3'600'000, 30'000, 100).empty());
    EXPECT_EQ(m.webhook_delivered.value() - delivered_before, 8u);
    EXPECT_EQ(m.webhook_failed.value() - failed_before, 16u);
}

// A receiver that says nothing is a failed attempt once the timeout passes.
TEST(WebhookDispatcher, NoAnswerWithinTheTimeoutIsAFailedAttempt) {
    memory_alert_store store;
    receiver hook{[](int attempt) { return attempt == 1 ? 0 : 200; }};
    webhook_options o{{hook.url("/hook")}, secret};
    o.timeout = 500ms;
    webhook_dispatcher dispatcher{handling_of(store), o};
    auto const now = now_ms();
    auto const id = publish(store, "alice", now);
    ASSERT_EQ(change(store, id, "alice", transition_kind::acknowledge, now), transition_outcome::applied);
    dispatcher.poke();

    ASSERT_TRUE(eventually([&] { return hook.delivered() == 1; }, 10s));
    dispatcher.stop();
    auto const all = hook.all();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].status, 0);
    // The timeout, then the first backoff.
    EXPECT_GE(all[1].at - all[0].at, 1495ms);
    EXPECT_TRUE(handling_of(store).claim_webhooks(now_ms() + 3'600'000, 30'000, 100).empty());
}

// A stop cuts a request short: its row is due again at once, not after its
// lease, so the next start sends it without waiting.
TEST(WebhookDispatcher, ARequestCutShortByAStopIsDueAgainAtOnce) {
    memory_alert_store store;
    receiver hook{[](int) { return 0; }};  // never answers
    webhook_dispatcher dispatcher{handling_of(store), {{hook.url("/hook")}, secret}};
    auto const now = now_ms();
    auto const id = publish(store, "alice", now);
    ASSERT_EQ(change(store, id, "alice", transition_kind::acknowledge, now), transition_outcome::applied);
    dispatcher.poke();
    ASSERT_TRUE(eventually([&] { return hook.all().size() == 1; }, 10s));
    EXPECT_TRUE(handling_of(store).claim_webhooks(now_ms(), 30'000, 10).empty());  // leased while in flight
    dispatcher.stop();
    auto const again = handling_of(store).claim_webhooks(now_ms(), 30'000, 10);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].attempts, 1);
}

// Slow receivers get at most eight requests at once.
TEST(WebhookDispatcher, AtMostEightRequestsInFlight) {
    memory_alert_store store;
    receiver hook{[](int) { return 200; }, 300ms};
    webhook_dispatcher dispatcher{handling_of(store), {{hook.url("/hook")}, secret}};
    auto const now = now_ms();
    for (int i = 0; i < 20; ++i) {
        auto const id = publish(store, "user-" + std::to_string(i), now);
        ASSERT_EQ(change(store, id, "user-" + std::to_string(i), transition_kind::acknowledge, now),
                  transition_outcome::applied);
    }
    dispatcher.poke();
    ASSERT_TRUE(eventually([&] { return hook.delivered() == 20; }, 20s)) << hook.delivered();
    dispatcher.stop();
    EXPECT_LE(hook.max_in_progress(), 8);
    EXPECT_GE(hook.max_in_progress(), 4);  // and more than one at a time
    EXPECT_EQ(hook.all().size(), 20u);
}

// Rows older than 72 hours go unsent when the dispatcher starts, and are counted.
TEST(WebhookDispatcher, RowsOlderThanSeventyTwoHoursAreDropped) {
    memory_alert_store store;
    receiver hook{[](int) { return 200; }};
    handling_of(store).set_webhook_urls({hook.url("/hook")});
    auto const long_ago = now_ms() - 73LL * 3600 * 1000;
    auto const id = publish(store, "alice", long_ago);
    ASSERT_EQ(change(store, id, "alice", transition_kind::acknowledge, long_ago), transition_outcome::applied);
    auto const dropped_before = metrics::global().webhook_dropped.value();

    webhook_dispatcher dispatcher{handling_of(store), {{hook.url("/hook")}, secret}};
    auto const recent = now_ms();
    auto const fresh = publish(store, "bob", recent);
    ASSERT_EQ(change(store, fresh, "bob", transition_kind::acknowledge, recent), transition_outcome::applied);
    dispatcher.poke();
    ASSERT_TRUE(eventually([&] { return hook.delivered() == 1; }, 5s));
    std::this_thread::sleep_for(500ms);
    dispatcher.stop();
    EXPECT_EQ(metrics::global().webhook_dropped.value() - dropped_before, 1u);
    ASSERT_EQ(hook.all().size(), 1u);
    EXPECT_EQ(boost::json::parse(hook.all()[0].body).at("alert").at("alert_id").as_string(), fresh);
}
