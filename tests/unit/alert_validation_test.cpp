#include "alerts/alert_validation.hpp"

#include <gtest/gtest.h>

using namespace vigil;

namespace {
std::string const now = "2026-01-01T00:00:00.000Z";

refusal refused(std::string_view body, alert_limits limits = {}) {
    auto r = parse_publish_body(body, limits, now);
    EXPECT_FALSE(r) << body;
    return r ? refusal{} : r.error();
}
}  // namespace

TEST(AlertValidation, AcceptsOneAlertOrAList) {
    auto one = parse_publish_body(R"({"user_id":"u1","stream_id":"s","detection":{"a":1}})", {}, now);
    ASSERT_TRUE(one.has_value());
    auto const& r = (*one);
    EXPECT_FALSE(r.batch);
    ASSERT_EQ(r.alerts.size(), 1u);
    EXPECT_EQ(r.alerts[0].timestamp, now);
    EXPECT_EQ(r.alerts[0].detection_json, R"({"a":1})");

    auto list = parse_publish_body(
        R"([{"user_id":"u1","stream_id":"12","detection":{},"timestamp":"2024-12-03T10:30:00","idempotency_key":"k"}])",
        {}, now);
    ASSERT_TRUE(list.has_value());
    auto const& l = (*list);
    EXPECT_TRUE(l.batch);
    EXPECT_EQ(l.alerts[0].stream_id, "12");
    EXPECT_EQ(l.alerts[0].timestamp, "2024-12-03T10:30:00");
    EXPECT_EQ(l.alerts[0].idempotency_key, "k");
}

TEST(AlertValidation, RefusesWithAReason) {
    EXPECT_EQ(refused("{").code, "invalid_json");
    EXPECT_EQ(refused("[]").detail, "empty batch");
    EXPECT_EQ(refused(R"({"stream_id":"s","detection":{}})").code, "invalid_alert");
    EXPECT_EQ(refused(R"({"user_id":"a b","stream_id":"s","detection":{}})").code, "invalid_alert");
    EXPECT_EQ(refused(R"({"user_id":"u","detection":{}})").code, "invalid_alert");
    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":"s","detection":[1]})").code, "invalid_alert");
    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":"s","detection":{},"timestamp":"yesterday"})").code,
              "invalid_alert");
    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":"s","detection":{},"frame":"***"})").code, "invalid_alert");
    // A NUL or another control character in a name would be cut short by C APIs and PostgreSQL.
    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":"cam\u0000x","detection":{}})").detail,
              "stream_id must not contain control characters");
    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":"s","detection":{},"idempotency_key":"k\n"})").detail,
              "idempotency_key must not contain control characters");
    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":"s","detection":{},"frame":"aGVsbG8="})").status, 415);
    // PNG bytes declared as JPEG
    EXPECT_EQ(
        refused(
            R"({"user_id":"u","stream_id":"s","detection":{},"frame":"iVBORw0KGgo=","frame_content_type":"image/jpeg"})")
            .status,
        415);
    alert_limits small;
    small.max_frame_bytes = 4;
    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":"s","detection":{},"frame":"iVBORw0KGgo="})", small).status, 413);
    small.max_batch = 1;
    auto const batch = refused(
        R"([{"user_id":"u","stream_id":"s","detection":{}},{"user_id":"u","stream_id":"s","detection":{}}])", small);
    EXPECT_EQ(batch.status, 413);
    auto const second_bad = refused(R"([{"user_id":"u","stream_id":"s","detection":{}},{"user_id":"u"}])");
    EXPECT_EQ(second_bad.index, 1u);
}

TEST(AlertValidation, SniffsImages) {
    EXPECT_EQ(sniff_image_type(std::string{"\xFF\xD8\xFF\xE0", 4}), "image/jpeg");
    EXPECT_EQ(sniff_image_type(std::string{"\x89PNG\r\n\x1A\n", 8}), "image/png");
    EXPECT_EQ(sniff_image_type("GIF89a"), "");
}

TEST(AlertValidation, UserIds) {
    EXPECT_TRUE(valid_user_id("user_123"));
    EXPECT_TRUE(valid_user_id("auth0|5f7c8ec7c33c6c004bbafe82"));
    EXPECT_TRUE(valid_user_id("jane.doe@example.com"));
    EXPECT_FALSE(valid_user_id(""));
    EXPECT_FALSE(valid_user_id(std::string(129, 'a')));
    EXPECT_FALSE(valid_user_id("a/b"));
    EXPECT_FALSE(valid_user_id("a b"));
    EXPECT_FALSE(valid_user_id("a\nb"));
}

