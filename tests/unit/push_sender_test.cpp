// The push sender against a push service on loopback that checks VAPID and
// decrypts what it gets: delivered, gone, retried (Retry-After, backoff)
// and given up, refused certificates and endpoints, connection reuse,
// timeouts, the concurrency bound and stop().
#include "push/push_sender.hpp"
#include "support/mock_push_service.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <future>
#include <thread>

namespace {

using namespace vigil::push;
using namespace std::chrono_literals;
using vigil::test::mock_answer;
using vigil::test::mock_push_service;
namespace asio = boost::asio;

std::string const tls_data = VIGIL_TEST_DATA "/tls";
constexpr char subject[] = "mailto:ops@example.com";

mock_answer answer(int status, std::string body = {}) {
    mock_answer a;
    a.status = status;
    a.body = std::move(body);
    return a;
}
mock_answer with_retry_after(int status, std::string seconds) {
    auto a = answer(status);
    a.headers = {{"Retry-After", std::move(seconds)}};
    return a;
}
mock_answer delayed(std::chrono::milliseconds delay) {
    auto a = answer(201);
    a.delay = delay;
    return a;
}
mock_answer closing_after() {
    auto a = answer(201);
    a.close_after = true;
    return a;
}
mock_answer never() {
    auto a = answer(201);
    a.never = true;
    return a;
}

sender_options fast_options() {
    sender_options o;
    o.allow_insecure_loopback = true;
    o.retry.max_attempts = 3;
    o.retry.initial_backoff = 50ms;
    o.retry.max_backoff = 400ms;
    return o;
}

struct harness {
    p256_key browser_key = p256_key::generate();
    std::string browser_auth = "fedcba9876543210";
    vapid_key vapid{p256_key::generate()};
    asio::io_context ioc;
    asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ioc);
    std::optional<push_sender> sender;
    std::thread thread;

    explicit harness(sender_options o = fast_options()) {
        sender.emplace(ioc, std::move(o));
        thread = std::thread{[this] { ioc.run(); }};
    }
    ~harness() {
        sender.reset();
        work.reset();
        thread.join();
    }

    mock_push_service::options service(std::string address = "127.0.0.1", bool tls = false) const {
        mock_push_service::options o;
        o.address = std::move(address);
        if (tls) {
            o.cert_file = tls_data + "/cert-a.pem";
            o.key_file = tls_data + "/key-a.pem";
        }
        o.subscriber_private_pem = browser_key.private_pem();
        o.subscriber_auth = browser_auth;
        o.vapid_public_key = vapid.public_key();
        return o;
    }

    push_request request(std::string endpoint, push_message m = {}) const {
        if (m.payload.empty()) m.payload = R"({"alert_id":"a-1","severity":"high","stream_id":"cam-1"})";
        push_subscription const s{std::move(endpoint), browser_key.public_point(), browser_auth, std::nullopt};
        auto const now =
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        auto r = build_push_request(s, m, {vapid, subject, now, true});
        if (!r) throw std::runtime_error(r.error().message());
        return std::move(*r);
    }

    std::future<push_result> send(push_request r) {
        auto promise = std::make_shared<std::promise<push_result>>();
        auto future = promise->get_future();
        sender->send(std::move(r), [promise](push_result result) { promise->set_value(std::move(result)); });
        return future;
    }

    // Generous: the machine may be loaded.
    static push_result wait(std::future<push_result>& f, std::chrono::seconds limit = 60s) {
        if (f.wait_for(limit) != std::future_status::ready) throw std::runtime_error("no outcome in time");
        return f.get();
    }

    push_result push(push_request r) {
        auto f = send(std::move(r));
        return wait(f);
    }
};

