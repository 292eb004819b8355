#include "common/json_text.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

using namespace vigil;

TEST(JsonText, MemberIsTheValueAsWritten) {
    std::string_view const text = R"( { "a" : 1, "detection" : {"confidence":0.93,"n":[1e2, "}\"]"]} , "z":null } )";
    auto const d = json_text::member(text, "detection");
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, R"({"confidence":0.93,"n":[1e2, "}\"]"]})");
    EXPECT_EQ(json_text::member(text, "z"), "null");
    EXPECT_EQ(json_text::member(text, "a"), "1");
    EXPECT_FALSE(json_text::member(text, "missing"));
    EXPECT_FALSE(json_text::member("[1,2]", "a"));
}

TEST(JsonText, RepeatedKeyGivesTheLastValueAsTheParserKeepsIt) {
    std::string_view const text = R"({"detection":{"first":1},"detection":{"second":2.50}})";
    EXPECT_EQ(json_text::member(text, "detection"), R"({"second":2.50})");
    auto const parsed = boost::json::parse(text);
    EXPECT_EQ(parsed.at("detection").as_object().count("second"), 1u);
}

TEST(JsonText, KeysAreComparedDecoded) {
    EXPECT_EQ(json_text::member(R"({"d\u0065tection":{"x":1}})", "detection"), R"({"x":1})");
    EXPECT_EQ(json_text::member(R"({"a\"b":true})", "a\"b"), "true");
}

TEST(JsonText, ElementsAsWritten) {
    auto const e = json_text::elements(R"([ {"a":0.10} , "x,]" ,[1, 2],-0.0e-0 ])");
    ASSERT_EQ(e.size(), 4u);
    EXPECT_EQ(e[0], R"({"a":0.10})");
    EXPECT_EQ(e[1], R"("x,]")");
    EXPECT_EQ(e[2], "[1, 2]");
    EXPECT_EQ(e[3], "-0.0e-0");
    EXPECT_TRUE(json_text::elements("[]").empty());
    EXPECT_TRUE(json_text::elements(R"({"a":1})").empty());
}

TEST(JsonText, CompactDropsOnlyTheWhitespaceBetweenTokens) {
    EXPECT_EQ(json_text::compact(
                  "{ \"type\" : \"a b\\\" c\",\n\t\"confidence\": 0.930 ,\r\n \"big\": 123456789012345678901234 }"),
              R"({"type":"a b\" c","confidence":0.930,"big":123456789012345678901234})");
}

TEST(JsonText, SerializeWritesDoublesInTheirShortestForm) {
    boost::json::value const v = {{"confidence", 0.93}, {"n", 3}, {"list", {1.5, "s", nullptr, true}}, {"t", "q\""}};
    auto const text = json_text::serialize(v);
    EXPECT_EQ(text, R"({"confidence":0.93,"n":3,"list":[1.5,"s",null,true],"t":"q\""})");
    EXPECT_EQ(boost::json::parse(text), v);
}