TEST(AlertValidation, FramesMustBeStrictBase64) {
    // Unpadded input once made the decoder write past its buffer (fuzzer find).
    EXPECT_EQ(refused(R"({"user_id":"u1","stream_id":"7","detection":{},"frame":"iVUhEw0KGgoAAA"})").code,
              "invalid_alert");
    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":"s","detection":{},"frame":"iVBO Rw0K"})").code, "invalid_alert");
    auto ok = parse_publish_body(R"({"user_id":"u","stream_id":"s","detection":{},"frame":"iVBORw0KGgo="})", {}, now);
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ((*ok).alerts[0].frame->bytes, std::string("\x89PNG\r\n\x1A\n", 8));
}

TEST(AlertValidation, KeepsTheDetectionAsPublished) {
    // Each alert of a batch keeps its own text; only whitespace between tokens goes.
    auto r = parse_publish_body(
        R"([{"user_id":"u","stream_id":"s","detection":{ "confidence" : 0.93, "big": 123456789012345678901234,
             "t":"a  b", "e":1E+2 }},
            {"detection":{"confidence":1.0},"user_id":"u","stream_id":"s"}])",
        {}, now);
    ASSERT_TRUE(r.has_value());
    auto const& alerts = (*r).alerts;
    ASSERT_EQ(alerts.size(), 2u);
    EXPECT_EQ(alerts[0].detection_json, R"({"confidence":0.93,"big":123456789012345678901234,"t":"a  b","e":1E+2})");
    EXPECT_EQ(alerts[1].detection_json, R"({"confidence":1.0})");
}

TEST(AlertValidation, StreamIdMustBeAString) {
    auto const e = refused(R"({"user_id":"u","stream_id":42,"detection":{}})");
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.code, "invalid_alert");
    EXPECT_NE(e.detail.find("stream_id"), std::string::npos) << e.detail;
    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":1.5,"detection":{}})").code, "invalid_alert");
}

TEST(AlertValidation, DetectionLimitCountsTheStoredText) {
    alert_limits small;
    small.max_detection_bytes = 16;
    // 16 bytes once compacted, whatever the whitespace around them.
    auto ok = parse_publish_body(R"({"user_id":"u","stream_id":"s","detection":{ "abcdefghij" : 1 }})", small, now);
    ASSERT_TRUE(ok.has_value());
    auto const big = refused(R"({"user_id":"u","stream_id":"s","detection":{"abcdefghijk":1}})", small);
    EXPECT_EQ(big.status, 413);
    EXPECT_EQ(big.code, "detection_too_large");
}

// check_new_alert is the one check for both ways in; the embedding API calls
// it directly with a new_alert (tests/integration/embedding_test.cpp).
TEST(AlertValidation, CheckNewAlertEnforcesEveryLimit) {
    auto const png = std::string{"\x89PNG\r\n\x1A\n", 8} + "rest";
    auto fresh = [&] { return new_alert{"u", "s", R"({"a":1})", annotated_frame{"", png}, now, "key"}; };
    alert_limits limits;
    limits.max_frame_bytes = 64;
    limits.max_detection_bytes = 32;
    {
        auto a = fresh();
        EXPECT_TRUE(check_new_alert(a, limits));
        EXPECT_EQ(a.frame->content_type, "image/png");  // sniffed
    }
    auto refusal_of = [&](auto change) {
        auto a = fresh();
        change(a);
        auto e = check_new_alert(a, limits);
        return e ? refusal{0, "accepted", ""} : e.error();
    };
    EXPECT_EQ(refusal_of([](new_alert& a) { a.user_id = "a b"; }).code, "invalid_alert");
    EXPECT_EQ(refusal_of([](new_alert& a) { a.stream_id = ""; }).code, "invalid_alert");
    EXPECT_EQ(refusal_of([](new_alert& a) { a.stream_id = std::string(257, 's'); }).code, "invalid_alert");
    EXPECT_EQ(refusal_of([](new_alert& a) { a.detection_json = "[1]"; }).code, "invalid_alert");
    EXPECT_EQ(refusal_of([](new_alert& a) { a.detection_json = R"({"x":")" + std::string(40, 'x') + R"("})"; }).code,
              "detection_too_large");
    EXPECT_EQ(refusal_of([](new_alert& a) { a.timestamp = "soon"; }).code, "invalid_alert");
    EXPECT_EQ(refusal_of([](new_alert& a) { a.idempotency_key = std::string(257, 'k'); }).code, "invalid_alert");
    EXPECT_EQ(refusal_of([](new_alert& a) { a.idempotency_key = std::string(256, 'k'); }).code, "accepted");
    EXPECT_EQ(refusal_of([&](new_alert& a) { a.frame->bytes = png + std::string(64, 'x'); }).code, "frame_too_large");
    EXPECT_EQ(refusal_of([](new_alert& a) { a.frame->bytes = "GIF89a"; }).code, "unsupported_media_type");
    EXPECT_EQ(refusal_of([](new_alert& a) { a.frame->content_type = "image/jpeg"; }).code, "unsupported_media_type");
}