TEST(PushSender, DeliversAPushTheSubscriberCanReadWithTheRightHeaders) {
    harness h;
    mock_push_service service{h.service()};
    push_message m;
    m.payload = R"({"alert_id":"a-42","severity":"critical","stream_id":"cam-lobby"})";
    m.ttl_seconds = 3600;
    m.priority = urgency::high;
    m.topic = "cam-lobby-intrusion";
    auto const r = h.push(h.request(service.endpoint("/wpush/v2/token-1"), m));
    EXPECT_EQ(r.outcome, push_outcome::delivered) << r.detail;
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.attempts, 1);

    auto const got = service.received();
    ASSERT_EQ(got.size(), 1u);
    auto const& p = got[0];
    EXPECT_EQ(p.method, "POST");
    EXPECT_EQ(p.target, "/wpush/v2/token-1");
    EXPECT_EQ(p.header("ttl"), "3600");
    EXPECT_EQ(p.header("urgency"), "high");
    EXPECT_EQ(p.header("topic"), "cam-lobby-intrusion");
    EXPECT_EQ(p.header("content-encoding"), "aes128gcm");
    EXPECT_EQ(p.header("content-type"), "application/octet-stream");
    EXPECT_EQ(p.header("content-length"), std::to_string(p.body.size()));
    EXPECT_EQ(p.header("host"), "127.0.0.1:" + std::to_string(service.port()));
    ASSERT_TRUE(p.vapid) << p.vapid_error;
    EXPECT_EQ(p.vapid->aud, "http://127.0.0.1:" + std::to_string(service.port()));
    EXPECT_EQ(p.vapid->sub, subject);
    ASSERT_TRUE(p.plaintext) << p.decrypt_error;
    EXPECT_EQ(*p.plaintext, m.payload);
}

TEST(PushSender, A404Or410MeansTheSubscriptionIsGone) {
    harness h;
    mock_push_service service{h.service()};
    service.script({answer(410, "push subscription has unsubscribed or expired."), answer(404)});
    auto const r = h.push(h.request(service.endpoint()));
    EXPECT_EQ(r.outcome, push_outcome::gone);
    EXPECT_EQ(r.status, 410);
    EXPECT_EQ(r.attempts, 1);
    auto const r2 = h.push(h.request(service.endpoint()));
    EXPECT_EQ(r2.outcome, push_outcome::gone);
    EXPECT_EQ(r2.status, 404);
    EXPECT_EQ(service.received().size(), 2u);
}

TEST(PushSender, A429IsRetriedAfterItsRetryAfterThenDelivered) {
    harness h;
    mock_push_service service{h.service()};
    service.script({with_retry_after(429, "1")});
    auto const r = h.push(h.request(service.endpoint()));
    EXPECT_EQ(r.outcome, push_outcome::delivered) << r.detail;
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.attempts, 2);
    auto const got = service.received();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_GE(got[1].at - got[0].at, 950ms);  // the second went out a second after the first answer
    EXPECT_EQ(got[1].plaintext, got[0].plaintext);
}

TEST(PushSender, ServerErrorsAreRetriedWithBackoffThenGivenUp) {
    harness h;
    mock_push_service service{h.service()};
    service.script(std::vector<mock_answer>(10, answer(500, "internal")));
    auto const r = h.push(h.request(service.endpoint()));
    EXPECT_EQ(r.outcome, push_outcome::gave_up);
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.attempts, 3);
    auto const got = service.received();
    ASSERT_EQ(got.size(), 3u);  // max_attempts, then no more
    // Backoff of 50 ms then 100 ms, each at least half that with jitter.
    EXPECT_GE(got[1].at - got[0].at, 25ms);
    EXPECT_GE(got[2].at - got[1].at, 50ms);
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(service.received().size(), 3u);
}

TEST(PushSender, ARetryAfterLongerThanThePolicyAllowsGivesUp) {
    harness h;
    mock_push_service service{h.service()};
    service.script({with_retry_after(429, "3600")});
    auto const r = h.push(h.request(service.endpoint()));
    EXPECT_EQ(r.outcome, push_outcome::gave_up);
    EXPECT_EQ(r.attempts, 1);
    EXPECT_NE(r.detail.find("Retry-After"), std::string::npos) << r.detail;
}

