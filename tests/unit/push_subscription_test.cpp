// Subscriptions as browsers send them (PushSubscription.toJSON()), their
// endpoints, and the base64url their keys come in.
#include "common/base64.hpp"
#include "push/subscription.hpp"

#include <gtest/gtest.h>

#include <random>

namespace {

using namespace vigil::push;

// RFC 8291 Appendix A's user agent keys.
constexpr char p256dh[] = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
constexpr char auth[] = "BTBZMqHH6r4Tts7J_aSIgg";
// A made-up endpoint whose token must never appear in an error.
constexpr char fcm[] = "https://fcm.googleapis.com/fcm/send/dQ7xSECRETc0ffee:APA91bH";

std::string body(std::string const& endpoint, std::string const& key = p256dh, std::string const& secret = auth,
                 std::string const& expiration = "null") {
    return R"({"endpoint":")" + endpoint + R"(","expirationTime":)" + expiration + R"(,"keys":{"p256dh":")" + key +
           R"(","auth":")" + secret + R"("}})";
}

vigil::refusal refusal(std::string_view text, bool insecure = false) {
    auto r = parse_subscription(text, insecure);
    if (!r) return r.error();
    ADD_FAILURE() << "accepted: " << text;
    return {};
}

TEST(PushSubscription, TakesWhatBrowsersSend) {
    auto r = parse_subscription(body(fcm), false);
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    auto const& s = *r;
    EXPECT_EQ(s.endpoint, fcm);
    EXPECT_EQ(s.p256dh.size(), 65u);
    EXPECT_EQ(s.p256dh, *vigil::base64url_decode(p256dh));
    EXPECT_EQ(s.auth.size(), 16u);
    EXPECT_FALSE(s.expiration_time);

    auto const with_expiry = parse_subscription(body(fcm, p256dh, auth, "1767225600000"), false);
    EXPECT_EQ(with_expiry.value().expiration_time, 1767225600000);
    // Without expirationTime, and with members browsers may add later.
    auto const minimal = parse_subscription(R"({"endpoint":"https://web.push.apple.com/QGz","keys":{"auth":")" +
                                                std::string{auth} + R"(","p256dh":")" + p256dh + R"("},"extra":1})",
                                            false);
    EXPECT_TRUE(minimal.has_value());
    // Padded base64url, as some libraries write it.
    EXPECT_TRUE(
        (parse_subscription(body(fcm, std::string{p256dh} + "=", std::string{auth} + "=="), false)).has_value());
}

TEST(PushSubscription, RefusesPlainHttpUnlessAllowedAndLoopback) {
    auto const e = refusal(body("http://127.0.0.1:9000/push"));
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.code, "insecure_endpoint");
    EXPECT_EQ(refusal(body("HTTP://127.0.0.1/push")).code, "insecure_endpoint");
    EXPECT_TRUE(parse_subscription(body("http://127.0.0.1:9000/push"), true).has_value());
    EXPECT_TRUE(parse_subscription(body("http://127.8.9.10/push"), true).has_value());
    EXPECT_TRUE(parse_subscription(body("http://[::1]:9000/push"), true).has_value());
    EXPECT_EQ(refusal(body("http://localhost:9000/push"), true).code, "insecure_endpoint");
    EXPECT_EQ(refusal(body("http://10.0.0.1/push"), true).code, "insecure_endpoint");
    EXPECT_EQ(refusal(body("http://push.example.com/push"), true).code, "insecure_endpoint");
}

TEST(PushSubscription, RefusesEndpointsThatAreNotHttpsUrls) {
    for (char const* bad :
         {"", "fcm.googleapis.com/fcm/send/x", "/relative", "ftp://push.example.com/x", "https:///no-host",
          "https://user:pw@push.example.com/x", "https://push.example.com/x#fragment", "https://push.example.com:0/x",
          "https://push.example.com:65536/x", "https://push.example.com:/x", "https://push%2eexample.com/x",
          "https://[v7.future]/x", "https://a b.com/x", "https://push.example.com/<x>",
          "https://push.example.com:99999/x", "https://push.example.com:065536/x", "https://[::1]x/y",
          "https://[::1]00u9/:0p"}) {
        auto const e = refusal(body(bad));
        EXPECT_EQ(e.code, "invalid_subscription") << bad;
        EXPECT_EQ(e.status, 400);
    }
    EXPECT_EQ(refusal(body("https://push.example.com/" + std::string(max_endpoint_size, 'a'))).code,
              "invalid_subscription");
}

TEST(PushSubscription, ErrorsNeverRepeatTheEndpoint) {
    std::string const secret_path = "/fcm/send/dQ7xSECRETc0ffee";
    for (std::string const& bad : {"http://push.example.com" + secret_path, "https://u@push.example.com" + secret_path,
                                   "https://push.example.com" + secret_path + "#x"}) {
        auto const e = refusal(body(bad));
        EXPECT_EQ(e.detail.find("SECRET"), std::string::npos) << e.detail;
    }
}

