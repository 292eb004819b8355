// What a webhook receiver relies on (docs/handling.md "Webhooks"): the
// signature header, and how long a failing row waits.
#include "alerts/webhook_dispatcher.hpp"

#include <gtest/gtest.h>

#include <limits>

using namespace vigil;
using namespace std::chrono_literals;

// Vectors from `openssl dgst -sha256 -hmac KEY` over the exact bytes, and
// RFC 4231's test case 2.
TEST(WebhookSignature, IsLowercaseHexHmacSha256OfTheBody) {
    std::string const body =
        R"({"id":"0193a6e0-0000-7000-8000-000000000001","type":"alert.acknowledged","at":"2026-12-07T01:02:03.456Z",)"
        R"("actor":"alice","alert":{"alert_id":"a1","state":"acknowledged"}})";
    EXPECT_EQ(webhook_signature("whsec-0123456789abcdef", body),
              "sha256=9116d0f9b42f6391b2247cd3ac6e15c71bf8ceba8b1298d9486b9440996821dc");
    EXPECT_EQ(webhook_signature("whsec-0123456789abcdef", ""),
              "sha256=2560d51c109282d2b2efac47aa7fffb598eb7ee1aaa7db697773a7f1912f8da5");
    EXPECT_EQ(webhook_signature("Jefe", "what do ya want for nothing?"),
              "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // One byte more in the body, or another secret, and it no longer matches.
    EXPECT_NE(webhook_signature("whsec-0123456789abcdef", body + " "),
              webhook_signature("whsec-0123456789abcdef", body));
    EXPECT_NE(webhook_signature("whsec-0123456789abcdeF", body), webhook_signature("whsec-0123456789abcdef", body));
}

TEST(WebhookBackoff, DoublesFromOneSecondUpToFiveMinutes) {
    EXPECT_EQ(webhook_backoff(1, 0), 1s);
    EXPECT_EQ(webhook_backoff(2, 0), 2s);
    EXPECT_EQ(webhook_backoff(3, 0), 4s);
    EXPECT_EQ(webhook_backoff(9, 0), 256s);
    EXPECT_EQ(webhook_backoff(10, 0), 300s);
    EXPECT_EQ(webhook_backoff(864, 0), 300s);  // 72 hours of attempts at the cap
    EXPECT_EQ(webhook_backoff(std::numeric_limits<int>::max(), 0), 300s);
    EXPECT_EQ(webhook_backoff(0, 0), 1s);  // read as the first
}

TEST(WebhookBackoff, JitterAddsAtMostATenthAndNeverShortensAGap) {
    for (int failures = 1; failures < 12; ++failures) {
        auto const low = webhook_backoff(failures, 0), high = webhook_backoff(failures, 0.999999);
        EXPECT_GE(high, low);
        EXPECT_LE(high, low + low / 10);
        // The next gap is never shorter than this one can be, up to the cap.
        if (low < 300s) EXPECT_GE(webhook_backoff(failures + 1, 0), high);
    }
    EXPECT_LE(webhook_backoff(50, 0.999999), 330s);
}
