#include "alerts/alert_validation.hpp"

#include <gtest/gtest.h>

using namespace vigil;

namespace {
std::string const now = "2026-01-01T00:00:00.000Z";

validation_error refused(std::string_view body, alert_limits limits = {}) {
    auto r = parse_publish_body(body, limits, now);
    EXPECT_TRUE(std::holds_alternative<validation_error>(r)) << body;
    return std::holds_alternative<validation_error>(r) ? std::get<validation_error>(r) : validation_error{};
}
}  // namespace

TEST(AlertValidation, AcceptsOneAlertOrAList) {
    auto one = parse_publish_body(R"({"user_id":"u1","stream_id":"s","detection":{"a":1}})", {}, now);
    ASSERT_TRUE(std::holds_alternative<publish_request>(one));
    auto const& r = std::get<publish_request>(one);
    EXPECT_FALSE(r.batch);
    ASSERT_EQ(r.alerts.size(), 1u);
    EXPECT_EQ(r.alerts[0].timestamp, now);
    EXPECT_EQ(r.alerts[0].detection_json, R"({"a":1})");

    auto list = parse_publish_body(
        R"([{"user_id":"u1","stream_id":12,"detection":{},"timestamp":"2024-12-03T10:30:00","idempotency_key":"k"}])",
        {}, now);
    ASSERT_TRUE(std::holds_alternative<publish_request>(list));
    auto const& l = std::get<publish_request>(list);
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
    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":"s","detection":{},"frame":"aGVsbG8="})").status, 415);
    // PNG bytes declared as JPEG
    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":"s","detection":{},"frame":"iVBORw0KGgo=","frame_content_type":"image/jpeg"})")
                  .status,
              415);
    alert_limits small;
    small.max_frame_bytes = 4;
    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":"s","detection":{},"frame":"iVBORw0KGgo="})", small).status, 413);
    small.max_batch = 1;
    auto const batch = refused(R"([{"user_id":"u","stream_id":"s","detection":{}},{"user_id":"u","stream_id":"s","detection":{}}])", small);
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
    EXPECT_EQ(refused(R"({"user_id":"u1","stream_id":7,"detection":{},"frame":"iVUhEw0KGgoAAA"})").code, "invalid_alert");
    EXPECT_EQ(refused(R"({"user_id":"u","stream_id":"s","detection":{},"frame":"iVBO Rw0K"})").code, "invalid_alert");
    auto ok = parse_publish_body(R"({"user_id":"u","stream_id":"s","detection":{},"frame":"iVBORw0KGgo="})", {}, now);
    ASSERT_TRUE(std::holds_alternative<publish_request>(ok));
    EXPECT_EQ(std::get<publish_request>(ok).alerts[0].frame->bytes, std::string("\x89PNG\r\n\x1A\n", 8));
}
