// The push dispatcher's decisions before a commit (alerts/push_dispatcher.hpp):
// which alerts are suppressed, and that a store it cannot read suppresses
// nothing. What it sends is tested end to end (integration/push_test.cpp).
#include "alerts/push_dispatcher.hpp"
#include "store/memory_alert_store.hpp"

#include <gtest/gtest.h>

using namespace vigil;

namespace {

new_alert alert(std::string user, std::string stream, std::string severity) {
    new_alert a;
    a.user_id = std::move(user);
    a.stream_id = std::move(stream);
    a.detection_json = "{}";
    a.timestamp = "2026-12-06T21:00:00Z";
    a.severity = std::move(severity);
    a.group_key = a.stream_id;
    return a;
}

// A store whose push rules cannot be read (its server is down).
struct unreachable_rules final : push_state {
    bool save_subscription(push_subscription_record const&) override { return false; }
    bool delete_subscription(std::string_view, std::string_view) override { return false; }
    bool forget_endpoint(std::string_view) override { return false; }
    std::vector<push_subscription_record> subscriptions(std::string_view) override { return {}; }
    void snooze(std::string_view, std::string_view, std::int64_t, std::int64_t) override {}
    void unsnooze(std::string_view, std::string_view) override {}
    std::vector<stream_snooze> snoozes(std::string_view, std::int64_t) override { throw store_error("down"); }
    void set_quiet_hours(std::string_view, quiet_hours const&) override {}
    bool clear_quiet_hours(std::string_view) override { return false; }
    std::optional<quiet_hours> get_quiet_hours(std::string_view) override { throw store_error("down"); }
    void mark_pushed(std::string_view, std::int64_t) override {}
    bool was_pushed(std::string_view) override { return false; }
    std::uint32_t count_group_push(std::string_view, std::string_view, std::int64_t, std::int64_t) override {
        return 1;
    }
};

}  // namespace

TEST(PushDispatcher, SuppressesWhatTheUserAskedAndNeverCritical) {
    memory_alert_store store;
    push_dispatcher d{store, store, push::vapid_key{push::p256_key::generate()}, {}};
    std::int64_t const now = 1'000'000'000'000;
    store.snooze("alice", "cam-1", now + 60'000, now);
    store.set_quiet_hours("bob", {0, 24 * 60 - 1, 0, quiet_severity_bit("low")});  // all day but 23:59
    std::vector<new_alert> batch{alert("alice", "cam-1", "high"), alert("alice", "cam-1", "critical"),
                                 alert("alice", "cam-2", "high"), alert("bob", "cam-1", "low"),
                                 alert("bob", "cam-1", "medium"), alert("carol", "cam-1", "low")};
    d.before_commit(batch, now);
    std::vector<bool> suppressed;
    for (auto const& a : batch) suppressed.push_back(a.suppressed);
    auto const low_quiet = quiet_hours_cover(*store.get_quiet_hours("bob"), "low", now);
    EXPECT_EQ(suppressed, (std::vector<bool>{true, false, false, low_quiet, false, false}));
    // Once the snooze is over, nothing is held back.
    std::vector<new_alert> later{alert("alice", "cam-1", "high")};
    d.before_commit(later, now + 60'000);
    EXPECT_FALSE(later[0].suppressed);
}

TEST(PushDispatcher, AStoreThatCannotAnswerSuppressesNothing) {
    memory_alert_store store;
    unreachable_rules rules;
    push_dispatcher d{store, rules, push::vapid_key{push::p256_key::generate()}, {}};
    std::vector<new_alert> batch{alert("alice", "cam-1", "low"), alert("bob", "cam-2", "high")};
    d.before_commit(batch, 1'000'000);
    EXPECT_FALSE(batch[0].suppressed);
    EXPECT_FALSE(batch[1].suppressed);
}

TEST(PushDispatcher, AGroupsTopicIsTheContractsHash) {
    // base64url(SHA-256("alice\ncam-3/person")[0..24]): 32 characters of the base64url alphabet.
    auto const t = push_dispatcher::group_topic("alice", "cam-3/person");
    EXPECT_EQ(t.size(), 32u);
    EXPECT_EQ(t, push::topic_for("alice\ncam-3/person"));
    EXPECT_NE(t, push_dispatcher::group_topic("bob", "cam-3/person"));
    EXPECT_NE(t, push_dispatcher::group_topic("alice", "cam-3/car"));
    EXPECT_TRUE(push::valid_topic(t));
}