TEST(PushSender, OtherClientErrorsFailAtOnceWithTheAnswersFirstBytes) {
    harness h;
    mock_push_service service{h.service()};
    service.script({answer(403, "{\"reason\":\"VapidPkHashMismatch\"}\n" + std::string(1000, 'x'))});
    auto const r = h.push(h.request(service.endpoint()));
    EXPECT_EQ(r.outcome, push_outcome::failed);
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.attempts, 1);
    EXPECT_NE(r.detail.find("HTTP 403"), std::string::npos) << r.detail;
    EXPECT_NE(r.detail.find("VapidPkHashMismatch"), std::string::npos) << r.detail;
    EXPECT_LT(r.detail.size(), 260u);
    EXPECT_EQ(r.detail.find('\n'), std::string::npos);
}

TEST(PushSender, AnAnswerBodyOverTheLimitStillCountsByItsStatus) {
    harness h;
    mock_push_service service{h.service()};
    service.script({answer(400, std::string(200'000, 'y')), answer(410, std::string(200'000, 'z'))});
    auto const r = h.push(h.request(service.endpoint()));
    EXPECT_EQ(r.outcome, push_outcome::failed);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.detail, "HTTP 400: (a body over 16384 bytes)");
    auto const gone = h.push(h.request(service.endpoint()));
    EXPECT_EQ(gone.outcome, push_outcome::gone);
    EXPECT_EQ(service.connections(), 2);  // a connection with an unread answer is not reused
}

TEST(PushSender, RefusesARequestThatCouldSplitLines) {
    harness h;
    mock_push_service service{h.service()};
    auto r = h.request(service.endpoint());
    r.headers.emplace_back("Topic", "a\r\nX-Injected: 1");
    auto const result = h.push(std::move(r));
    EXPECT_EQ(result.outcome, push_outcome::failed);
    EXPECT_NE(result.detail.find("control characters"), std::string::npos) << result.detail;
    auto bad_target = h.request(service.endpoint());
    bad_target.endpoint.target = "/x HTTP/1.1\r\nX: y";
    EXPECT_EQ(h.push(std::move(bad_target)).outcome, push_outcome::failed);
    EXPECT_EQ(service.connections(), 0);
}

TEST(PushSender, RefusesASelfSignedCertificateItDoesNotTrust) {
    auto o = fast_options();
    o.allow_private_addresses = true;
    harness h{o};
    mock_push_service service{h.service("127.0.0.1", true)};
    auto const r = h.push(h.request(service.endpoint()));
    EXPECT_EQ(r.outcome, push_outcome::failed);
    EXPECT_EQ(r.attempts, 1);
    EXPECT_NE(r.detail.find("certificate"), std::string::npos) << r.detail;
    EXPECT_TRUE(service.received().empty());
}

TEST(PushSender, DeliversOverTlsToATrustedCertificateByName) {
    auto o = fast_options();
    o.allow_private_addresses = true;
    o.extra_ca_file = tls_data + "/cert-a.pem";
    harness h{o};
    mock_push_service service{h.service("127.0.0.1", true)};
    std::string const origin = "https://localhost:" + std::to_string(service.port());
    auto const r = h.push(h.request(origin + "/push/1"));
    EXPECT_EQ(r.outcome, push_outcome::delivered) << r.detail;
    auto const got = service.received();
    ASSERT_EQ(got.size(), 1u);
    ASSERT_TRUE(got[0].vapid) << got[0].vapid_error;
    EXPECT_EQ(got[0].vapid->aud, origin);
    EXPECT_TRUE(got[0].plaintext) << got[0].decrypt_error;
    // And by address, which the certificate also names.
    EXPECT_EQ(h.push(h.request(service.endpoint())).outcome, push_outcome::delivered);
}

TEST(PushSender, RefusesATrustedCertificateForAnotherHost) {
    auto o = fast_options();
    o.allow_private_addresses = true;
    o.extra_ca_file = tls_data + "/cert-a.pem";
    harness h{o};
    // cert-a names localhost and 127.0.0.1, not 127.0.0.2.
    mock_push_service service{h.service("127.0.0.2", true)};
    auto const r = h.push(h.request(service.endpoint()));
    EXPECT_EQ(r.outcome, push_outcome::failed);
    EXPECT_NE(r.detail.find("certificate"), std::string::npos) << r.detail;
    EXPECT_TRUE(service.received().empty());
}

