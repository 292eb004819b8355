#include "proto/messages.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

using namespace vigil;
using proto::message_error;

TEST(ParseClientMessage, KnowsTheFourTypes) {
    EXPECT_EQ(proto::parse_client_message(R"({"type":"ping"})")->type, proto::client_message_type::ping);
    EXPECT_EQ(proto::parse_client_message(R"({"type":"pong","extra":1})")->type, proto::client_message_type::pong);
    auto const ack = proto::parse_client_message(R"({"type":"ack","alert_id":"a-1"})");
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->alert_id, "a-1");
    auto const refresh = proto::parse_client_message(R"({"type":"refresh","token":"t"})");
    ASSERT_TRUE(refresh);
    EXPECT_EQ(refresh->token, "t");
}

TEST(ParseClientMessage, NamesWhatIsWrong) {
    auto err = [](std::string_view s) { return proto::parse_client_message(s).error(); };
    EXPECT_EQ(err(""), message_error::invalid_json);
    EXPECT_EQ(err("{"), message_error::invalid_json);
    EXPECT_EQ(err("\xff\xfe"), message_error::invalid_json);
    EXPECT_EQ(err("[]"), message_error::not_an_object);
    EXPECT_EQ(err("42"), message_error::not_an_object);
    EXPECT_EQ(err(R"({"type":7})"), message_error::missing_type);
    EXPECT_EQ(err(R"({"type":"nope"})"), message_error::unknown_type);
    EXPECT_EQ(err(R"({"type":"ack","alert_id":5})"), message_error::invalid_ack);
    EXPECT_EQ(err(R"({"type":"ack","alert_id":""})"), message_error::invalid_ack);
    EXPECT_EQ(err(R"({"type":"refresh"})"), message_error::invalid_refresh);
    // Deep nesting is refused by the parser's depth limit, not by the stack.
    EXPECT_EQ(err(std::string(100000, '[')), message_error::invalid_json);
}

TEST(ServerMessages, AreValidJsonWithEscapedText) {
    stored_alert a;
    a.alert_id = "0190a1b2-0000-7000-8000-000000000001";
    a.seq = 7;
    a.user_id = "u\"1";
    a.stream_id = "cam\n2";
    a.timestamp = "2024-12-03T10:30:00Z";
    a.detection_json = R"({"type":"fire","confidence":0.9})";
    a.frame_content_type = "image/jpeg";
    auto const v = boost::json::parse(proto::anomaly_message(a, true, "3f2a9c01d4e5b6a7")).as_object();
    EXPECT_EQ(v.at("type"), "anomaly_detected");
    EXPECT_EQ(v.at("seq"), 7);
    EXPECT_EQ(v.at("epoch"), "3f2a9c01d4e5b6a7");
    EXPECT_EQ(v.at("user_id"), "u\"1");
    EXPECT_EQ(v.at("stream_id"), "cam\n2");
    EXPECT_EQ(v.at("detection").at("type"), "fire");
    EXPECT_EQ(v.at("frame").at("url"), "/api/v1/alerts/0190a1b2-0000-7000-8000-000000000001/frame");
    EXPECT_EQ(v.at("replayed"), true);

    a.frame_bytes = std::string{"\xFF\xD8\xFF\x00", 4};
    auto const inline_frame = boost::json::parse(proto::anomaly_message(a, false, "e")).as_object();
    EXPECT_EQ(inline_frame.at("frame").at("data"), "/9j/AA==");
    EXPECT_FALSE(inline_frame.contains("replayed"));

    auto const e = boost::json::parse(proto::error_message("unknown_alert", "no \"such\"", "id-1")).as_object();
    EXPECT_EQ(e.at("type"), "error");
    EXPECT_EQ(e.at("alert_id"), "id-1");
    EXPECT_EQ(boost::json::parse(proto::ack_ok_message("x")).at("type"), "ack_ok");
}
