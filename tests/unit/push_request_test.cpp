// One push request as RFC 8030 wants it, and what the push service's answer
// means: delivered, gone, retry (when), or failed.
#include "push/push_request.hpp"
#include "common/base64.hpp"
#include "push/push_response.hpp"
#include "support/vapid_check.hpp"

#include <gtest/gtest.h>

namespace {

using namespace vigil::push;
using namespace std::chrono_literals;

struct browser {
    p256_key key = p256_key::generate();
    std::string auth = std::string("0123456789abcdef");
    push_subscription subscription(std::string endpoint) const {
        return {std::move(endpoint), key.public_point(), auth, std::nullopt};
    }
};

constexpr char subject[] = "mailto:ops@example.com";

push_message message(std::string payload, std::int64_t ttl_seconds = 24 * 3600, std::string topic = {}) {
    push_message m;
    m.payload = std::move(payload);
    m.ttl_seconds = ttl_seconds;
    m.topic = std::move(topic);
    return m;
}

TEST(PushRequest, CarriesTheHeadersAndABodyOnlyTheSubscriberCanRead) {
    browser b;
    vapid_key const vapid{p256_key::generate()};
    push_message m;
    m.payload = R"({"alert_id":"a1","severity":"critical","stream_id":"cam-1"})";
    m.ttl_seconds = 600;
    m.priority = urgency::high;
    m.topic = "alert-a1";
    std::int64_t const now = 1'800'000'000;
    auto const r =
        build_push_request(b.subscription("https://fcm.googleapis.com/fcm/send/abc:def"), m, {vapid, subject, now});
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->endpoint.host, "fcm.googleapis.com");
    EXPECT_EQ(r->endpoint.target, "/fcm/send/abc:def");
    EXPECT_EQ(r->header("TTL"), "600");
    EXPECT_EQ(r->header("urgency"), "high");
    EXPECT_EQ(r->header("Topic"), "alert-a1");
    EXPECT_EQ(r->header("Content-Encoding"), "aes128gcm");
    EXPECT_EQ(r->header("Content-Type"), "application/octet-stream");

    auto const token = vigil::test::verify_vapid(r->header("Authorization"), vapid.public_key());
    ASSERT_TRUE(token);
    EXPECT_EQ(token->aud, "https://fcm.googleapis.com");
    EXPECT_EQ(token->sub, subject);
    EXPECT_GT(token->exp, now);
    EXPECT_LE(token->exp, now + 24 * 3600);

    EXPECT_EQ(ece_decrypt(r->body, b.key, b.auth).value(), m.payload);
    EXPECT_FALSE(ece_decrypt(r->body, p256_key::generate(), b.auth));
}

TEST(PushRequest, NoTopicHeaderWithoutATopic) {
    browser b;
    vapid_key const vapid{p256_key::generate()};
    auto const r =
        build_push_request(b.subscription("https://push.example.com:8443/x"), message("{}"), {vapid, subject, 0});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("Topic"), "");
    EXPECT_EQ(r->header("Urgency"), "normal");
    EXPECT_EQ(r->header("TTL"), "86400");
    EXPECT_EQ(vigil::test::verify_vapid(r->header("Authorization"), vapid.public_key())->aud,
              "https://push.example.com:8443");
}

TEST(PushRequest, TopicsAreAtMost32Base64urlCharacters) {
    EXPECT_TRUE(valid_topic("a"));
    EXPECT_TRUE(valid_topic(std::string(32, 'Z')));
    EXPECT_TRUE(valid_topic("cam-lobby_intrusion-0123456789AZ"));
    EXPECT_FALSE(valid_topic(""));
    EXPECT_FALSE(valid_topic(std::string(33, 'a')));
    for (std::string_view bad : {"a=", "a+b", "a/b", "a b", "a.b", "a:b", "caf\xc3\xa9", "a\r\nX: y"})
        EXPECT_FALSE(valid_topic(bad)) << bad;

    browser b;
    vapid_key const vapid{p256_key::generate()};
    auto const m = message("{}", 60, "cam.lobby");
    EXPECT_EQ(build_push_request(b.subscription("https://a.example/x"), m, {vapid, subject, 0}).error(),
              push_error::bad_topic);
}