TEST(PushSender, RefusesPlainHttpWithoutTheTestOption) {
    auto o = fast_options();
    o.allow_insecure_loopback = false;
    harness h{o};
    mock_push_service service{h.service()};
    auto const r = h.push(h.request(service.endpoint()));
    EXPECT_EQ(r.outcome, push_outcome::failed);
    EXPECT_EQ(r.attempts, 0);
    EXPECT_NE(r.detail.find("loopback"), std::string::npos) << r.detail;
    EXPECT_EQ(service.connections(), 0);
}

TEST(PushSender, RefusesEndpointsOffThePublicInternet) {
    auto o = fast_options();
    o.extra_ca_file = tls_data + "/cert-a.pem";
    harness h{o};
    mock_push_service service{h.service("127.0.0.1", true)};
    auto const by_address = h.push(h.request(service.endpoint()));
    EXPECT_EQ(by_address.outcome, push_outcome::failed);
    EXPECT_NE(by_address.detail.find("public"), std::string::npos) << by_address.detail;
    auto const by_name = h.push(h.request("https://localhost:" + std::to_string(service.port()) + "/x"));
    EXPECT_EQ(by_name.outcome, push_outcome::failed);
    EXPECT_NE(by_name.detail.find("public"), std::string::npos) << by_name.detail;
    EXPECT_EQ(h.push(h.request("https://10.1.2.3/x")).outcome, push_outcome::failed);
    EXPECT_EQ(h.push(h.request("https://[fd00::1]/x")).outcome, push_outcome::failed);
    EXPECT_EQ(service.connections(), 0);
}

TEST(PushSender, KeepsOneConnectionPerPushServiceForTheNextPush) {
    harness h;
    mock_push_service service{h.service()};
    for (int i = 0; i < 3; ++i) EXPECT_EQ(h.push(h.request(service.endpoint())).outcome, push_outcome::delivered);
    EXPECT_EQ(service.connections(), 1);
    auto const got = service.received();
    ASSERT_EQ(got.size(), 3u);
    for (auto const& p : got) EXPECT_TRUE(p.plaintext);
}

TEST(PushSender, ReconnectsWhenThePushServiceClosedTheKeptConnection) {
    harness h;
    mock_push_service service{h.service()};
    service.script({closing_after()});
    EXPECT_EQ(h.push(h.request(service.endpoint())).outcome, push_outcome::delivered);
    // Give the close time to arrive, as it would over the idle time.
    std::this_thread::sleep_for(100ms);
    auto const r = h.push(h.request(service.endpoint()));
    EXPECT_EQ(r.outcome, push_outcome::delivered) << r.detail;
    EXPECT_EQ(r.attempts, 1);  // a closed kept connection costs a connection, not an attempt
    EXPECT_EQ(service.connections(), 2);
    EXPECT_EQ(service.received().size(), 2u);
}

TEST(PushSender, AServiceThatNeverAnswersTimesOut) {
    auto o = fast_options();
    o.exchange_timeout = 300ms;
    o.retry.max_attempts = 2;
    harness h{o};
    mock_push_service service{h.service()};
    service.script({never(), never()});
    auto const r = h.push(h.request(service.endpoint()));
    EXPECT_EQ(r.outcome, push_outcome::gave_up);
    EXPECT_EQ(r.attempts, 2);
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.detail.find("read"), std::string::npos) << r.detail;
    EXPECT_EQ(service.received().size(), 2u);
}

TEST(PushSender, AHandshakeThatNeverCompletesTimesOut) {
    // The kernel completes the TCP handshake for a listener that never accepts.
    asio::io_context ioc;
    asio::ip::tcp::acceptor silent{ioc, {asio::ip::make_address("127.0.0.1"), 0}};
    auto o = fast_options();
    o.allow_private_addresses = true;
    o.connect_timeout = 300ms;
    o.retry.max_attempts = 2;
    harness h{o};
    auto const started = std::chrono::steady_clock::now();
    auto const r = h.push(h.request("https://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/x"));
    EXPECT_EQ(r.outcome, push_outcome::gave_up);
    EXPECT_EQ(r.attempts, 2);
    EXPECT_NE(r.detail.find("tls"), std::string::npos) << r.detail;
    EXPECT_GE(std::chrono::steady_clock::now() - started, 600ms);
}

