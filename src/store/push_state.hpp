#pragma once
// What Web Push keeps per user (docs/notifications.md, SPEC section 8): the
// devices' subscriptions, stream snoozes, quiet hours, and what a push needs
// to remember (which alerts were pushed, so that an acknowledgement can
// replace their notification; how many pushes a group had in its window).
//
// Implemented by every alert store engine beside alert_store, on the same
// data, so that every node of a cluster sees the same state.
//
// Contract, shared by every engine (tests/contract/push_state_contract_test.cpp):
// - A subscription is keyed by its endpoint (one browser's): saving one
//   whose endpoint is known replaces its keys and makes it the saving user's.
//   A user may have several (devices).
// - Snoozes and quiet hours are per user; a snooze is over at `until_ms`
//   and is then neither listed nor suppresses anything.
// - Calls are safe from any thread; they may block (disk, network), so
//   callers keep them off the I/O threads, except on the memory engine.
// - Failures throw store_error.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

struct push_subscription_record {
    std::string endpoint;  // a capability URL: never logged
    std::string user_id;
    std::string p256dh;  // 65 bytes, raw
    std::string auth;    // 16 bytes, raw
    std::int64_t created_ms = 0;
};

struct stream_snooze {
    std::string stream_id;
    std::int64_t until_ms = 0;
};

// Quiet hours: from start to end (minutes after local midnight, local being
// UTC plus utc_offset_minutes; end before start wraps midnight), alerts of
// the severities in the mask are not pushed. Critical is never in it.
struct quiet_hours {
    int start_minute = 0;
    int end_minute = 0;
    int utc_offset_minutes = 0;
    unsigned severities = 0;  // quiet_severity_bit()s

    bool operator==(quiet_hours const&) const = default;
};

// low 1, medium 2, high 4; 0 for critical and anything else.
unsigned quiet_severity_bit(std::string_view severity) noexcept;

// Whether `q` holds back an alert of `severity` at `now_ms`.
bool quiet_hours_cover(quiet_hours const& q, std::string_view severity, std::int64_t now_ms) noexcept;

// What decides whether a user's alert is suppressed, read at once.
struct push_rules {
    std::vector<stream_snooze> snoozes;  // only those not over
    std::optional<quiet_hours> quiet;

    // Critical never is; otherwise a snoozed stream or quiet hours for the severity.
    bool suppresses(std::string_view stream_id, std::string_view severity, std::int64_t now_ms) const noexcept;
};

class push_state {
public:
    virtual ~push_state() = default;

    // Saves the subscription under its endpoint. True when the endpoint was
    // not already this user's (a new device, or one another user had).
    virtual bool save_subscription(push_subscription_record const& s) = 0;
    // Forgets the user's subscription with this endpoint; false when the user had none.
    virtual bool delete_subscription(std::string_view user_id, std::string_view endpoint) = 0;
    // Forgets the endpoint whoever has it (its push service said it is gone); false when unknown.
    virtual bool forget_endpoint(std::string_view endpoint) = 0;
    // Oldest first.
    virtual std::vector<push_subscription_record> subscriptions(std::string_view user_id) = 0;

    // Snoozes the stream until until_ms (replacing a snooze of it), and
    // forgets the user's snoozes that are over at now_ms.
    virtual void snooze(std::string_view user_id, std::string_view stream_id, std::int64_t until_ms,
                        std::int64_t now_ms) = 0;
    virtual void unsnooze(std::string_view user_id, std::string_view stream_id) = 0;
    // The user's snoozes not over at now_ms, by stream id.
    virtual std::vector<stream_snooze> snoozes(std::string_view user_id, std::int64_t now_ms) = 0;

    virtual void set_quiet_hours(std::string_view user_id, quiet_hours const& q) = 0;
    // False when the user had none.
    virtual bool clear_quiet_hours(std::string_view user_id) = 0;
    virtual std::optional<quiet_hours> get_quiet_hours(std::string_view user_id) = 0;

    push_rules rules(std::string_view user_id, std::int64_t now_ms) {
        return {snoozes(user_id, now_ms), get_quiet_hours(user_id)};
    }
    // Whether some user may have a rule in force at now_ms (true when in
    // doubt). Most commits meet no rule at all: one cheap look says so for
    // the whole batch, before rules_of_users() reads each user's.
    virtual bool any_rules(std::int64_t /*now_ms*/) { return true; }

    // The rules of several users, in their order: what a commit of a batch
    // reads. An engine with round trips to its server reads them together.
    virtual std::vector<push_rules> rules_of_users(std::vector<std::string_view> const& user_ids, std::int64_t now_ms) {
        std::vector<push_rules> out;
        out.reserve(user_ids.size());
        for (auto u : user_ids) out.push_back(rules(u, now_ms));
        return out;
    }

    // The alert reached a push service for its user (kept with the alert,
    // and pruned with it).
    virtual void mark_pushed(std::string_view alert_id, std::int64_t now_ms) = 0;
    virtual bool was_pushed(std::string_view alert_id) = 0;

    // Counts a push of the user's group `topic`: 1 when the group's window is
    // over (or it had none), which starts a new window at now_ms; else one
    // more than the window's count so far. Atomic across writers.
    virtual std::uint32_t count_group_push(std::string_view user_id, std::string_view topic, std::int64_t now_ms,
                                           std::int64_t window_ms) = 0;
};

}  // namespace vigil
