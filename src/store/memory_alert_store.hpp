#pragma once
// The volatile engine: everything in process memory, lost on exit. For tests,
// benchmarks of the delivery path, and deployments that accept losing
// unacknowledged alerts on restart. Single node only; every instance starts a
// new epoch, so clients that resume after a restart start over.
#include "common/huge_page_resource.hpp"
#include "store/alert_store.hpp"
#include "store/handling_store.hpp"
#include "store/push_state.hpp"

#include <map>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <unordered_map>

namespace vigil {

class memory_alert_store final : public alert_store, public push_state, public handling_store {
public:
    explicit memory_alert_store(retention_policy retention = {});

    std::string const& epoch() const noexcept override { return epoch_; }
    write_result write(write_batch const& batch, std::int64_t now_ms) override;
    replay_page after(std::string_view user_id, std::uint64_t after_seq, bool unacked_only, std::size_t limit,
                      bool with_frames) override;
    std::optional<stored_alert> get(std::string_view alert_id, std::string_view user_id = {}) override;
    std::optional<annotated_frame> frame(std::string_view alert_id) override;
    std::vector<stored_alert> history(history_query const& q) override;
    // A scan of every retained alert: this engine serves one node, whose bus
    // never loses other nodes, so the feed only has to be right.
    feed_page feed(std::string const& cursor, std::size_t limit) override;
    std::size_t prune_expired(std::int64_t now_ms, std::size_t max_rows) override;
    std::uint64_t last_seq(std::string_view user_id) override;

    // push_state (memory_push_state.cpp)
    bool save_subscription(push_subscription_record const& s) override;
    bool delete_subscription(std::string_view user_id, std::string_view endpoint) override;
    bool forget_endpoint(std::string_view endpoint) override;
    std::vector<push_subscription_record> subscriptions(std::string_view user_id) override;
    void snooze(std::string_view user_id, std::string_view stream_id, std::int64_t until_ms,
                std::int64_t now_ms) override;
    void unsnooze(std::string_view user_id, std::string_view stream_id) override;
    std::vector<stream_snooze> snoozes(std::string_view user_id, std::int64_t now_ms) override;
    void set_quiet_hours(std::string_view user_id, quiet_hours const& q) override;
    bool clear_quiet_hours(std::string_view user_id) override;
    std::optional<quiet_hours> get_quiet_hours(std::string_view user_id) override;
    bool any_rules(std::int64_t now_ms) override;
    void mark_pushed(std::string_view alert_id, std::int64_t now_ms) override;
    bool was_pushed(std::string_view alert_id) override;
    std::uint32_t count_group_push(std::string_view user_id, std::string_view topic, std::int64_t now_ms,
                                   std::int64_t window_ms) override;

    // handling_store (memory_handling.cpp)
    void put_team(team_record const& team) override;
    std::optional<team_record> get_team(std::string_view name) override;
    bool delete_team(std::string_view name) override;
    std::vector<team_record> teams() override;
    void put_policy(escalation_policy const& policy) override;
    std::optional<escalation_policy> get_policy(std::string_view name) override;
    bool delete_policy(std::string_view name) override;
    std::vector<escalation_policy> policies() override;
    std::vector<audit_event> events(std::string_view alert_id) override;
    std::vector<std::string> recipients(std::string_view alert_id) override;
    std::vector<escalation_timer> claim_due_escalations(std::int64_t now_ms, std::int64_t lease_ms,
                                                        std::size_t limit) override;
    escalation_result escalate(escalation_fire const& fire) override;
    std::optional<std::int64_t> next_escalation_due() override;
    void set_webhook_urls(std::vector<std::string> urls) override;
    std::vector<webhook_delivery> claim_webhooks(std::int64_t now_ms, std::int64_t lease_ms,
                                                 std::size_t limit) override;
    void webhook_delivered(std::string_view id) override;
    void webhook_failed(std::string_view id, std::int64_t retry_at_ms) override;
    std::size_t drop_webhooks_before(std::int64_t before_ms) override;
    std::map<std::string, std::int64_t> open_by_severity() override;

private:
    using allocator = std::pmr::polymorphic_allocator<>;
    struct text_less {
        using is_transparent = void;
        bool operator()(std::string_view a, std::string_view b) const { return a < b; }
    };
    struct text_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    // What few alerts have (a team, a policy, a resolution): kept apart so
    // that the common alert does not carry it.
    struct handling_extra {
        std::string team, escalation, resolved_by, outcome, note;
        std::optional<std::int64_t> resolved_ms;
    };
    // One copy of an alert, keyed by copy_key(id, user): a copy's key starts
    // with its alert id, so an alert's copies are neighbours in time order.
    // Text lives in the arena.
    struct record {
        explicit record(allocator a)
            : user_id(a),
              stream_id(a),
              detection_json(a),
              timestamp(a),
              idempotency_key(a),
              acked_by(a),
              severity(a),
              group_key(a),
              published_by(a),
              delivered_node(a) {}
        std::pmr::string user_id, stream_id, detection_json, timestamp, idempotency_key, acked_by, severity, group_key,
            published_by, delivered_node;
        std::unique_ptr<handling_extra> extra;  // null: no team, no policy, not resolved
        int escalation_level = 0;
        bool suppressed = false;
        bool pushed = false;  // push_state::mark_pushed
        std::uint64_t seq = 0;
        std::uint64_t commit_no = 0;  // order of commits across users, for the feed
        std::int64_t created_ms = 0;
        std::optional<std::int64_t> first_delivered_ms;
        std::int64_t delivery_count = 0;
        std::optional<std::int64_t> acked_ms;
        std::shared_ptr<annotated_frame const> frame;  // large and rare: the ordinary heap
    };
    using alert_map = std::pmr::map<std::pmr::string, record, text_less>;  // by id: time order
    struct user_log {
        explicit user_log(allocator a) : by_seq(a) {}
        std::uint64_t last_seq = 0;
        std::pmr::map<std::uint64_t, alert_map::iterator> by_seq;
    };

