#pragma once
// Where alerts live between the detector and the person's acknowledgement.
//
// Contract, shared by every engine (tests/contract/alert_store_contract.hpp):
// - write() applies a whole batch in one transaction and is durable when it
//   returns (for the durable engines); on failure nothing of it is applied and
//   it throws store_error.
// - Alerts get a unique time-ordered id and the next per-user seq, in the order
//   given. The engine assigns seqs atomically, so several writers at once
//   (threads, or processes and nodes sharing one database) never give a seq
//   twice nor leave a gap, and each user's alerts become visible in seq order:
//   a reader that sees seq n sees every retained seq below it. Seqs only grow,
//   even across retention pruning and restarts, within one epoch.
// - epoch() names the numbering: it changes whenever numbering starts again (a
//   new memory store, a new or replaced database), so that a client's position
//   from before can be recognised as meaningless. Constant for the store's life.
// - A publish whose idempotency key the user already has is not stored again:
//   its result is the earlier alert, flagged duplicate.
// - An alert may have several copies (a team's members, escalation's
//   audiences: new_alert::alert_id), one per user, each with that user's seq.
//   Every copy carries the alert's one handling state; a transition changes
//   them all in one transaction. get() and frame() answer for the alert
//   (its first copy); the frame is kept once.
// - Readers see only committed writes. Engines are safe to call from any thread.
//   Reads may block (disk, network): callers keep them off the I/O threads.
// - prune_expired() is safe while other processes write and prune the same store.
#include "alerts/alert.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

struct store_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A change of an alert's handling state (SPEC section 7): acknowledge
// (open -> acknowledged), resolve (open or acknowledged -> resolved; an
// alert resolved without an acknowledgement gets the resolver as its owner),
// reopen (acknowledged or resolved -> open). Applied to every copy of the
// alert at once, with an audit event, a webhook outbox row per configured
// URL (handling_store.hpp), and its escalation timer stopped (acknowledge,
// resolve) or started again from its first step (reopen).
enum class transition_kind : std::uint8_t { acknowledge, resolve, reopen };

struct transition_request {
    std::string alert_id;
    std::string recipient;  // the actor must be one of the alert's recipients; empty: anyone (admin)
    std::string actor;      // who, kept with the alert and in the audit trail
    transition_kind kind = transition_kind::acknowledge;
    std::string outcome;  // resolve: real, false_alarm or test (validated before)
    std::string note;     // resolve: optional
};

enum class transition_outcome {
    applied,
    unchanged,  // an acknowledgement of an alert already acknowledged or resolved: nothing to do
    invalid,    // resolve of a resolved alert, reopen of an open one
    not_found,  // no such alert (or not the recipient's)
};

struct transition_result {
    transition_outcome outcome = transition_outcome::not_found;
    std::string user_id;                  // the recipient who asked, or the alert's first recipient
    std::vector<std::string> recipients;  // every user holding a copy, when found
    std::optional<stored_alert> alert;    // its state after (a copy, without frame bytes), when found
    std::int64_t at_ms = 0;               // when it was applied
};

// A copy of an alert handed to a live connection, recorded by the node that did.
struct delivery_mark {
    std::string alert_id;
    std::string user_id;
};

struct write_batch {
    std::vector<new_alert> alerts;
    std::vector<transition_request> transitions;
    std::vector<delivery_mark> delivered;
    std::string node;  // the writing node, recorded with the first delivery of a copy

    bool empty() const { return alerts.empty() && transitions.empty() && delivered.empty(); }
};

struct append_result {
    stored_alert alert;  // without frame bytes
    bool duplicate = false;
};

struct write_result {
    std::vector<append_result> appended;         // one per batch.alerts, same order
    std::vector<transition_result> transitions;  // one per batch.transitions, same order
};

// History by state; `acked` (the quick reference's) is acknowledged or resolved.
enum class state_filter { all, open, acknowledged, resolved, acked };

struct history_query {
    std::string user_id;  // empty: every user (admin): every copy, a team alert once per member
    std::string team;     // non-empty: only this team's alerts
    state_filter status = state_filter::all;
    std::size_t limit = 100;
    std::string before;  // alert id cursor: only older alerts; empty: newest
};

// A page of one user's alerts, read for a replay.
struct replay_page {
    std::vector<stored_alert> alerts;  // seq > the asked position, oldest first, at most the limit
    // The user's last seq when the read began (read before the alerts): every
    // alert up to it is either in `alerts`, beyond the page's limit, or left
    // out on purpose (acknowledged, when only unacknowledged ones were asked
    // for; pruned). A reader whose page was not full is therefore caught up to it.
    std::uint64_t head = 0;
};

// A page of every user's alerts in about the order they were committed: what
// a node reads while its bus has lost the other nodes, to find the alerts
// they commit.
struct feed_page {
    std::vector<stored_alert> alerts;  // oldest first, without frame bytes
    std::string cursor;                // where the next page starts
};

struct retention_policy {
    std::int64_t max_age_ms = 0;  // 0: keep regardless of age
    std::size_t per_user = 0;     // 0: no count limit
};

// Whether the engine can reach its data now (a networked engine can lose its
// server; the embedded ones cannot), for /health.
struct store_status {
    bool up = true;
    std::string detail;  // why not, when not
};

class alert_store {
public:
    virtual ~alert_store() = default;

    // Cheap: what the engine last saw, without a round trip.
    virtual store_status status() const { return {}; }

    // The numbering's name (see above): a short opaque string.
    virtual std::string const& epoch() const noexcept = 0;

    virtual write_result write(write_batch const& batch, std::int64_t now_ms) = 0;

    // The user's alerts with seq > after_seq, oldest first, at most `limit`;
    // only unacknowledged ones when asked. Frame bytes are loaded when asked
    // (inline frames).
    virtual replay_page after(std::string_view user_id, std::uint64_t after_seq, bool unacked_only, std::size_t limit,
                              bool with_frames) = 0;

    // The alert's first copy; `user_id` non-empty: that user's copy.
    virtual std::optional<stored_alert> get(std::string_view alert_id, std::string_view user_id = {}) = 0;
    virtual std::optional<annotated_frame> frame(std::string_view alert_id) = 0;

    // Newest first.
    virtual std::vector<stored_alert> history(history_query const& q) = 0;

    // Every user's alerts committed after `cursor`, at most `limit`. An empty
    // cursor means "from now on": the page is empty and its cursor marks the
    // present. Every alert committed after a cursor's position appears in a
    // later page (an engine may repeat one); a page's cursor never goes back.
    // The order is the engine's best knowledge of commit order, which may
    // put one user's alerts out of seq order when several writers commit at
    // once (PostgreSQL orders by transaction id): consumers hand them to the
    // connections' sequencers, which restore it.
    virtual feed_page feed(std::string const& cursor, std::size_t limit) = 0;

    // Removes at most max_rows alerts older than the policy's age; returns how
    // many went. (The per-user count is enforced by write() as alerts arrive.)
    // An engine that keeps alerts in time partitions (PostgreSQL) drops a
    // partition once every alert in it is older than the age, whatever their
    // number (a drop costs the same for one alert or a million), so it may
    // keep an alert up to one partition's span longer and remove more than
    // max_rows at once; see its header.
    virtual std::size_t prune_expired(std::int64_t now_ms, std::size_t max_rows) = 0;

    // The highest seq ever given to the user (0: none).
    virtual std::uint64_t last_seq(std::string_view user_id) = 0;
};

}  // namespace vigil