TEST(AlertValidation, SeverityDefaultsToMediumAndIsOneOfFour) {
    auto const parsed = [](std::string_view body) {
        auto r = parse_publish_body(body, {}, now);
        EXPECT_TRUE(r.has_value()) << body;
        return r ? r->alerts.at(0) : new_alert{};
    };
    EXPECT_EQ(parsed(R"({"user_id":"u","stream_id":"s","detection":{}})").severity, "medium");
    for (std::string s : {"critical", "high", "medium", "low"})
        EXPECT_EQ(parsed(R"({"user_id":"u","stream_id":"s","detection":{},"severity":")" + s + R"("})").severity, s);
    for (std::string_view bad : {R"("CRITICAL")", R"("urgent")", R"("")", "3", "true"}) {
        auto const e = refused(std::string{R"({"user_id":"u","stream_id":"s","detection":{},"severity":)"} +
                               std::string{bad} + "}");
        EXPECT_EQ(e.status, 400);
        EXPECT_EQ(e.code, "invalid_severity") << bad;
    }
    new_alert a;
    a.user_id = "u";
    a.stream_id = "s";
    a.detection_json = "{}";
    a.timestamp = now;
    a.severity = "severe";
    auto const e = check_new_alert(a, {});
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, "invalid_severity");
}

TEST(AlertValidation, GroupKeyDefaultsToStreamAndDetectionType) {
    auto const group = [](std::string_view body) {
        auto r = parse_publish_body(body, {}, now);
        EXPECT_TRUE(r.has_value()) << body;
        return r ? r->alerts.at(0).group_key : std::string{};
    };
    EXPECT_EQ(group(R"({"user_id":"u","stream_id":"cam-3","detection":{"type":"person","label":"x"}})"),
              "cam-3/person");
    EXPECT_EQ(group(R"({"user_id":"u","stream_id":"cam-3","detection":{"label":"car"}})"), "cam-3/car");
    EXPECT_EQ(group(R"({"user_id":"u","stream_id":"cam-3","detection":{"class":"dog","type":7}})"), "cam-3/dog");
    EXPECT_EQ(group(R"({"user_id":"u","stream_id":"cam-3","detection":{"confidence":0.9}})"), "cam-3");
    EXPECT_EQ(group(R"({"user_id":"u","stream_id":"cam-3","detection":{},"group_key":"door"})"), "door");
    // A long stream id still gives a key within the bound.
    std::string const long_stream(200, 's');
    EXPECT_EQ(group(R"({"user_id":"u","stream_id":")" + long_stream + R"(","detection":{}})").size(),
              max_group_key_bytes);

    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":"s","detection":{},"group_key":""})").code, "invalid_group_key");
    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":"s","detection":{},"group_key":5})").code, "invalid_group_key");
    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":"s","detection":{},"group_key":"a\u0001b"})").code,
              "invalid_group_key");
    EXPECT_EQ(
        refused(R"({"user_id":"u","stream_id":"s","detection":{},"group_key":")" + std::string(129, 'g') + R"("})")
            .code,
        "invalid_group_key");

    // The embedding API's alerts get the same default.
    new_alert a;
    a.user_id = "u";
    a.stream_id = "cam-1";
    a.detection_json = R"({"label":"person"})";
    a.timestamp = now;
    EXPECT_TRUE(check_new_alert(a, {}));
    EXPECT_EQ(a.group_key, "cam-1/person");
}
