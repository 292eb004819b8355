// The push_state contract (store/push_state.hpp), for every engine: the
// cases run on the AlertStoreContract instantiations (each engine is both).
#include "contract/alert_store_contract.hpp"
#include "store/push_state.hpp"

#include <algorithm>
#include <atomic>
#include <thread>

using namespace vigil;
using namespace vigil::test;

namespace {

push_state& push_of(alert_store& s) {
    auto* p = dynamic_cast<push_state*>(&s);
    if (!p) throw std::runtime_error("this engine keeps no push state");
    return *p;
}

push_subscription_record subscription(std::string endpoint, std::string user, char key, std::int64_t at) {
    return {std::move(endpoint), std::move(user), std::string(65, key), std::string(16, key), at};
}

std::vector<std::string> endpoints_of(std::vector<push_subscription_record> const& v) {
    std::vector<std::string> out;
    for (auto const& s : v) out.push_back(s.endpoint);
    return out;
}

}  // namespace

TEST_P(AlertStoreContract, SubscriptionsAreKeptPerUserByEndpoint) {
    auto s = make();
    auto& p = push_of(*s);
    EXPECT_TRUE(p.subscriptions("alice").empty());
    EXPECT_TRUE(p.save_subscription(subscription("https://push.example/a1", "alice", 'a', 1000)));
    EXPECT_TRUE(p.save_subscription(subscription("https://push.example/a2", "alice", 'b', 2000)));
    EXPECT_TRUE(p.save_subscription(subscription("https://push.example/b1", "bob", 'c', 3000)));
    EXPECT_EQ(endpoints_of(p.subscriptions("alice")),
              (std::vector<std::string>{"https://push.example/a1", "https://push.example/a2"}));

    // The same endpoint again: its keys are replaced, not a second device.
    EXPECT_FALSE(p.save_subscription(subscription("https://push.example/a1", "alice", 'z', 4000)));
    auto const mine = p.subscriptions("alice");
    ASSERT_EQ(mine.size(), 2u);
    EXPECT_EQ(mine[0].endpoint, "https://push.example/a1");
    EXPECT_EQ(mine[0].p256dh, std::string(65, 'z'));
    EXPECT_EQ(mine[0].auth, std::string(16, 'z'));
    EXPECT_EQ(mine[0].user_id, "alice");

    // A browser that another user subscribes moves to that user.
    EXPECT_TRUE(p.save_subscription(subscription("https://push.example/a2", "bob", 'd', 5000)));
    EXPECT_EQ(endpoints_of(p.subscriptions("alice")), (std::vector<std::string>{"https://push.example/a1"}));
    EXPECT_EQ(p.subscriptions("bob").size(), 2u);

    // Deleting: only one's own.
    EXPECT_FALSE(p.delete_subscription("alice", "https://push.example/b1"));
    EXPECT_TRUE(p.delete_subscription("bob", "https://push.example/b1"));
    EXPECT_FALSE(p.delete_subscription("bob", "https://push.example/b1"));
    EXPECT_EQ(endpoints_of(p.subscriptions("bob")), (std::vector<std::string>{"https://push.example/a2"}));

    // Gone, whoever had it.
    EXPECT_TRUE(p.forget_endpoint("https://push.example/a1"));
    EXPECT_FALSE(p.forget_endpoint("https://push.example/a1"));
    EXPECT_TRUE(p.subscriptions("alice").empty());

    // Binary keys survive as they are.
    std::string key(65, '\0');
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<char>(i * 37);
    auto raw = subscription("https://push.example/raw", "carol", 'x', 6000);
    raw.p256dh = key;
    p.save_subscription(raw);
    ASSERT_EQ(p.subscriptions("carol").size(), 1u);
    EXPECT_EQ(p.subscriptions("carol")[0].p256dh, key);
    EXPECT_EQ(p.subscriptions("carol")[0].created_ms, 6000);
}