TEST(PushSender, NoListenerIsRetriedThenGivenUp) {
    std::uint16_t port;
    {
        asio::io_context ioc;
        asio::ip::tcp::acceptor a{ioc, {asio::ip::make_address("127.0.0.1"), 0}};
        port = a.local_endpoint().port();
    }
    harness h;
    auto const r = h.push(h.request("http://127.0.0.1:" + std::to_string(port) + "/x"));
    EXPECT_EQ(r.outcome, push_outcome::gave_up);
    EXPECT_EQ(r.attempts, 3);
    EXPECT_NE(r.detail.find("connect"), std::string::npos) << r.detail;
}

TEST(PushSender, NoMoreThanMaxConcurrentPushesAtOnce) {
    auto o = fast_options();
    o.max_concurrent = 2;
    harness h{o};
    mock_push_service service{h.service()};
    service.script(std::vector<mock_answer>(6, delayed(150ms)));
    std::vector<std::future<push_result>> results;
    for (int i = 0; i < 6; ++i) results.push_back(h.send(h.request(service.endpoint())));
    for (auto& f : results) EXPECT_EQ(harness::wait(f).outcome, push_outcome::delivered);
    EXPECT_EQ(service.received().size(), 6u);
    EXPECT_LE(service.max_in_progress(), 2);
}

TEST(PushSender, AFullQueueFailsAtOnce) {
    auto o = fast_options();
    o.max_concurrent = 1;
    o.max_queued = 1;
    harness h{o};
    mock_push_service service{h.service()};
    service.script(std::vector<mock_answer>(2, delayed(300ms)));
    auto first = h.send(h.request(service.endpoint()));
    ASSERT_TRUE(service.wait_for(1, 30s));  // in flight: the queue is empty again
    auto second = h.send(h.request(service.endpoint()));
    auto third = h.send(h.request(service.endpoint()));
    auto const refused = harness::wait(third);
    EXPECT_EQ(refused.outcome, push_outcome::failed);
    EXPECT_EQ(refused.detail, "queue full");
    EXPECT_EQ(harness::wait(first).outcome, push_outcome::delivered);
    EXPECT_EQ(harness::wait(second).outcome, push_outcome::delivered);
}

TEST(PushSender, StopEndsAPushWaitingToRetry) {
    harness h;
    mock_push_service service{h.service()};
    service.script({with_retry_after(503, "30")});
    auto f = h.send(h.request(service.endpoint()));
    ASSERT_TRUE(service.wait_for(1, 30s));
    std::this_thread::sleep_for(100ms);  // the answer reaches the sender, which starts waiting
    h.sender->stop();
    auto const r = harness::wait(f, 10s);
    EXPECT_EQ(r.outcome, push_outcome::failed);
    EXPECT_EQ(r.detail, "stopped");
    auto later = h.send(h.request(service.endpoint()));
    EXPECT_EQ(harness::wait(later).detail, "stopped");
    EXPECT_EQ(service.received().size(), 1u);
}

TEST(PushSender, PublicAddresses) {
    auto is_public = [](char const* a) { return is_public_address(asio::ip::make_address(a)); };
    for (auto a : {"142.250.74.106", "8.8.8.8", "2a00:1450:4001:82b::200a", "::ffff:142.250.74.106"})
        EXPECT_TRUE(is_public(a)) << a;
    for (auto a : {"0.0.0.0", "127.0.0.1", "127.9.9.9", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                   "169.254.169.254", "100.64.0.1", "224.0.0.1", "255.255.255.255", "::", "::1", "fe80::1", "fd00::1",
                   "fc00::1", "ff02::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1"})
        EXPECT_FALSE(is_public(a)) << a;
    EXPECT_TRUE(is_public("172.32.0.1"));
    EXPECT_TRUE(is_public("100.128.0.1"));
}

}  // namespace
