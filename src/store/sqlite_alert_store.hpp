#pragma once
// The embedded durable engine: SQLite in WAL mode, one file in the data
// directory. One writer connection (writes from several threads take turns)
// and one reader connection for replays, history and frames, which WAL lets
// run beside the writer. Several processes may share the file: SQLite's write
// lock orders their commits, and a writer notices the others' commits
// (PRAGMA data_version) before it numbers alerts from its cache of last seqs.
// The epoch is kept in the database: one per database file. Handling
// (store/handling_store.hpp) lives in the same file, written by the same
// writer in the same transactions as the alerts (sqlite_handling.cpp).
#include "store/alert_store.hpp"
#include "store/handling_store.hpp"
#include "store/push_state.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vigil {

namespace detail {
class sqlite_connection;
class wal_checkpointer;
}  // namespace detail

struct sqlite_options {
    std::string path;              // database file; created with its schema if absent
    bool synchronous_full = true;  // fsync the WAL on every commit (power-loss safe)
    retention_policy retention;
    // The WAL is copied back into the database by a background thread once it
    // holds this many pages (store/wal_checkpointer.hpp); ~40 MiB at 10,000.
    int checkpoint_pages = 10000;
};

class sqlite_alert_store final : public alert_store, public push_state, public handling_store {
public:
    // Opens or creates the database and migrates its schema. Throws store_error.
    explicit sqlite_alert_store(sqlite_options options);
    ~sqlite_alert_store() override;

    std::string const& epoch() const noexcept override { return epoch_; }
    write_result write(write_batch const& batch, std::int64_t now_ms) override;
    replay_page after(std::string_view user_id, std::uint64_t after_seq, bool unacked_only, std::size_t limit,
                      bool with_frames) override;
    std::optional<stored_alert> get(std::string_view alert_id, std::string_view user_id = {}) override;
    std::optional<annotated_frame> frame(std::string_view alert_id) override;
    std::vector<stored_alert> history(history_query const& q) override;
    // In rowid order, which is commit order: SQLite numbers each insert after
    // the largest rowid, under the write lock that orders commits.
    feed_page feed(std::string const& cursor, std::size_t limit) override;
    std::size_t prune_expired(std::int64_t now_ms, std::size_t max_rows) override;
    std::uint64_t last_seq(std::string_view user_id) override;

    // push_state (sqlite_push_state.cpp): writes on the writer, reads on the reader.
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

    // handling_store (sqlite_handling.cpp): writes on the writer in one
    // transaction each (BEGIN IMMEDIATE takes SQLite's write lock first, so a
    // claim by another process sharing the file waits for this one's commit),
    // reads on the reader.
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
    // Scans every alert (no index on the open ones, which would cost every
    // publish a B-tree write): for a gauge refreshed every few seconds.
    std::map<std::string, std::int64_t> open_by_severity() override;

    // Gives the existing database at `path` a new epoch and returns it: after
    // a restore from a backup, seqs handed out since the backup was taken will
    // be handed out again, and clients holding them must start over. Run it
    // with the server stopped (a running one keeps its epoch until restarted).
    // Throws store_error, also when there is no database at `path`.
    static std::string begin_new_epoch(std::string const& path);

    // The schema version this build writes (PRAGMA user_version).
    static constexpr int schema_version = 5;

private:
    // Seqs handed out by a transaction, to take back if it fails (the cache
    // must not run ahead of the database).
    using taken_seqs = std::vector<std::pair<std::string const*, std::uint64_t>>;
    // At the start of a write transaction that numbers alerts: forgets the
    // cached seqs when another process has committed since (write_mutex_).
    void sync_seq_cache_locked();
    std::uint64_t next_seq_locked(std::string const& user_id);
    void give_back_locked(taken_seqs const& taken);
    std::int64_t read_data_version();
    // One transition inside write()'s transaction (sqlite_handling.cpp).
    transition_result apply_transition_locked(transition_request const& t, std::int64_t now_ms);
    // One outbox row per webhook URL for a change (sqlite_handling.cpp).
    void enqueue_webhooks_locked(std::string_view change, std::string_view actor, stored_alert const& alert,
                                 std::vector<std::string> const& recipients, std::int64_t now_ms);

    sqlite_options options_;
    std::string epoch_;
    std::int64_t data_version_ = 0;  // the writer's, when it last looked (write_mutex_)
    std::mutex write_mutex_;
    std::unique_ptr<detail::sqlite_connection> writer_;
    std::unordered_map<std::string, std::uint64_t> seq_cache_;  // user -> last seq (writer)
    std::vector<std::string> webhook_urls_;                     // write_mutex_
    std::mutex read_mutex_;
    std::unique_ptr<detail::sqlite_connection> reader_;
    std::unique_ptr<detail::sqlite_connection> checkpoint_db_;  // checkpointer_'s thread only
    std::unique_ptr<detail::wal_checkpointer> checkpointer_;    // first to go: it uses both
};

}  // namespace vigil
