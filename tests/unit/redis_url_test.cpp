#include "bus/redis_url.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

using namespace vigil;

TEST(RedisUrl, HostPortAndDatabase) {
    auto const e = parse_redis_url("redis://cache.internal:6380/3");
    EXPECT_EQ(e.host, "cache.internal");
    EXPECT_EQ(e.port, 6380);
    EXPECT_EQ(e.db, 3);
    EXPECT_TRUE(e.password.empty());
    EXPECT_TRUE(e.username.empty());
    EXPECT_EQ(e.describe(), "cache.internal:6380/3");
}

TEST(RedisUrl, DefaultsToPort6379AndDatabase0) {
    auto const e = parse_redis_url("redis://10.0.0.7");
    EXPECT_EQ(e.host, "10.0.0.7");
    EXPECT_EQ(e.port, 6379);
    EXPECT_EQ(e.db, 0);
    EXPECT_EQ(parse_redis_url("redis://10.0.0.7/").db, 0);
}

TEST(RedisUrl, PasswordAloneOrWithAUser) {
    auto const e = parse_redis_url("redis://:s%40cret@localhost:6379/1");
    EXPECT_EQ(e.password, "s@cret");  // percent-decoded
    EXPECT_TRUE(e.username.empty());
    EXPECT_EQ(e.db, 1);
    auto const acl = parse_redis_url("redis://vigil:pw@localhost");
    EXPECT_EQ(acl.username, "vigil");
    EXPECT_EQ(acl.password, "pw");
}

TEST(RedisUrl, BracketedIpv6) {
    auto const e = parse_redis_url("redis://[::1]:7000");
    EXPECT_EQ(e.host, "::1");
    EXPECT_EQ(e.port, 7000);
    EXPECT_EQ(e.describe(), "[::1]:7000/0");
}

TEST(RedisUrl, RefusesWhatItCannotServe) {
    for (char const* bad :
         {"", "localhost:6379", "http://localhost", "rediss://localhost", "redis://", "redis://localhost:0",
          "redis://localhost:65536", "redis://localhost:port", "redis://localhost/x", "redis://localhost/-1",
          "redis://localhost/1/2", "redis://localhost?db=1", "redis://user@localhost", "redis://localhost#x"})
        EXPECT_THROW(parse_redis_url(bad), std::invalid_argument) << bad;
}

TEST(RedisUrl, MessagesNeverRepeatThePassword) {
    try {
        parse_redis_url("redis://:hunter2@localhost/notanumber");
        FAIL();
    } catch (std::invalid_argument const& e) {
        EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos);
    }
    EXPECT_EQ(parse_redis_url("redis://:hunter2@localhost").describe().find("hunter2"), std::string::npos);
}
