#include "common/clock.hpp"
#include "common/base64.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

using namespace vigil;

TEST(Clock, FormatsAndParsesIso8601) {
    EXPECT_EQ(iso8601(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(iso8601(1733221800123), "2024-12-03T10:30:00.123Z");
    EXPECT_EQ(parse_iso8601("2024-12-03T10:30:00"), 1733221800000);
    EXPECT_EQ(parse_iso8601("2024-12-03T10:30:00.123Z"), 1733221800123);
    EXPECT_EQ(parse_iso8601("2024-12-03T11:30:00+01:00"), 1733221800000);
    EXPECT_FALSE(parse_iso8601("2024-02-30T10:30:00"));
    EXPECT_FALSE(parse_iso8601("2024-12-03"));
    EXPECT_FALSE(parse_iso8601("2024-12-03T25:00:00"));
    EXPECT_FALSE(parse_iso8601("2024-12-03T10:30:00Zjunk"));
}

TEST(Ids, AlertIdsAreUuidV7InCreationOrder) {
    std::string previous;
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) {
        auto const id = new_alert_id();
        ASSERT_EQ(id.size(), 36u);
        EXPECT_EQ(id[14], '7');
        EXPECT_LT(previous, id);
        previous = id;
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 10000u);
}

TEST(Log, RedactsCredentialsInTargets) {
    EXPECT_EQ(log::redact_target("/ws/alerts/u?token=abc.def.ghi&since=4"), "/ws/alerts/u?token=REDACTED&since=4");
    EXPECT_EQ(log::redact_target("/x?a=1&api_key=k"), "/x?a=1&api_key=REDACTED");
    EXPECT_EQ(log::redact_target("/health"), "/health");
}

TEST(Log, RedactsPercentEncodedCredentialKeysAndUnparseableQueries) {
    EXPECT_EQ(log::redact_target("/ws/alerts/u?%74oken=abc"), "/ws/alerts/u?%74oken=REDACTED");
    EXPECT_EQ(log::redact_target("/x?a=%zz&token=abc"), "/x?REDACTED");
}

TEST(Base64, RoundTripsAndIsStrict) {
    for (std::string const& s :
         std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)})
        EXPECT_EQ(base64_decode(base64_encode(s)), s);
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_FALSE(base64_decode("Zm9"));
    EXPECT_FALSE(base64_decode("Zm9v YmFy"));
    EXPECT_FALSE(base64_decode("Zm9v\nYmFy"));
    EXPECT_FALSE(base64_decode("Z==="));
    EXPECT_FALSE(base64_decode("Zm-v"));
}