    static std::string copy_key(std::string_view alert_id, std::string_view user_id);
    static stored_alert to_stored(alert_map::value_type const& entry, bool with_frame_bytes);
    void erase_locked(alert_map::iterator it);
    // The copies of an alert, in the order they were made; empty: no such alert.
    std::vector<alert_map::iterator> copies_locked(std::string_view alert_id);
    transition_result transition_locked(transition_request const& t, std::int64_t now_ms);
    void record_change_locked(std::string_view alert_id, std::string_view change, std::string_view actor,
                              std::int64_t now_ms, std::string detail_json, stored_alert const& after,
                              std::vector<std::string> const& recipients);
    void arm_timer_locked(std::string_view alert_id, std::string_view policy, std::int64_t now_ms);

    retention_policy retention_;
    std::string const epoch_;
    std::mutex mutex_;
    std::uint64_t commits_ = 0;  // the last commit_no given
    // Everything below allocates from the arena (huge pages, blocks reused by the pool).
    huge_page_resource arena_;
    std::pmr::unsynchronized_pool_resource pool_;
    alert_map alerts_;
    std::pmr::unordered_map<std::pmr::string, user_log, text_hash, std::equal_to<>> users_;

    // Push state: small, and behind its own lock (the alerts' is the hot one).
    struct push_group {
        std::int64_t started_ms = 0;
        std::uint32_t count = 0;
    };
    std::mutex push_mutex_;
    std::uint64_t subscriptions_made_ = 0;  // orders subscriptions oldest first
    std::map<std::string, std::pair<std::uint64_t, push_subscription_record>, std::less<>>
        subscriptions_;                                                                 // by endpoint
    std::map<std::pair<std::string, std::string>, std::int64_t, std::less<>> snoozes_;  // (user, stream) -> until
    std::map<std::string, quiet_hours, std::less<>> quiet_hours_;
    std::map<std::pair<std::string, std::string>, push_group, std::less<>> groups_;  // (user, topic)

    // Handling: teams and policies behind their own lock; what changes with
    // alerts (events, timers, outbox) behind the alerts' lock.
    std::mutex config_mutex_;
    std::map<std::string, team_record, std::less<>> teams_;
    std::map<std::string, escalation_policy, std::less<>> policies_;
    struct logged_event {
        audit_event event;
        std::uint64_t order = 0;
    };
    std::uint64_t events_made_ = 0;
    std::map<std::string, std::vector<logged_event>, std::less<>> events_;  // by alert id
    std::map<std::string, escalation_timer, std::less<>> timers_;           // by alert id
    struct outbox_row {
        webhook_delivery delivery;
        std::int64_t due_ms = 0;
    };
    std::uint64_t outbox_made_ = 0;
    std::map<std::string, outbox_row, std::less<>> outbox_;  // by row id: oldest first
    std::vector<std::string> webhook_urls_;
};

}  // namespace vigil
