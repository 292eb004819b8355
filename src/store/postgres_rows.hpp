#pragma once
// What the PostgreSQL engine's source files (postgres_alert_store.cpp,
// postgres_handling.cpp) share: how an alert row is read, the statements
// that lock and read an alert's copies, and a batch's transitions applied to
// copies read under their locks.
#include "store/alert_store.hpp"
#include "store/pg_connection.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::pgrows {

// The columns of an alert row that make a stored_alert, in read_alert's order.
inline constexpr char alert_columns[] =
    "id, user_id, seq, stream_id, detection, ts, created_ms, frame_type, first_delivered_ms, delivery_count, "
    "acked_ms, acked_by, severity, group_key, suppressed, resolved_ms, resolved_by, outcome, note, team, escalation, "
    "escalation_level, published_by, delivered_node";
inline constexpr int alert_column_count = 24;

inline std::string select_alerts(std::string_view rest) {
    return std::string{"SELECT "} + alert_columns + " FROM alerts " + std::string{rest};
}

// Reads the columns listed in alert_columns, from `col` on.
stored_alert read_alert(pg::result const& r, int row, int col = 0);

// A UUID's 16 bytes, from its canonical text (is_alert_id).
std::string uuid_bytes(std::string_view canonical);

// Users' head rows: made ($1 text[]) and locked, in one order, by every
// transaction that gives seqs; then the per-user count trimmed ($1 users,
// $2 the count).
extern pg::statement const add_users;
extern pg::statement const lock_users;
extern pg::statement const trim_users;
// For the calls that read under locks before they write: an explicit
// transaction over several pipelines.
extern pg::statement const begin_sql;
extern pg::statement const commit_sql;

// Locks the copies of the alerts $1 (uuid[]), in (id, user) order: what every
// transition and escalation does first, so that they take turns per alert.
extern pg::statement const lock_copies;
// The copies of the alerts $1 (uuid[]), by id and then in the order they
// were made: read after lock_copies, by a statement of its own, so that it
// sees a copy an escalation committed while this one waited for the lock.
extern pg::statement const read_copies;

// An alert's copies, in the order they were made.
using copies_by_id = std::map<std::string, std::vector<stored_alert>, std::less<>>;
copies_by_id copies_of(pg::result const& read);

// Applies the transitions, in order, to the copies (read under their locks)
// and appends what makes them durable to `steps`: each changed alert's new
// state on every copy, an audit event, the escalation timer stopped or
// started again, and one webhook outbox row per URL. `copies` must outlive
// the steps' run (their parameters view it).
std::vector<transition_result> apply_transitions(std::vector<transition_request> const& transitions,
                                                 copies_by_id& copies, std::int64_t now_ms,
                                                 std::vector<std::string> const& webhook_urls,
                                                 std::vector<pg::step>& steps);

}  // namespace vigil::pgrows