TEST(PushRequest, RefusesWhatNoPushServiceShouldGet) {
    browser b;
    vapid_key const vapid{p256_key::generate()};
    auto const sub = b.subscription("https://a.example/x");
    EXPECT_EQ(build_push_request(sub, message("{}", -1), {vapid, subject, 0}).error(), push_error::bad_ttl);
    EXPECT_EQ(build_push_request(sub, message("{}", max_push_ttl_seconds + 1), {vapid, subject, 0}).error(),
              push_error::bad_ttl);
    EXPECT_TRUE(build_push_request(sub, message("{}", 0), {vapid, subject, 0}));
    EXPECT_EQ(build_push_request(sub, message("{}"), {vapid, "ops@example.com", 0}).error(), push_error::bad_subject);
    EXPECT_EQ(build_push_request(sub, message(std::string(4000, 'x')), {vapid, subject, 0}).error(),
              ece_error::plaintext_too_large);
    auto broken = sub;
    broken.auth = "short";
    EXPECT_EQ(build_push_request(broken, message("{}"), {vapid, subject, 0}).error(), ece_error::bad_auth_secret);

    auto const loopback = b.subscription("http://127.0.0.1:9/x");
    EXPECT_EQ(build_push_request(loopback, message("{}"), {vapid, subject, 0}).error(), push_error::bad_endpoint);
    auto const allowed = build_push_request(loopback, message("{}"), {vapid, subject, 0, true});
    ASSERT_TRUE(allowed);
    EXPECT_FALSE(allowed->endpoint.tls);
    EXPECT_EQ(vigil::test::verify_vapid(allowed->header("Authorization"), vapid.public_key())->aud,
              "http://127.0.0.1:9");
}

TEST(PushRequest, TopicsForKeysAreStableOpaqueAndValid) {
    auto const a = topic_for("cam-lobby|intrusion");
    EXPECT_EQ(a.size(), 32u);
    EXPECT_TRUE(valid_topic(a));
    EXPECT_EQ(topic_for("cam-lobby|intrusion"), a);
    EXPECT_NE(topic_for("cam-lobby|loitering"), a);
    EXPECT_EQ(a.find("lobby"), std::string::npos);
    // SHA-256("abc") begins ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c.
    EXPECT_EQ(topic_for("abc"), vigil::base64url_encode(std::string("\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41\x40\xde"
                                                                    "\x5d\xae\x22\x23\xb0\x03\x61\xa3\x96\x17\x7a\x9c",
                                                                    24)));
    EXPECT_TRUE(valid_topic(topic_for("")));
    EXPECT_TRUE(valid_topic(topic_for(std::string(10000, '\xff'))));
}

TEST(PushRequest, SeverityToUrgency) {
    EXPECT_EQ(urgency_for_severity("critical"), urgency::high);
    EXPECT_EQ(urgency_for_severity("high"), urgency::normal);
    EXPECT_EQ(urgency_for_severity("medium"), urgency::normal);
    EXPECT_EQ(urgency_for_severity("low"), urgency::low);
    EXPECT_EQ(urgency_for_severity(""), urgency::normal);
    EXPECT_EQ(urgency_for_severity("CRITICAL"), urgency::normal);
}

TEST(PushRequest, UrgencyNames) {
    EXPECT_EQ(to_string(urgency::very_low), "very-low");
    EXPECT_EQ(to_string(urgency::low), "low");
    EXPECT_EQ(to_string(urgency::normal), "normal");
    EXPECT_EQ(to_string(urgency::high), "high");
}

