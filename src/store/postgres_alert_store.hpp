#pragma once
// The shared engine: PostgreSQL, the store of record of several nodes at once
// (docs/decisions/0021-postgres-store.md). Every call blocks its calling
// thread on the network, at most about `timeout`: keep it off I/O threads.
// Thread-safe: calls share a pool of connections (store/pg_pool.hpp).
//
// - Seqs: a per-user head row (users.last_seq) is locked by the publishing
//   transaction before anything else and moved on in it, so writers of one
//   user take turns, commit in seq order and never share nor skip a seq.
// - Idempotency keys are looked up under that lock, so a retried publish
//   racing its first attempt on another node finds it committed.
// - Alerts are partitioned by their id (UUIDv7, whose first 48 bits are the
//   creation time given to write()), one partition per `partition_ms`
//   (a day by default), created ahead of time. Retention by age drops whole
//   partitions once every alert in them is older than the retention age, so
//   an alert is kept between max_age and max_age + partition_ms; a retention
//   age shorter than one partition is enforced row by row instead. The
//   per-user count is enforced row by row as alerts arrive. Head rows stay,
//   so a user's seqs keep growing.
// - Copies (handling: a team's members, escalation's audiences) share the
//   alert's id: one row per (id, user), all in the id's partition. The
//   frame's bytes are kept on one copy (moved to another when the per-user
//   count removes that one). A transition or an escalation first locks the
//   alert's copies (FOR UPDATE, in (id, user) order), then reads and changes
//   them all: an escalation's new copy never misses a concurrent
//   acknowledgement. Audit events and escalation timers are keyed by alert
//   id; they go with the alert's last copy, and when partitions are dropped,
//   those of ids below the oldest partition left go too. Escalation timers
//   and webhook outbox rows are claimed with FOR UPDATE SKIP LOCKED, so
//   several nodes claim each once.
// - One epoch per database (schema), kept in the meta table.
// - The schema is created, and migrated, when a store opens, under an
//   advisory lock: nodes starting together migrate once.
// - Failures throw store_error with PostgreSQL's message (never the
//   password). A connection found broken is replaced, and a call that cannot
//   have been applied is retried once on a new connection; a write whose
//   commit went unanswered is not retried (store_error: its caller answers
//   503, and a retry with the same idempotency key gives one alert).
#include "store/alert_store.hpp"
#include "store/handling_store.hpp"
#include "store/push_state.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vigil {

namespace pg {
class pool;
class connection;
}  // namespace pg

struct postgres_options {
    // postgresql://user:password@host:port/dbname?sslmode=... (or a libpq
    // key=value string). The database must exist and be UTF8.
    std::string url;
    // The schema that holds vigil's tables; created if absent. Each schema
    // is its own store, with its own epoch.
    std::string schema = "vigil";
    retention_policy retention;
    // A statement slower than this is cancelled by the server
    // (statement_timeout) and the call throws store_error; a call gives up
    // waiting for the server at timeout + 500 ms.
    std::chrono::milliseconds timeout{2000};
    // Connections at most: the writer, the readers and the pruner share them.
    std::size_t pool_size = 4;
    // Width of one partition of alerts, in ms of creation time (>= 1 s, a
    // whole number of seconds).
    std::int64_t partition_ms = 86'400'000;
    // Partitions created beyond the current one, at start and at each prune.
    int partitions_ahead = 2;
    // How long opening may wait for the schema migration (another node's too).
    std::chrono::milliseconds migrate_timeout{60'000};
};

// One partition of the alerts table, [from_ms, to_ms) of creation time.
struct alert_partition {
    std::string name;
    std::int64_t from_ms = 0;
    std::int64_t to_ms = 0;
};

class postgres_alert_store final : public alert_store, public push_state, public handling_store {
public:
    // Connects, creates or migrates the schema, creates the current and next
    // partitions. Throws store_error.
    explicit postgres_alert_store(postgres_options options);
    ~postgres_alert_store() override;

    std::string const& epoch() const noexcept override { return epoch_; }
    // Down after a call found the server unreachable or slower than the
    // timeout; up again after the next call that succeeds.
    store_status status() const override;
    write_result write(write_batch const& batch, std::int64_t now_ms) override;
    replay_page after(std::string_view user_id, std::uint64_t after_seq, bool unacked_only, std::size_t limit,
                      bool with_frames) override;
    std::optional<stored_alert> get(std::string_view alert_id, std::string_view user_id = {}) override;
    std::optional<annotated_frame> frame(std::string_view alert_id) override;
    std::vector<stored_alert> history(history_query const& q) override;
    // Drops the partitions wholly older than the retention age (each drop
    // counts its rows, and is not bounded by max_rows: it costs the same
    // whatever their number), then, for an age shorter than one partition,
    // deletes at most max_rows expired alerts (each with every copy, so it
    // may count more rows). While another node prunes the same store,
    // returns 0 at once.
    std::size_t prune_expired(std::int64_t now_ms, std::size_t max_rows) override;
    std::uint64_t last_seq(std::string_view user_id) override;

    // push_state (postgres_push_state.cpp): the tables of schema 2.
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
    std::vector<push_rules> rules_of_users(std::vector<std::string_view> const& user_ids, std::int64_t now_ms) override;
    void mark_pushed(std::string_view alert_id, std::int64_t now_ms) override;
    bool was_pushed(std::string_view alert_id) override;
    std::uint32_t count_group_push(std::string_view user_id, std::string_view topic, std::int64_t now_ms,
                                   std::int64_t window_ms) override;
    // handling_store (postgres_handling.cpp): the tables of schema 3.
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

    // Exact, in commit order: each alert records its transaction's id (xid8),
    // and a page reads only transactions older than every running one. A
    // long transaction anywhere in the PostgreSQL cluster holds the feed back
    // until it ends.
    feed_page feed(std::string const& cursor, std::size_t limit) override;

    // The alerts table's partitions, oldest first.
    std::vector<alert_partition> partitions();

    // Gives the store a new epoch and returns it (after a restore from a
    // backup: see sqlite_alert_store::begin_new_epoch). Throws store_error.
    static std::string begin_new_epoch(postgres_options options);

    // The schema version this build writes (meta.schema_version).
    static constexpr int schema_version = 3;

private:
    class call;
    template <class F>
    auto with_connection(bool retry_if_applied, F&& f);

    void migrate();
    void ensure_partitions(pg::connection& c, std::int64_t from_ms, std::int64_t to_ms);
    std::vector<alert_partition> list_partitions(pg::connection& c, bool with_pending,
                                                 std::chrono::steady_clock::time_point deadline);
    write_result write_once(pg::connection& c, write_batch const& batch, std::int64_t now_ms,
                            std::vector<std::string> const& ids, std::chrono::steady_clock::time_point deadline);
    escalation_result escalate_once(pg::connection& c, escalation_fire const& fire,
                                    std::chrono::steady_clock::time_point deadline);
    std::vector<std::string> webhook_urls() const;

    void note_status(bool up, std::string detail);

    postgres_options options_;
    std::unique_ptr<pg::pool> pool_;
    std::string epoch_;
    mutable std::mutex status_mutex_;
    store_status status_;
    mutable std::mutex webhooks_mutex_;
    std::vector<std::string> webhook_urls_;
};

}  // namespace vigil