TEST(PushSubscription, RefusesKeysThatAreNotKeys) {
    std::string point = *vigil::base64url_decode(p256dh);
    point[10] ^= 1;  // no longer on the curve
    std::string compressed = *vigil::base64url_decode(p256dh);
    compressed[0] = 0x03;
    for (std::string const& key :
         {std::string{}, std::string{"AAAA"}, vigil::base64url_encode(point), vigil::base64url_encode(compressed),
          std::string{p256dh}.substr(1), std::string{p256dh} + "AA",
          vigil::base64_encode(*vigil::base64url_decode(p256dh)), std::string(2000, 'A')}) {
        auto const e = refusal(body(fcm, key));
        EXPECT_EQ(e.code, "invalid_subscription") << key;
        EXPECT_NE(e.detail.find("p256dh"), std::string::npos);
    }
    for (std::string const& secret : {std::string{}, std::string{auth}.substr(0, 20), std::string{auth} + "AAAA",
                                      std::string{"BTBZMqHH6r4Tts7J/aSIgg"}}) {
        auto const e = refusal(body(fcm, p256dh, secret));
        EXPECT_EQ(e.code, "invalid_subscription") << secret;
        EXPECT_NE(e.detail.find("auth"), std::string::npos);
    }
}

TEST(PushSubscription, RefusesOtherShapes) {
    EXPECT_EQ(refusal("not json").code, "invalid_json");
    EXPECT_EQ(refusal("").code, "invalid_json");
    EXPECT_EQ(refusal("[]").code, "invalid_subscription");
    EXPECT_EQ(refusal(R"({"endpoint":1})").code, "invalid_subscription");
    EXPECT_EQ(refusal(R"({"endpoint":"https://a.example/x"})").code, "invalid_subscription");
    EXPECT_EQ(refusal(R"({"endpoint":"https://a.example/x","keys":[]})").code, "invalid_subscription");
    EXPECT_EQ(refusal(R"({"endpoint":"https://a.example/x","keys":{"p256dh":1,"auth":2}})").code,
              "invalid_subscription");
    EXPECT_EQ(refusal(body(fcm, p256dh, auth, "-1")).code, "invalid_subscription");
    EXPECT_EQ(refusal(body(fcm, p256dh, auth, "\"soon\"")).code, "invalid_subscription");
    auto const big = refusal(body(fcm) + std::string(max_subscription_body, ' '));
    EXPECT_EQ(big.status, 413);
    EXPECT_EQ(big.code, "payload_too_large");
}

TEST(PushEndpoint, ParsesWhereToConnectAndTheVapidAudience) {
    auto const e = parse_endpoint(fcm, false).value();
    EXPECT_TRUE(e.tls);
    EXPECT_EQ(e.host, "fcm.googleapis.com");
    EXPECT_FALSE(e.host_is_ip);
    EXPECT_EQ(e.port, 443);
    EXPECT_EQ(e.target, "/fcm/send/dQ7xSECRETc0ffee:APA91bH");
    EXPECT_EQ(e.origin, "https://fcm.googleapis.com");

    auto const p = parse_endpoint("https://Push.Example.COM:8443/a/b?c=d", false).value();
    EXPECT_EQ(p.host, "push.example.com");
    EXPECT_EQ(p.port, 8443);
    EXPECT_EQ(p.target, "/a/b?c=d");
    EXPECT_EQ(p.origin, "https://push.example.com:8443");

    EXPECT_EQ(parse_endpoint("https://push.example.com:443", false).value().origin, "https://push.example.com");
    EXPECT_EQ(parse_endpoint("https://push.example.com:443", false).value().target, "/");

    auto const v6 = parse_endpoint("http://[::1]:8080/p", true).value();
    EXPECT_FALSE(v6.tls);
    EXPECT_TRUE(v6.host_is_ip);
    EXPECT_EQ(v6.host, "::1");
    EXPECT_EQ(v6.origin, "http://[::1]:8080");
    EXPECT_EQ(parse_endpoint("http://127.0.0.1:80/p", true).value().origin, "http://127.0.0.1");
}

TEST(Base64url, RoundTripsEveryLength) {
    std::mt19937 rng{7};
    for (std::size_t n = 0; n < 70; ++n) {
        std::string bytes(n, '\0');
        for (char& c : bytes) c = char(rng());
        auto const text = vigil::base64url_encode(bytes);
        EXPECT_EQ(text.find_first_of("+/="), std::string::npos);
        EXPECT_EQ(text.size(), (n * 4 + 2) / 3);
        EXPECT_EQ(vigil::base64url_decode(text), bytes) << n;
    }
    EXPECT_EQ(vigil::base64url_decode("-_8"), std::string("\xfb\xff", 2));
    EXPECT_EQ(vigil::base64url_decode("-_8="), std::string("\xfb\xff", 2));
}

TEST(Base64url, RefusesWhatIsNotCanonicalBase64url) {
    for (std::string_view bad :
         {"A", "AAAAA", "+/8", "ab+c", "a=bc", "AB=", "AB===", "AAB=", "AB=A", "AB C", "AB\n", "AF", "AAB", "===="}) {
        EXPECT_FALSE(vigil::base64url_decode(bad)) << bad;
    }
    EXPECT_TRUE(vigil::base64url_decode("AA"));
    EXPECT_TRUE(vigil::base64url_decode("AAA"));
    EXPECT_TRUE(vigil::base64url_decode("AAE"));
    EXPECT_TRUE(vigil::base64url_decode(""));
}

}  // namespace