TEST(PushResponse, ClassifiesStatuses) {
    EXPECT_EQ(classify_status(201), answer_class::delivered);
    EXPECT_EQ(classify_status(202), answer_class::delivered);
    EXPECT_EQ(classify_status(200), answer_class::delivered);
    EXPECT_EQ(classify_status(404), answer_class::gone);
    EXPECT_EQ(classify_status(410), answer_class::gone);
    EXPECT_EQ(classify_status(429), answer_class::retry);
    EXPECT_EQ(classify_status(500), answer_class::retry);
    EXPECT_EQ(classify_status(502), answer_class::retry);
    EXPECT_EQ(classify_status(503), answer_class::retry);
    for (int s : {301, 302, 400, 401, 403, 405, 413, 418, 0, 600, 999})
        EXPECT_EQ(classify_status(s), answer_class::failed) << s;
}

TEST(PushResponse, ReadsRetryAfterInSecondsAndAsAnHttpDate) {
    // Sun, 06 Nov 1994 08:49:37 GMT
    std::int64_t const date = 784111777;
    EXPECT_EQ(parse_retry_after("1", 0), 1s);
    EXPECT_EQ(parse_retry_after(" 120 ", 0), 120s);
    EXPECT_EQ(parse_retry_after("0", 0), 0s);
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", date - 30), 30s);
    EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", date - 30), 30s);
    EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", date - 30), 30s);
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", date + 100), 0s);  // already past
    EXPECT_GE(parse_retry_after("99999999999999999999", 0).value(), 3600s);
    for (std::string_view bad : {"", "soon", "-1", "1.5", "1s", "Sun, 06 Nov 1994 08:49:37",
                                 "Sun, 06 Nov 1994 08:49:37 GMT x", "Sun, 32 Nov 1994 08:49:37 GMT"})
        EXPECT_FALSE(parse_retry_after(bad, 0)) << bad;
}

TEST(PushResponse, RetriesWithBoundedExponentialBackoff) {
    retry_policy p;
    p.max_attempts = 6;
    p.initial_backoff = 1000ms;
    p.max_backoff = 5000ms;
    p.jitter = 0.5;
    // u = 0.5 is the middle of the jitter range: the base itself.
    EXPECT_EQ(retry_delay(2, std::nullopt, p, 0.5), 1000ms);
    EXPECT_EQ(retry_delay(3, std::nullopt, p, 0.5), 2000ms);
    EXPECT_EQ(retry_delay(4, std::nullopt, p, 0.5), 4000ms);
    EXPECT_EQ(retry_delay(5, std::nullopt, p, 0.5), 5000ms);
    EXPECT_EQ(retry_delay(6, std::nullopt, p, 0.5), 5000ms);
    EXPECT_FALSE(retry_delay(7, std::nullopt, p, 0.5));
    // Jitter spreads each wait over [base/2, base*1.5], never beyond the cap.
    EXPECT_EQ(retry_delay(3, std::nullopt, p, 0.0), 1000ms);
    EXPECT_EQ(retry_delay(3, std::nullopt, p, 0.75), 2500ms);
    EXPECT_EQ(retry_delay(5, std::nullopt, p, 0.999), 5000ms);
    EXPECT_EQ(retry_delay(5, std::nullopt, p, 0.0), 2500ms);
}

TEST(PushResponse, HonoursRetryAfterUpToThePolicysLimit) {
    retry_policy p;
    p.max_attempts = 3;
    p.max_retry_after = 600s;
    EXPECT_EQ(retry_delay(2, 1s, p, 0.9), 1000ms);
    EXPECT_EQ(retry_delay(2, 600s, p, 0.9), 600'000ms);
    EXPECT_FALSE(retry_delay(2, 601s, p, 0.9));  // gives up rather than hold the push for longer
    EXPECT_FALSE(retry_delay(4, 1s, p, 0.9));    // attempts are bounded even when the server says when
    retry_policy once;
    once.max_attempts = 1;
    EXPECT_FALSE(retry_delay(2, std::nullopt, once, 0.5));
}

}  // namespace