TEST_P(AlertStoreContract, SnoozesEndByTimeOrByDelete) {
    auto s = make();
    auto& p = push_of(*s);
    p.snooze("alice", "cam-1", 10'000, 1000);
    p.snooze("alice", "cam-2", 20'000, 1000);
    p.snooze("bob", "cam-1", 30'000, 1000);
    EXPECT_TRUE(p.any_rules(29'999));  // bob's snooze is in force
    auto const now = p.snoozes("alice", 5000);
    ASSERT_EQ(now.size(), 2u);
    EXPECT_EQ(now[0].stream_id, "cam-1");
    EXPECT_EQ(now[0].until_ms, 10'000);
    EXPECT_EQ(now[1].stream_id, "cam-2");
    // Over at until_ms.
    auto const later = p.snoozes("alice", 10'000);
    ASSERT_EQ(later.size(), 1u);
    EXPECT_EQ(later[0].stream_id, "cam-2");
    // A new snooze of the same stream replaces the old one (also to shorten it).
    p.snooze("alice", "cam-2", 15'000, 10'000);
    EXPECT_EQ(p.snoozes("alice", 10'000).at(0).until_ms, 15'000);
    p.unsnooze("alice", "cam-2");
    p.unsnooze("alice", "cam-9");  // none: nothing happens
    EXPECT_TRUE(p.snoozes("alice", 10'000).empty());
    // A snooze that is over is forgotten when the user sets another: asked
    // for a time before it ended, it is gone.
    p.snooze("alice", "cam-3", 40'000, 12'000);
    p.snooze("alice", "cam-4", 45'000, 35'000);
    auto const kept = p.snoozes("alice", 0);
    ASSERT_EQ(kept.size(), 2u);
    EXPECT_EQ(kept[0].stream_id, "cam-3");
    p.snooze("alice", "cam-5", 60'000, 40'000);
    auto const after = p.snoozes("alice", 0);
    ASSERT_EQ(after.size(), 2u);
    EXPECT_EQ(after[0].stream_id, "cam-4");
    EXPECT_EQ(after[1].stream_id, "cam-5");
    EXPECT_EQ(p.snoozes("bob", 10'000).size(), 1u);

    auto const rules = p.rules("bob", 10'000);
    EXPECT_TRUE(rules.suppresses("cam-1", "high", 10'000));
    EXPECT_FALSE(rules.suppresses("cam-1", "critical", 10'000));
    EXPECT_FALSE(rules.suppresses("cam-2", "low", 10'000));
    EXPECT_FALSE(rules.suppresses("cam-1", "low", 30'000));
}

TEST_P(AlertStoreContract, QuietHoursArePerUser) {
    auto s = make();
    auto& p = push_of(*s);
    EXPECT_FALSE(p.get_quiet_hours("alice"));
    EXPECT_FALSE(p.clear_quiet_hours("alice"));
    quiet_hours const night{22 * 60, 7 * 60, 60, quiet_severity_bit("low") | quiet_severity_bit("medium")};
    p.set_quiet_hours("alice", night);
    ASSERT_TRUE(p.get_quiet_hours("alice"));
    EXPECT_EQ(*p.get_quiet_hours("alice"), night);
    EXPECT_FALSE(p.get_quiet_hours("bob"));
    quiet_hours const day{9 * 60, 17 * 60, -300, quiet_severity_bit("high")};
    p.set_quiet_hours("alice", day);
    EXPECT_EQ(*p.get_quiet_hours("alice"), day);
    p.snooze("bob", "cam-1", 50'000, 1000);

    // A rule in force is never missed by the look that lets a commit skip the reads.
    EXPECT_TRUE(p.any_rules(10'000));

    // Several users' rules at once, in the order asked: what a commit reads.
    auto const rules = p.rules_of_users({"bob", "alice", "nobody"}, 10'000);
    ASSERT_EQ(rules.size(), 3u);
    EXPECT_FALSE(rules[0].quiet);
    ASSERT_EQ(rules[0].snoozes.size(), 1u);
    EXPECT_EQ(rules[0].snoozes[0].stream_id, "cam-1");
    EXPECT_EQ(rules[0].snoozes[0].until_ms, 50'000);
    ASSERT_TRUE(rules[1].quiet);
    EXPECT_EQ(*rules[1].quiet, day);
    EXPECT_TRUE(rules[1].snoozes.empty());
    EXPECT_FALSE(rules[2].quiet);
    EXPECT_TRUE(rules[2].snoozes.empty());
    EXPECT_TRUE(p.rules_of_users({}, 10'000).empty());

    EXPECT_TRUE(p.clear_quiet_hours("alice"));
    EXPECT_FALSE(p.get_quiet_hours("alice"));
}

TEST_P(AlertStoreContract, APushedAlertIsRemembered) {
    auto s = make();
    auto& p = push_of(*s);
    auto const r = s->write(alerts({alert("u"), alert("u")}), 1000);
    auto const& first = r.appended[0].alert.alert_id;
    auto const& second = r.appended[1].alert.alert_id;
    EXPECT_FALSE(p.was_pushed(first));
    p.mark_pushed(first, 2000);
    p.mark_pushed(first, 3000);
    EXPECT_TRUE(p.was_pushed(first));
    EXPECT_FALSE(p.was_pushed(second));
    EXPECT_FALSE(p.was_pushed("0190f0c4-0000-7000-8000-000000000000"));  // no such alert
    p.mark_pushed("not-an-alert-id", 2000);                              // nothing, no error
    EXPECT_FALSE(p.was_pushed("not-an-alert-id"));
}

TEST_P(AlertStoreContract, GroupPushesAreCountedWithinTheirWindow) {
    auto s = make();
    auto& p = push_of(*s);
    constexpr std::int64_t window = 300'000;
    EXPECT_EQ(p.count_group_push("u", "topic-a", 1000, window), 1u);
    EXPECT_EQ(p.count_group_push("u", "topic-a", 2000, window), 2u);
    EXPECT_EQ(p.count_group_push("u", "topic-b", 2000, window), 1u);  // another group
    EXPECT_EQ(p.count_group_push("v", "topic-a", 2000, window), 1u);  // another user
    EXPECT_EQ(p.count_group_push("u", "topic-a", 1000 + window - 1, window), 3u);
    // The window runs from its first push: once over, a new one starts.
    EXPECT_EQ(p.count_group_push("u", "topic-a", 1000 + window, window), 1u);
    EXPECT_EQ(p.count_group_push("u", "topic-a", 1000 + window + 5, window), 2u);
    EXPECT_EQ(p.count_group_push("u", "topic-b", 2000 + window, window), 1u);
}

TEST_P(AlertStoreContract, GroupCountsDoNotLoseConcurrentPushes) {
    auto s = make();
    auto& first = push_of(*s);
    auto& second = push_of(second_writer(*s));
    std::atomic<std::uint32_t> highest{0};
    auto run = [&](push_state& p) {
        for (int i = 0; i < 25; ++i) {
            auto const n = p.count_group_push("u", "t", 1000, 300'000);
            auto seen = highest.load();
            while (n > seen && !highest.compare_exchange_weak(seen, n)) {}
        }
    };
    std::thread a{[&] { run(first); }}, b{[&] { run(second); }};
    a.join();
    b.join();
    EXPECT_EQ(highest.load(), 50u);
    EXPECT_EQ(first.count_group_push("u", "t", 1000, 300'000), 51u);
}

TEST(QuietHours, CoverTheirSpanInLocalTime) {
    constexpr std::int64_t minute = 60'000;
    constexpr std::int64_t day = 24 * 60 * minute;
    std::int64_t const midnight_utc = 20'000 * day;
    quiet_hours const night{22 * 60, 7 * 60, 60, quiet_severity_bit("low") | quiet_severity_bit("medium")};
    // 21:30 UTC is 22:30 at UTC+1: quiet for low and medium, not high or critical.
    auto const at = midnight_utc + (21 * 60 + 30) * minute;
    EXPECT_TRUE(quiet_hours_cover(night, "low", at));
    EXPECT_TRUE(quiet_hours_cover(night, "medium", at));
    EXPECT_FALSE(quiet_hours_cover(night, "high", at));
    EXPECT_FALSE(quiet_hours_cover(night, "critical", at));
    // Across midnight, until 07:00 local (06:00 UTC), not after.
    EXPECT_TRUE(quiet_hours_cover(night, "low", midnight_utc + (5 * 60 + 59) * minute));
    EXPECT_FALSE(quiet_hours_cover(night, "low", midnight_utc + 6 * 60 * minute));
    EXPECT_FALSE(quiet_hours_cover(night, "low", midnight_utc + 20 * 60 * minute));  // 21:00 local
    quiet_hours const lunch{12 * 60, 13 * 60, -300, quiet_severity_bit("high")};     // UTC-5
    EXPECT_TRUE(quiet_hours_cover(lunch, "high", midnight_utc + (17 * 60 + 10) * minute));
    EXPECT_FALSE(quiet_hours_cover(lunch, "high", midnight_utc + (12 * 60 + 10) * minute));
    push_rules const rules{{}, night};
    EXPECT_TRUE(rules.suppresses("cam", "low", at));
    EXPECT_FALSE(rules.suppresses("cam", "critical", at));
}
