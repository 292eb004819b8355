#include "store/postgres_alert_store.hpp"

#include "common/clock.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "store/pg_connection.hpp"
#include "store/pg_pool.hpp"
#include "store/postgres_rows.hpp"
#include "store/postgres_with_connection.ipp"

#include <algorithm>
#include <ctime>
#include <map>
#include <optional>
#include <set>

namespace vigil {

namespace pgrows {

stored_alert read_alert(pg::result const& r, int row, int col) {
    stored_alert a;
    a.alert_id = r.string(row, col);
    a.user_id = r.string(row, col + 1);
    a.seq = static_cast<std::uint64_t>(r.integer(row, col + 2));
    a.stream_id = r.string(row, col + 3);
    a.detection_json = r.string(row, col + 4);
    a.timestamp = r.string(row, col + 5);
    a.created_ms = r.integer(row, col + 6);
    if (!r.is_null(row, col + 7)) a.frame_content_type = r.string(row, col + 7);
    a.first_delivered_ms = r.optional_integer(row, col + 8);
    a.delivery_count = r.integer(row, col + 9);
    a.acked_ms = r.optional_integer(row, col + 10);
    if (!r.is_null(row, col + 11)) a.acked_by = r.string(row, col + 11);
    a.severity = r.string(row, col + 12);
    a.group_key = r.string(row, col + 13);
    a.suppressed = r.boolean(row, col + 14);
    a.resolved_ms = r.optional_integer(row, col + 15);
    a.resolved_by = r.string(row, col + 16);
    a.outcome = r.string(row, col + 17);
    a.note = r.string(row, col + 18);
    a.team = r.string(row, col + 19);
    a.escalation = r.string(row, col + 20);
    a.escalation_level = int(r.integer(row, col + 21));
    a.published_by = r.string(row, col + 22);
    a.delivered_node = r.string(row, col + 23);
    return a;
}

std::string uuid_bytes(std::string_view canonical) {
    std::string out;
    out.reserve(16);
    auto const v = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    for (std::size_t i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            ++i;
            continue;
        }
        out.push_back(char(v(canonical[i]) << 4 | v(canonical[i + 1])));
        i += 2;
    }
    return out;
}

copies_by_id copies_of(pg::result const& read) {
    copies_by_id out;
    for (int row = 0; row < read.rows(); ++row) {
        auto a = read_alert(read, row);
        auto& v = out[a.alert_id];
        v.push_back(std::move(a));
    }
    return out;
}

// New users get a head row (a concurrent writer creating the same one
// waits for this transaction, then finds it).
pg::statement const add_users{
    "vigil_add_users",
    "INSERT INTO users (user_id, last_seq) SELECT u, 0 FROM unnest($1::text[]) AS u ORDER BY u COLLATE \"C\" "
    "ON CONFLICT (user_id) DO NOTHING"};

// Every writer locks the head rows of its batch's users in the same order
// (no deadlock between two batches), before it reads anything else: from
// here on this transaction is the only writer of these users, and the next
// statement's snapshot holds every commit of the writers before it.
pg::statement const lock_users{
    "vigil_lock_users",
    "SELECT user_id FROM users WHERE user_id = ANY($1::text[]) ORDER BY user_id COLLATE \"C\" FOR UPDATE"};

// The per-user count: what the batch's users have beyond it goes. An
// alert's frame moves to a copy that stays; its events and timer go with
// its last copy. Only an alert of a team or with a policy has other
// copies (the first of them copy_no 0): the others are not looked for.
// (Rows are found through `= ANY(ARRAY(...))`, an index probe per id per
// partition, where a join could be planned as a scan of every partition.)
pg::statement const trim_users{"vigil_trim_users", R"sql(
WITH gone AS (
    DELETE FROM alerts a USING users u
    WHERE u.user_id = ANY($1::text[]) AND a.user_id = u.user_id AND a.seq <= u.last_seq - $2::int8
    RETURNING a.id, a.user_id, a.frame IS NOT NULL AS held_frame,
              a.team <> '' OR a.escalation <> '' OR a.copy_no > 0 AS shared
),
kept AS (
    SELECT DISTINCT ON (a.id) a.id, a.user_id FROM alerts a
    WHERE a.id = ANY(ARRAY(SELECT id FROM gone WHERE shared))
      AND NOT EXISTS (SELECT 1 FROM gone g WHERE g.id = a.id AND g.user_id = a.user_id)
    ORDER BY a.id, a.copy_no
),
moves AS (
    SELECT k.id, k.user_id FROM kept k WHERE EXISTS (SELECT 1 FROM gone g WHERE g.id = k.id AND g.held_frame)
),
frames AS (
    UPDATE alerts a SET frame = (SELECT x.frame FROM alerts x WHERE x.id = a.id AND x.frame IS NOT NULL LIMIT 1)
    WHERE a.id = ANY(ARRAY(SELECT id FROM moves)) AND a.user_id = ANY(ARRAY(SELECT user_id FROM moves))
      AND EXISTS (SELECT 1 FROM moves m WHERE m.id = a.id AND m.user_id = a.user_id)
),
events AS (
    DELETE FROM alert_events WHERE alert_id = ANY(ARRAY(SELECT id FROM gone EXCEPT SELECT id FROM kept))
),
timers AS (
    DELETE FROM escalation_timers WHERE alert_id = ANY(ARRAY(SELECT id FROM gone EXCEPT SELECT id FROM kept))
)
SELECT count(*) FROM gone
)sql"};

// Explicit transactions, for the calls that read under locks before they
// write (transitions, escalations): statements of several pipelines.
pg::statement const begin_sql{"vigil_begin", "BEGIN"};
pg::statement const commit_sql{"vigil_commit", "COMMIT"};

pg::statement const lock_copies{"vigil_lock_copies",
                                "SELECT 1 FROM alerts WHERE id = ANY($1::uuid[]) ORDER BY id, user_id FOR UPDATE"};
pg::statement const read_copies{"vigil_read_copies",
                                select_alerts("WHERE id = ANY($1::uuid[]) ORDER BY id, copy_no, user_id")};

}  // namespace pgrows

namespace {

using pg::clock;

// Schema migrations, applied in order; migrations[i] takes schema_version i
// to i+1. They run in the store's schema (search_path), in one transaction
// with the version's update.
constexpr char const* migrations[] = {
    R"sql(
    CREATE TABLE users (
        user_id  text PRIMARY KEY,
        last_seq bigint NOT NULL       -- the user's last seq: locked and moved on by each publish, kept by pruning
    );
    CREATE TABLE alerts (
        id                 uuid NOT NULL,   -- UUIDv7; its first 48 bits: created_ms (or the ms after)
        user_id            text NOT NULL,
        seq                bigint NOT NULL, -- unique per user: given under the user's head row lock
        stream_id          text NOT NULL,
        detection          text NOT NULL,   -- JSON object, verbatim
        ts                 text NOT NULL,   -- the producer's timestamp (ISO-8601)
        created_ms         bigint NOT NULL,
        idempotency_key    text,            -- unique per user: looked up under the head row lock
        frame_type         text,
        frame              bytea,
        first_delivered_ms bigint,
        delivery_count     bigint NOT NULL DEFAULT 0,
        acked_ms           bigint,
        acked_by           text,
        xid                xid8 NOT NULL DEFAULT pg_current_xact_id(),  -- the inserting transaction: the feed's order
        PRIMARY KEY (id)
    ) PARTITION BY RANGE (id);
    -- JPEG and PNG do not compress: stored out of line as they are.
    ALTER TABLE alerts ALTER COLUMN frame SET STORAGE EXTERNAL;
    CREATE INDEX alerts_user_seq ON alerts (user_id, seq);
    CREATE INDEX alerts_idempotency ON alerts (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE INDEX alerts_feed ON alerts (xid, id);
    )sql",
    // 2: severity, group key and suppression (SPEC sections 7 and 8), and
    // what Web Push keeps per user (store/push_state.hpp). Alerts stored
    // before have the default severity and their stream as their group.
    R"sql(
    ALTER TABLE alerts ADD COLUMN severity text NOT NULL DEFAULT 'medium';
    ALTER TABLE alerts ADD COLUMN group_key text NOT NULL DEFAULT '';
    ALTER TABLE alerts ADD COLUMN suppressed bool NOT NULL DEFAULT false;
    ALTER TABLE alerts ADD COLUMN pushed_ms bigint;
    UPDATE alerts SET group_key = left(stream_id, 128);
    CREATE TABLE push_subscriptions (
        endpoint   text PRIMARY KEY,        -- one browser's; it follows whoever subscribed it last
        user_id    text NOT NULL,
        p256dh     bytea NOT NULL,
        auth       bytea NOT NULL,
        created_ms bigint NOT NULL
    );
    CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);
    CREATE TABLE push_snoozes (
        user_id   text NOT NULL,
        stream_id text NOT NULL,
        until_ms  bigint NOT NULL,
        PRIMARY KEY (user_id, stream_id)
    );
    CREATE TABLE push_quiet_hours (
        user_id            text PRIMARY KEY,
        start_minute       int NOT NULL,
        end_minute         int NOT NULL,
        utc_offset_minutes int NOT NULL,
        severities         int NOT NULL     -- bit 0 low, 1 medium, 2 high
    );
    CREATE TABLE push_groups (
        user_id    text NOT NULL,
        topic      text NOT NULL,
        started_ms bigint NOT NULL,         -- the window's first push
        count      bigint NOT NULL,
        PRIMARY KEY (user_id, topic)
    );
    )sql",
    // 3: handling (docs/handling.md). An alert has a copy per recipient, all
    // under its id: unique per (id, user), each carrying the alert's one
    // state. Alerts stored before are single copies, open or acknowledged as
    // they were, of no team and no policy.
    R"sql(
    ALTER TABLE alerts
        ADD COLUMN copy_no int NOT NULL DEFAULT 0,           -- the order the alert's copies were made in
        ADD COLUMN team text NOT NULL DEFAULT '',
        ADD COLUMN escalation text NOT NULL DEFAULT '',      -- the policy's name
        ADD COLUMN escalation_level int NOT NULL DEFAULT 0,
        ADD COLUMN resolved_ms bigint,
        ADD COLUMN resolved_by text NOT NULL DEFAULT '',
        ADD COLUMN outcome text NOT NULL DEFAULT '',
        ADD COLUMN note text NOT NULL DEFAULT '',
        ADD COLUMN published_by text NOT NULL DEFAULT '',
        ADD COLUMN delivered_node text NOT NULL DEFAULT '';   -- the node of the copy's first delivery
    ALTER TABLE alerts DROP CONSTRAINT alerts_pkey;
    ALTER TABLE alerts ADD PRIMARY KEY (id, user_id);
    CREATE TABLE teams (
        name       text PRIMARY KEY,
        members    text NOT NULL,                            -- JSON array of user ids
        escalation text NOT NULL,                            -- JSON object: severity or "default" -> policy
        updated_ms bigint NOT NULL
    );
    CREATE TABLE escalation_policies (
        name       text PRIMARY KEY,
        steps      text NOT NULL,                            -- JSON array of {notify, ack_within_seconds}
        repeat     int NOT NULL,
        updated_ms bigint NOT NULL
    );
    -- Keyed by alert id: an alert's events and timer go with its last copy,
    -- and with the partition that held it (prune_expired).
    CREATE TABLE alert_events (
        alert_id uuid NOT NULL,
        n        bigint GENERATED ALWAYS AS IDENTITY,        -- the order they were recorded in
        type     text NOT NULL,                              -- escalated, acknowledged, resolved, reopened
        actor    text NOT NULL,
        at_ms    bigint NOT NULL,
        detail   text NOT NULL,                              -- JSON object
        PRIMARY KEY (alert_id, n)
    );
    CREATE TABLE escalation_timers (
        alert_id uuid PRIMARY KEY,
        policy   text NOT NULL,
        step     int NOT NULL,
        round    int NOT NULL,
        due_ms   bigint NOT NULL                             -- moved on by a claim's lease
    );
    CREATE INDEX escalation_timers_due ON escalation_timers (due_ms);
    CREATE TABLE webhook_outbox (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        url        text NOT NULL,
        body       text NOT NULL,                            -- sent and signed as written
        attempts   int NOT NULL DEFAULT 0,
        due_ms     bigint NOT NULL,                          -- moved on by a claim's lease and by failures
        created_ms bigint NOT NULL
    );
    CREATE INDEX webhook_outbox_due ON webhook_outbox (due_ms);
    )sql",
};
static_assert(std::size(migrations) == postgres_alert_store::schema_version);

using pgrows::add_users;
using pgrows::alert_column_count;
using pgrows::alert_columns;
using pgrows::begin_sql;
using pgrows::commit_sql;
using pgrows::lock_users;
using pgrows::read_alert;
using pgrows::select_alerts;
using pgrows::trim_users;
using pgrows::uuid_bytes;

// ------------------------------------------------------------ statements

// "a.id, a.user_id, ...": the alert columns of the table aliased `alias`.
std::string qualified_columns(std::string_view alias) {
    std::string out;
    std::string_view rest = alert_columns;
    while (!rest.empty()) {
        auto const comma = rest.find(", ");
        if (!out.empty()) out += ", ";
        out += std::string{alias} + "." + std::string{rest.substr(0, comma)};
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 2);
    }
    return out;
}

// The batch's alerts (no two with the same user and key: the caller keeps
// the first). Those whose key the user already has come back with that
// alert (dup, then its columns); the others get the next seqs of their
// users in batch order (seq), and the copies of one alert their order among
// its copies. A deadline arms the alert's escalation timer, once per alert.
pg::statement const insert_alerts{"vigil_insert_alerts", std::string{R"sql(
WITH input AS (
    SELECT * FROM unnest($1::int4[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::text[], $9::bytea[], $10::bool[], $12::text[], $13::text[], $14::bool[], $15::text[],
                         $16::text[], $17::int4[], $18::int8[], $19::text[], $20::bool[])
        AS t(ord, id, user_id, stream_id, detection, ts, idempotency_key, frame_type, frame, delivered, severity,
             group_key, suppressed, team, escalation, escalation_level, due_ms, published_by, preset)
),
earlier AS (
    SELECT i.ord, )sql"} + qualified_columns("a") + R"sql(
    FROM input i JOIN alerts a ON a.user_id = i.user_id AND a.idempotency_key = i.idempotency_key
),
fresh AS (
    SELECT i.*, row_number() OVER (PARTITION BY i.user_id ORDER BY i.ord) AS n,
           row_number() OVER (PARTITION BY i.id ORDER BY i.ord) - 1 AS k
    FROM input i WHERE NOT EXISTS (SELECT 1 FROM earlier e WHERE e.ord = i.ord)
),
heads AS (
    UPDATE users u SET last_seq = u.last_seq + c.n
    FROM (SELECT user_id, count(*) AS n FROM fresh GROUP BY user_id) c
    WHERE u.user_id = c.user_id
    RETURNING u.user_id, u.last_seq - c.n AS base
),
inserted AS (
    INSERT INTO alerts (id, user_id, seq, stream_id, detection, ts, created_ms, idempotency_key, frame_type, frame,
                        first_delivered_ms, delivery_count, severity, group_key, suppressed, copy_no, team,
                        escalation, escalation_level, published_by, delivered_node)
    SELECT f.id, f.user_id, h.base + f.n, f.stream_id, f.detection, f.ts, $11::int8, f.idempotency_key,
           f.frame_type, f.frame, CASE WHEN f.delivered THEN $11::int8 END, CASE WHEN f.delivered THEN 1 ELSE 0 END,
           f.severity, f.group_key, f.suppressed,
           -- an id the caller gave may have copies from before
           f.k + coalesce((SELECT max(x.copy_no) + 1 FROM alerts x WHERE f.preset AND x.id = f.id), 0),
           f.team, f.escalation, f.escalation_level, f.published_by,
           CASE WHEN f.delivered THEN $21::text ELSE '' END
    FROM fresh f JOIN heads h ON h.user_id = f.user_id
    RETURNING id, user_id, seq
),
timers AS (
    INSERT INTO escalation_timers (alert_id, policy, step, round, due_ms)
    SELECT DISTINCT ON (f.id) f.id, f.escalation, 0, 0, f.due_ms FROM fresh f WHERE f.due_ms IS NOT NULL
    ORDER BY f.id, f.ord
    ON CONFLICT (alert_id) DO NOTHING
)
SELECT i.ord, e.ord IS NOT NULL, s.seq, )sql" + qualified_columns("e") +
                                                             R"sql(
FROM input i LEFT JOIN earlier e ON e.ord = i.ord LEFT JOIN inserted s ON s.id = i.id AND s.user_id = i.user_id
)sql"};

// Deliveries of copies ($1 ids, $2 users, once per delivery): the first
// one records when and on which node.
pg::statement const record_deliveries{
    "vigil_delivered",
    "UPDATE alerts a SET delivery_count = a.delivery_count + d.n, "
    "first_delivered_ms = coalesce(a.first_delivered_ms, $3::int8), "
    "delivered_node = CASE WHEN a.first_delivered_ms IS NULL THEN $4::text ELSE a.delivered_node END "
    "FROM (SELECT id, user_id, count(*) AS n FROM unnest($1::uuid[], $2::text[]) AS t(id, user_id) "
    "GROUP BY id, user_id) d WHERE a.id = d.id AND a.user_id = d.user_id"};

// A replay page and the head it is read against, in one snapshot. A copy
// whose frame is kept on another copy reads it there.
std::string after_sql(bool unacked_only, bool with_frames) {
    return std::string{
               "SELECT h.head, a.* FROM "
               "(SELECT coalesce((SELECT last_seq FROM users WHERE user_id = $1::text), 0) AS head) h "
               "LEFT JOIN LATERAL (SELECT "} +
           alert_columns +
           (with_frames ? ", CASE WHEN o.frame IS NULL AND o.frame_type IS NOT NULL THEN (SELECT x.frame FROM "
                          "alerts x WHERE x.id = o.id AND x.frame IS NOT NULL LIMIT 1) ELSE o.frame END"
                        : "") +
           " FROM alerts o WHERE user_id = $1::text AND seq > $2::int8" +
           (unacked_only ? " AND acked_ms IS NULL" : "") + " ORDER BY seq LIMIT $3::int8) a ON true ORDER BY a.seq";
}
pg::statement const after_statements[4] = {
    {"vigil_after", after_sql(false, false)},
    {"vigil_after_unacked", after_sql(true, false)},
    {"vigil_after_frames", after_sql(false, true)},
    {"vigil_after_unacked_frames", after_sql(true, true)},
};

// The alert: its first copy, or one user's.
pg::statement const get_alert{"vigil_get", select_alerts("WHERE id = $1::uuid ORDER BY copy_no, user_id LIMIT 1")};
pg::statement const get_copy{"vigil_get_copy", select_alerts("WHERE id = $1::uuid AND user_id = $2::text")};

// The feed: alerts of transactions that finished before this snapshot's
// oldest running one (its xmin) and after the cursor, in (xid, id) order.
// Every transaction below the xmin has ended, so a later read never finds
// one it should have seen here: each alert comes once, in commit order of
// its writers' head-row locks (one user's transactions end in seq order).
pg::statement const feed_now{"vigil_feed_now", "SELECT pg_snapshot_xmin(pg_current_snapshot())::text"};
pg::statement const feed_page_sql{
    "vigil_feed",
    std::string{"SELECT h.horizon::text, a.xid::text, a.* FROM "
                "(SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon) h "
                "LEFT JOIN LATERAL (SELECT xid, "} +
        alert_columns +
        " FROM alerts WHERE (xid, id) > ($1::xid8, $2::uuid) AND xid < h.horizon ORDER BY xid, id LIMIT $3::int8) a "
        "ON true ORDER BY a.xid, a.id"};
pg::statement const get_frame{"vigil_frame",
                              "SELECT frame_type, frame FROM alerts WHERE id = $1::uuid AND frame IS NOT NULL LIMIT 1"};
pg::statement const get_last_seq{"vigil_last_seq", "SELECT last_seq FROM users WHERE user_id = $1::text"};

// History, by whether a user, a cursor and a team are given and by state:
// each its own plan (a user's alerts by index, everyone's in id order).
std::string history_sql(bool user, bool cursor, bool team, state_filter status) {
    std::string where = "WHERE true";
    int n = 0;
    if (user) where += " AND user_id = $" + std::to_string(++n) + "::text";
    if (cursor) where += " AND id < $" + std::to_string(++n) + "::uuid";
    if (team) where += " AND team = $" + std::to_string(++n) + "::text";
    switch (status) {
        case state_filter::all: break;
        case state_filter::open: where += " AND acked_ms IS NULL"; break;
        case state_filter::acknowledged: where += " AND acked_ms IS NOT NULL AND resolved_ms IS NULL"; break;
        case state_filter::resolved: where += " AND resolved_ms IS NOT NULL"; break;
        case state_filter::acked: where += " AND acked_ms IS NOT NULL"; break;
    }
    return select_alerts(where + " ORDER BY id DESC, user_id LIMIT $" + std::to_string(++n) + "::int8");
}
struct history_statements {
    static constexpr int filters = 5;  // state_filter's values
    static constexpr int count = 8 * filters;
    std::vector<std::string> names;
    std::vector<pg::statement> all;
    history_statements() {
        names.reserve(count);  // the statements point into these strings: never moved
        all.reserve(count);
        for (int i = 0; i < count; ++i) {
            names.push_back("vigil_history_" + std::to_string(i));
            all.push_back({names.back().c_str(), history_sql(i & 1, i & 2, i & 4, static_cast<state_filter>(i >> 3))});
        }
    }
    pg::statement const& of(bool user, bool cursor, bool team, state_filter f) const {
        return all[std::size_t((user ? 1 : 0) | (cursor ? 2 : 0) | (team ? 4 : 0) | (static_cast<int>(f) << 3))];
    }
};
history_statements const history_by_kind;

// An age shorter than a partition: the oldest alerts, every copy of each,
// with their events and timers.
pg::statement const prune_rows{"vigil_prune_rows", R"sql(
WITH expired AS (
    SELECT ARRAY(SELECT DISTINCT id FROM alerts WHERE id < $1::uuid ORDER BY id LIMIT $2::int8) AS ids
),
gone AS (DELETE FROM alerts WHERE id = ANY((SELECT ids FROM expired)::uuid[]) RETURNING id),
events AS (DELETE FROM alert_events WHERE alert_id = ANY((SELECT ids FROM expired)::uuid[])),
timers AS (DELETE FROM escalation_timers WHERE alert_id = ANY((SELECT ids FROM expired)::uuid[]))
SELECT count(*) FROM gone
)sql"};
// What belonged to alerts below the oldest partition (dropped with theirs).
pg::statement const prune_events_below{"vigil_prune_events", "DELETE FROM alert_events WHERE alert_id < $1::uuid"};
pg::statement const prune_timers_below{"vigil_prune_timers", "DELETE FROM escalation_timers WHERE alert_id < $1::uuid"};
pg::statement const try_lock{"vigil_try_lock", "SELECT pg_try_advisory_lock(hashtext($1::text))"};
pg::statement const unlock{"vigil_unlock", "SELECT pg_advisory_unlock(hashtext($1::text))"};
pg::statement const list_partitions_sql{
    "vigil_partitions",
    "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), i.inhdetachpending FROM pg_inherits i "
    "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'alerts'::regclass"};
pg::statement const orphan_partitions{
    "vigil_orphans",
    "SELECT c.relname FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = "
    "current_schema()) AND c.relkind = 'r' "
    "AND c.relname LIKE 'alerts\\_%' AND NOT c.relispartition"};

// ------------------------------------------------------------------ ids

bool hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool dash_at(std::size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

// Alert ids as written: 36 characters, lowercase hex and four dashes.
bool canonical_uuid(std::string_view s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < 36; ++i)
        if (dash_at(i) ? s[i] != '-' : !hex_digit(s[i])) return false;
    return true;
}

// The least id of the millisecond `ms`: a partition bound.
std::string uuid_at(std::int64_t ms) {
    static constexpr char hex[] = "0123456789abcdef";
    auto const t = static_cast<std::uint64_t>(std::clamp<std::int64_t>(ms, 0, 0xffff'ffff'ffffLL));
    std::string out = "00000000-0000-0000-0000-000000000000";
    for (int i = 0; i < 12; ++i) out[std::size_t(i < 8 ? i : i + 1)] = hex[(t >> (44 - 4 * i)) & 0xf];
    return out;
}

std::int64_t ms_of_uuid(std::string_view u) {
    std::int64_t v = 0;
    for (std::size_t i = 0; i < 13; ++i) {
        if (i == 8) continue;
        char const c = i < u.size() ? u[i] : '0';
        v = v << 4 | (c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return v;
}

// The history cursor: ids are compared as text by the other engines, so a
// cursor that is not an id means "ids below it as text". That is the same
// as "ids below the least id (as text) not below it", which this returns;
// none when every id is below the cursor.
std::optional<std::string> least_id_not_below(std::string_view s) {
    auto const next_above = [](std::size_t pos, char c) -> std::optional<char> {
        if (dash_at(pos)) return c < '-' ? std::optional<char>{'-'} : std::nullopt;
        if (c < '0') return '0';
        if (c < '9') return char(c + 1);
        if (c < 'a') return 'a';
        if (c < 'f') return char(c + 1);
        return std::nullopt;
    };
    auto const complete = [](std::string prefix) {
        for (std::size_t i = prefix.size(); i < 36; ++i) prefix.push_back(dash_at(i) ? '-' : '0');
        return prefix;
    };
    std::size_t k = 0;  // the longest prefix of s that ids can start with
    while (k < s.size() && k < 36 && (dash_at(k) ? s[k] == '-' : hex_digit(s[k]))) ++k;
    if (k == s.size()) return complete(std::string{s});  // s itself, or s completed with the least digits
    // s leaves the id form at k (or runs past 36): the least id above s
    // differs from it at k or before, by a greater character there.
    for (std::size_t i = std::min<std::size_t>(k, 35) + 1; i-- > 0;) {
        if (i >= s.size()) continue;
        if (auto const c = next_above(i, s[i])) return complete(std::string{s.substr(0, i)} + *c);
    }
    return std::nullopt;
}

// ------------------------------------------------------------ partitions

std::string quote_ident(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    return out + "\"";
}

std::string quote_literal(std::string_view text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') out.push_back('\'');
        out.push_back(c);
    }
    return out + "'";
}

std::string partition_name(std::int64_t from_ms) {
    std::time_t const t = from_ms / 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d_%H%M%S", &tm);
    return std::string{"alerts_"} + buf;
}

// "FOR VALUES FROM ('lo') TO ('hi')": the two uuids' times.
std::optional<std::pair<std::int64_t, std::int64_t>> parse_bound(std::string_view b) {
    auto const lo = b.find('\'');
    if (lo == std::string_view::npos) return std::nullopt;
    auto const lo_end = b.find('\'', lo + 1);
    if (lo_end == std::string_view::npos) return std::nullopt;
    auto const hi = b.find('\'', lo_end + 1);
    if (hi == std::string_view::npos) return std::nullopt;
    auto const hi_end = b.find('\'', hi + 1);
    if (hi_end == std::string_view::npos) return std::nullopt;
    return std::pair{ms_of_uuid(b.substr(lo + 1, lo_end - lo - 1)), ms_of_uuid(b.substr(hi + 1, hi_end - hi - 1))};
}

bool valid_schema_name(std::string_view s) {
    if (s.empty() || s.size() > 63 || !(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
    });
}

struct partition_row {
    alert_partition range;
    bool detach_pending = false;
};

}  // namespace

// ------------------------------------------------------------------ store

postgres_alert_store::postgres_alert_store(postgres_options options) : options_(std::move(options)) {
    if (!valid_schema_name(options_.schema))
        throw store_error("postgres: schema name must be 1-63 characters of [a-z0-9_], not starting with a digit");
    if (options_.partition_ms < 1000 || options_.partition_ms % 1000)
        throw store_error("postgres: partition_ms must be a whole number of seconds");
    if (options_.timeout.count() <= 0) throw store_error("postgres: the timeout must be positive");
    pg::pool_options po;
    po.conninfo = options_.url;
    po.size = options_.pool_size;
    po.session = {{"statement_timeout", std::to_string(options_.timeout.count())},
                  {"search_path", options_.schema},
                  {"client_encoding", "UTF8"},
                  {"bytea_output", "hex"},
                  {"client_min_messages", "warning"},
                  // Every statement is written for a generic plan (equalities
                  // on indexed columns, partitions pruned at run time). The
                  // custom plans PostgreSQL tries first cost ~90 ms each to
                  // plan against 31 partitions, against ~1 ms to run.
                  {"plan_cache_mode", "force_generic_plan"}};
    pool_ = std::make_unique<pg::pool>(std::move(po));
    migrate();
    auto const now = now_ms();
    with_connection(true, [&](pg::connection& c, clock::time_point) {
        ensure_partitions(c, now,
                          now / options_.partition_ms * options_.partition_ms +
                              (options_.partitions_ahead + 1) * options_.partition_ms);
        return 0;
    });
    log::info("store.postgres_open", {{"url", pool_->redacted_conninfo()},
                                      {"schema", options_.schema},
                                      {"epoch", epoch_},
                                      {"pool", options_.pool_size}});
}

postgres_alert_store::~postgres_alert_store() = default;

void postgres_alert_store::note_status(bool up, std::string detail) {
    std::lock_guard lock{status_mutex_};
    if (status_.up == up && up) return;
    if (status_.up != up) {
        if (up)
            log::info("store.postgres_up", {});
        else
            log::warn("store.postgres_down", {{"error", detail}});
    }
    status_ = {up, std::move(detail)};
}

store_status postgres_alert_store::status() const {
    std::lock_guard lock{status_mutex_};
    return status_;
}

void postgres_alert_store::migrate() {
    auto const deadline = clock::now() + options_.migrate_timeout;
    auto c = pool_->acquire(deadline);
    try {
        if (auto const enc = c->exec("SHOW server_encoding", deadline).string(0, 0);
            enc != "UTF8" && enc != "SQL_ASCII")
            throw store_error("postgres: the database's encoding is " + enc + "; vigil needs UTF8");
        c->exec("BEGIN", deadline);
        // Waiting for another node's migration is bounded by migrate_timeout.
        c->exec("SET LOCAL statement_timeout = " + std::to_string(options_.migrate_timeout.count()), deadline);
        c->exec("SELECT pg_advisory_xact_lock(hashtext(" + quote_literal("vigil.migrate." + options_.schema) + "))",
                deadline);
        c->exec("CREATE SCHEMA IF NOT EXISTS " + quote_ident(options_.schema), deadline);
        c->exec("SET LOCAL search_path = " + quote_ident(options_.schema), deadline);
        c->exec("CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL)", deadline);
        int version = 0;
        if (auto const r = c->exec("SELECT value FROM meta WHERE key = 'schema_version'", deadline); r.rows())
            version = int(r.integer(0, 0));
        if (version > schema_version)
            throw store_error("postgres: schema " + options_.schema + " has version " + std::to_string(version) +
                              ", newer than this build's " + std::to_string(schema_version));
        for (int v = version; v < schema_version; ++v) c->exec(migrations[v], deadline);
        if (version < schema_version) {
            c->exec("INSERT INTO meta (key, value) VALUES ('schema_version', '" + std::to_string(schema_version) +
                        "') ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    deadline);
            // A new database numbers from a new epoch.
            c->exec(
                "INSERT INTO meta (key, value) VALUES ('epoch', '" + new_epoch() + "') ON CONFLICT (key) DO NOTHING",
                deadline);
            log::info("store.postgres_migrated",
                      {{"schema", options_.schema}, {"from", version}, {"to", schema_version}});
        }
        epoch_ = c->exec("SELECT value FROM meta WHERE key = 'epoch'", deadline).string(0, 0);
        c->exec("COMMIT", deadline);
    } catch (...) {
        c.discard();  // in a transaction that failed: closing it rolls back
        throw;
    }
    if (epoch_.empty()) throw store_error("postgres: schema " + options_.schema + " has no epoch in its meta table");
}

std::vector<alert_partition> postgres_alert_store::list_partitions(pg::connection& c, bool with_pending,
                                                                   clock::time_point deadline) {
    auto const r = c.run(list_partitions_sql, {}, deadline);
    std::vector<alert_partition> out;
    for (int i = 0; i < r.rows(); ++i) {
        if (!with_pending && r.boolean(i, 2)) continue;
        auto const bound = parse_bound(r.text(i, 1));
        if (!bound) continue;
        out.push_back({r.string(i, 0), bound->first, bound->second});
    }
    std::sort(out.begin(), out.end(), [](auto const& a, auto const& b) { return a.from_ms < b.from_ms; });
    return out;
}

std::vector<alert_partition> postgres_alert_store::partitions() {
    return with_connection(
        true, [&](pg::connection& c, clock::time_point deadline) { return list_partitions(c, false, deadline); });
}

// Creates the partitions that cover [from_ms, to_ms), each one
// partition_ms wide on a multiple of it, or narrower where partitions made
// with another width already cover part of it. One transaction, under an
// advisory lock: nodes doing it at once create each partition once.
void postgres_alert_store::ensure_partitions(pg::connection& c, std::int64_t from_ms, std::int64_t to_ms) {
    auto const deadline = clock::now() + options_.timeout + std::chrono::milliseconds{500};
    auto const w = options_.partition_ms;
    from_ms = std::max<std::int64_t>(from_ms, 0) / w * w;
    // Without the lock, a quick look: usually all are there.
    auto existing = list_partitions(c, true, deadline);
    auto const gaps = [&] {
        std::vector<std::pair<std::int64_t, std::int64_t>> out;
        for (auto t = from_ms; t < to_ms; t += w) {
            auto lo = t;
            auto const hi = t + w;
            for (auto const& p : existing) {  // sorted by from_ms
                if (p.to_ms <= lo || p.from_ms >= hi) continue;
                if (p.from_ms > lo) out.emplace_back(lo, p.from_ms);
                lo = std::max(lo, p.to_ms);
            }
            if (lo < hi) out.emplace_back(lo, hi);
        }
        return out;
    };
    if (gaps().empty()) return;
    c.exec("BEGIN", deadline);
    try {
        c.exec("SELECT pg_advisory_xact_lock(hashtext(" + quote_literal("vigil.partitions." + options_.schema) + "))",
               deadline);
        existing = list_partitions(c, true, deadline);
        for (auto const& [lo, hi] : gaps()) {
            auto const name = quote_ident(partition_name(lo));
            // A table of that name that is no partition is what a prune
            // detached and did not get to drop.
            c.exec("DROP TABLE IF EXISTS " + name, deadline);
            c.exec("CREATE TABLE " + name + " (LIKE alerts INCLUDING DEFAULTS INCLUDING STORAGE)", deadline);
            // ATTACH, unlike CREATE ... PARTITION OF, leaves the table's
            // readers and writers running (SHARE UPDATE EXCLUSIVE).
            c.exec("ALTER TABLE alerts ATTACH PARTITION " + name + " FOR VALUES FROM ('" + uuid_at(lo) + "') TO ('" +
                       uuid_at(hi) + "')",
                   deadline);
            log::info("store.partition_created", {{"schema", options_.schema}, {"partition", partition_name(lo)}});
        }
        c.exec("COMMIT", deadline);
    } catch (...) {
        try {
            c.exec("ROLLBACK", deadline);
        } catch (...) {
            // The connection is marked broken: the pool closes it.
        }
        throw;
    }
}

write_result postgres_alert_store::write(write_batch const& batch, std::int64_t now_ms) {
    if (batch.empty()) return {};
    std::vector<std::string> ids;
    ids.reserve(batch.alerts.size());
    for (auto const& a : batch.alerts) {
        if (a.alert_id.empty()) {
            ids.push_back(new_alert_id(now_ms));
        } else {
            if (!is_alert_id(a.alert_id)) throw store_error("postgres: not an alert id: " + a.alert_id);
            ids.push_back(a.alert_id);
        }
    }
    return with_connection(false, [&](pg::connection& c, clock::time_point deadline) {
        bool partitions_made = false;
        for (int attempt = 0;; ++attempt) {
            try {
                return write_once(c, batch, now_ms, ids, deadline);
            } catch (pg::error const& e) {
                if (e.connection_lost) throw;
                if (e.sqlstate == pg::sqlstate::check_violation && !partitions_made && !ids.empty()) {
                    // No partition for these ids yet (a clock far from the
                    // partitions made ahead, or ids given by the caller):
                    // make them and write again.
                    auto const [lo, hi] = std::minmax_element(ids.begin(), ids.end());
                    ensure_partitions(c, ms_of_uuid(*lo), ms_of_uuid(*hi) + 1);
                    partitions_made = true;
                    continue;
                }
                if ((e.sqlstate == pg::sqlstate::deadlock || e.sqlstate == pg::sqlstate::serialization) &&
                    attempt < 3 && clock::now() < deadline)
                    continue;  // rolled back: nothing of it applied
                throw;
            }
        }
    });
}

// One pipeline: one round trip and one implicit transaction. A batch with
// transitions takes two (an explicit transaction): its alerts and the
// transitions' copies locked and read, then the changes and the commit,
// as the changes' webhook bodies are made from the copies read.
write_result postgres_alert_store::write_once(pg::connection& c, write_batch const& batch, std::int64_t now_ms,
                                              std::vector<std::string> const& ids, clock::time_point deadline) {
    auto const& in = batch.alerts;
    bool const explicit_tx = std::any_of(batch.transitions.begin(), batch.transitions.end(),
                                         [](auto const& t) { return is_alert_id(t.alert_id); });
    std::vector<pg::step> steps;
    if (explicit_tx) steps.push_back({&begin_sql, {}});
    int insert_step = -1;
    // An alert whose user and key an earlier one of the batch has is that
    // one's duplicate: sent once.
    std::vector<int> same_as(in.size(), -1);
    if (!in.empty()) {
        std::vector<std::string_view> users;
        std::map<std::pair<std::string_view, std::string_view>, int> keys;
        std::set<std::string_view> framed;  // ids whose frame bytes one copy of the batch carries
        pg::array ord{pg::array::type::int4}, id{pg::array::type::uuid}, user{pg::array::type::text},
            stream{pg::array::type::text}, detection{pg::array::type::text}, ts{pg::array::type::text},
            key{pg::array::type::text}, frame_type{pg::array::type::text}, frame{pg::array::type::bytea},
            delivered{pg::array::type::boolean}, severity{pg::array::type::text}, group_key{pg::array::type::text},
            suppressed{pg::array::type::boolean}, team{pg::array::type::text}, escalation{pg::array::type::text},
            level{pg::array::type::int4}, due{pg::array::type::int8}, published_by{pg::array::type::text},
            preset{pg::array::type::boolean};
        for (std::size_t i = 0; i < in.size(); ++i) {
            auto const& a = in[i];
            if (!a.idempotency_key.empty()) {
                auto const [it, added] = keys.try_emplace({a.user_id, a.idempotency_key}, int(i));
                if (!added) {
                    same_as[i] = it->second;
                    continue;
                }
            }
            users.push_back(a.user_id);
            ord.add(std::int32_t(i));
            id.add(uuid_bytes(ids[i]));
            user.add(a.user_id);
            stream.add(a.stream_id);
            detection.add(a.detection_json);
            ts.add(a.timestamp);
            if (a.idempotency_key.empty())
                key.add_null();
            else
                key.add(a.idempotency_key);
            if (a.frame) {
                frame_type.add(a.frame->content_type);
                // The frame is kept once per alert: its other copies find it there.
                if (framed.insert(ids[i]).second)
                    frame.add(a.frame->bytes);
                else
                    frame.add_null();
            } else {
                frame_type.add_null();
                frame.add_null();
            }
            delivered.add(a.delivered_on_commit);
            severity.add(a.severity);
            group_key.add(a.group_key);
            suppressed.add(a.suppressed);
            team.add(a.team);
            escalation.add(a.escalation);
            level.add(std::int32_t(a.escalation_level));
            if (a.escalation_due_ms)
                due.add(std::int64_t(*a.escalation_due_ms));
            else
                due.add_null();
            published_by.add(a.published_by);
            preset.add(!a.alert_id.empty());
        }
        std::sort(users.begin(), users.end());
        users.erase(std::unique(users.begin(), users.end()), users.end());
        auto user_list = [&] {
            pg::array a{pg::array::type::text};
            for (auto u : users) a.add(u);
            return std::move(a).finish();
        };
        steps.push_back({&add_users, pg::params{}.binary(user_list())});
        steps.push_back({&lock_users, pg::params{}.binary(user_list())});
        insert_step = int(steps.size());
        pg::params p;
        p.binary(std::move(ord)).binary(std::move(id)).binary(std::move(user)).binary(std::move(stream));
        p.binary(std::move(detection)).binary(std::move(ts)).binary(std::move(key)).binary(std::move(frame_type));
        p.binary(std::move(frame)).binary(std::move(delivered)).integer(now_ms);
        p.binary(std::move(severity)).binary(std::move(group_key)).binary(std::move(suppressed));
        p.binary(std::move(team)).binary(std::move(escalation)).binary(std::move(level)).binary(std::move(due));
        p.binary(std::move(published_by)).binary(std::move(preset)).text(batch.node);
        steps.push_back({&insert_alerts, std::move(p)});
        if (auto const keep = options_.retention.per_user)
            steps.push_back({&trim_users, pg::params{}.binary(user_list()).integer(std::int64_t(keep))});
    }
    // Transitions: the copies of their alerts, locked, then read.
    int read_step = -1;
    if (explicit_tx) {
        auto const copy_ids = [&] {
            pg::array a{pg::array::type::uuid};
            for (auto const& t : batch.transitions)
                if (is_alert_id(t.alert_id)) a.add(uuid_bytes(t.alert_id));
            return std::move(a).finish();
        };
        steps.push_back({&pgrows::lock_copies, pg::params{}.binary(copy_ids())});
        read_step = int(steps.size());
        steps.push_back({&pgrows::read_copies, pg::params{}.binary(copy_ids())});
    }
    auto const deliveries = [&] {
        pg::array id{pg::array::type::uuid}, user{pg::array::type::text};
        for (auto const& d : batch.delivered) {
            if (!is_alert_id(d.alert_id)) continue;
            id.add(uuid_bytes(d.alert_id));
            user.add(d.user_id);
        }
        if (!id.size()) return std::optional<pg::step>{};
        return std::optional<pg::step>{
            pg::step{&record_deliveries,
                     pg::params{}.binary(std::move(id)).binary(std::move(user)).integer(now_ms).text(batch.node)}};
    };
    if (!explicit_tx)
        if (auto d = deliveries()) steps.push_back(std::move(*d));

    write_result out;
    out.transitions.resize(batch.transitions.size());  // not found, unless found below
    if (steps.empty()) return out;

    auto const rollback = [&] {
        try {
            c.exec("ROLLBACK", deadline);
        } catch (...) {
            // The connection is marked broken: the pool closes it, and with
            // it the transaction.
        }
    };
    std::vector<pg::result> results;
    try {
        results = c.run(steps, deadline);
    } catch (...) {
        if (explicit_tx) rollback();
        throw;
    }

    out.appended.resize(in.size());
    if (insert_step >= 0) {
        auto const& r = results[std::size_t(insert_step)];
        std::vector<bool> answered(in.size(), false);
        for (int row = 0; row < r.rows(); ++row) {
            auto const i = std::size_t(r.integer(row, 0));
            if (i >= in.size()) {
                if (explicit_tx) rollback();
                throw store_error("postgres: an answer for an alert the batch does not have");
            }
            auto& slot = out.appended[i];
            if (r.boolean(row, 1)) {
                answered[i] = true;
                slot.alert = read_alert(r, row, 3);
                slot.duplicate = true;
                continue;
            }
            if (r.is_null(row, 2)) continue;
            answered[i] = true;
            auto const& a = in[i];
            auto& s = slot.alert;
            s.alert_id = ids[i];
            s.seq = static_cast<std::uint64_t>(r.integer(row, 2));
            s.user_id = a.user_id;
            s.stream_id = a.stream_id;
            s.detection_json = a.detection_json;
            s.timestamp = a.timestamp;
            s.severity = a.severity;
            s.group_key = a.group_key;
            s.suppressed = a.suppressed;
            s.created_ms = now_ms;
            if (a.frame) s.frame_content_type = a.frame->content_type;
            if (a.delivered_on_commit) {
                s.first_delivered_ms = now_ms;
                s.delivery_count = 1;
                s.delivered_node = batch.node;
            }
            s.team = a.team;
            s.escalation = a.escalation;
            s.escalation_level = a.escalation_level;
            s.published_by = a.published_by;
        }
        for (std::size_t i = 0; i < in.size(); ++i) {
            if (same_as[i] >= 0) {
                out.appended[i] = out.appended[std::size_t(same_as[i])];
                out.appended[i].duplicate = true;
            } else if (!answered[i]) {
                if (explicit_tx) rollback();
                throw store_error("postgres: the store did not answer for every alert of the batch");
            }
        }
    }
    if (!explicit_tx) return out;

    try {
        auto copies = pgrows::copies_of(results[std::size_t(read_step)]);
        std::vector<pg::step> changes;
        out.transitions = pgrows::apply_transitions(batch.transitions, copies, now_ms, webhook_urls(), changes);
        if (auto d = deliveries()) changes.push_back(std::move(*d));
        changes.push_back({&commit_sql, {}});
        c.run(changes, deadline);
    } catch (...) {
        rollback();
        throw;
    }
    return out;
}

replay_page postgres_alert_store::after(std::string_view user_id, std::uint64_t after_seq, bool unacked_only,
                                        std::size_t limit, bool with_frames) {
    auto const& s = after_statements[(unacked_only ? 1 : 0) | (with_frames ? 2 : 0)];
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        auto const r = c.run(s,
                             pg::params{}
                                 .text(user_id)
                                 .integer(std::int64_t(after_seq))
                                 .integer(std::int64_t(std::min<std::size_t>(limit, INT64_MAX))),
                             deadline);
        replay_page page;
        for (int row = 0; row < r.rows(); ++row) {
            if (row == 0) page.head = static_cast<std::uint64_t>(r.integer(0, 0));
            if (r.is_null(row, 1)) continue;  // no alert: the head alone
            auto a = read_alert(r, row, 1);
            if (with_frames && !r.is_null(row, 1 + alert_column_count))
                a.frame_bytes = r.bytea(row, 1 + alert_column_count);
            page.alerts.push_back(std::move(a));
        }
        return page;
    });
}

std::optional<stored_alert> postgres_alert_store::get(std::string_view alert_id, std::string_view user_id) {
    if (!canonical_uuid(alert_id)) return std::nullopt;
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) -> std::optional<stored_alert> {
        auto const r = user_id.empty() ? c.run(get_alert, pg::params{}.text(alert_id), deadline)
                                       : c.run(get_copy, pg::params{}.text(alert_id).text(user_id), deadline);
        if (!r.rows()) return std::nullopt;
        return read_alert(r, 0);
    });
}

std::optional<annotated_frame> postgres_alert_store::frame(std::string_view alert_id) {
    if (!canonical_uuid(alert_id)) return std::nullopt;
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) -> std::optional<annotated_frame> {
        auto const r = c.run(get_frame, pg::params{}.text(alert_id), deadline);
        if (!r.rows()) return std::nullopt;
        return annotated_frame{r.string(0, 0), r.bytea(0, 1)};
    });
}

std::vector<stored_alert> postgres_alert_store::history(history_query const& q) {
    std::optional<std::string> cursor;
    if (!q.before.empty()) {
        cursor = least_id_not_below(q.before);
        // Every id is below such a cursor: as if none was given.
    }
    auto const& s = history_by_kind.of(!q.user_id.empty(), cursor.has_value(), !q.team.empty(), q.status);
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        pg::params p;
        if (!q.user_id.empty()) p.text(q.user_id);
        if (cursor) p.text(*cursor);
        if (!q.team.empty()) p.text(q.team);
        p.integer(std::int64_t(std::min<std::size_t>(q.limit, INT64_MAX)));
        auto const r = c.run(s, std::move(p), deadline);
        std::vector<stored_alert> out;
        out.reserve(std::size_t(r.rows()));
        for (int row = 0; row < r.rows(); ++row) out.push_back(read_alert(r, row));
        return out;
    });
}

// The cursor is "<xid>:<alert id>": the last alert handed out, or the
// horizon with the nil id once a page came back short.
feed_page postgres_alert_store::feed(std::string const& cursor, std::size_t limit) {
    static constexpr char nil_id[] = "00000000-0000-0000-0000-000000000000";
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        feed_page out;
        if (cursor.empty()) {
            out.cursor = c.run(feed_now, {}, deadline).string(0, 0) + ":" + nil_id;
            return out;
        }
        auto const colon = cursor.find(':');
        auto const xid = cursor.substr(0, colon == std::string::npos ? 0 : colon);
        auto const id = colon == std::string::npos ? std::string{} : cursor.substr(colon + 1);
        if (xid.empty() || !std::all_of(xid.begin(), xid.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) ||
            !canonical_uuid(id))
            throw store_error("not a feed cursor of this store: " + cursor);
        auto const r = c.run(
            feed_page_sql,
            pg::params{}.text(xid).text(id).integer(std::int64_t(std::min<std::size_t>(limit, INT64_MAX))), deadline);
        std::string last_xid, last_id;
        for (int row = 0; row < r.rows(); ++row) {
            if (r.is_null(row, 1)) continue;  // no alert: the horizon alone
            last_xid = r.string(row, 1);
            out.alerts.push_back(read_alert(r, row, 3));
            last_id = out.alerts.back().alert_id;
        }
        // A short page read everything below the horizon: the next starts there.
        // (The horizon only grows: a transaction running now got its id after
        // every one that had ended, so the cursor never goes back.)
        out.cursor = out.alerts.size() < limit ? r.string(0, 0) + ":" + nil_id : last_xid + ":" + last_id;
        return out;
    });
}

std::uint64_t postgres_alert_store::last_seq(std::string_view user_id) {
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        auto const r = c.run(get_last_seq, pg::params{}.text(user_id), deadline);
        return r.rows() ? static_cast<std::uint64_t>(r.integer(0, 0)) : std::uint64_t{0};
    });
}

std::size_t postgres_alert_store::prune_expired(std::int64_t now_ms, std::size_t max_rows) {
    auto const w = options_.partition_ms;
    auto const max_age = options_.retention.max_age_ms;
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) -> std::size_t {
        // Pruning is the store's periodic chore: partitions ahead come first.
        ensure_partitions(c, now_ms, now_ms / w * w + (options_.partitions_ahead + 1) * w);
        if (max_age <= 0) return 0;
        auto const key = "vigil.prune." + options_.schema;
        // A session lock: DETACH ... CONCURRENTLY runs outside transactions.
        if (!c.run(try_lock, pg::params{}.text(key), deadline).boolean(0, 0)) return 0;  // another node prunes
        std::size_t removed = 0;
        try {
            auto const cutoff = now_ms - max_age;
            auto const count_rows = [&](std::string const& name) {
                // The planner's count when it has one (autovacuum keeps it):
                // counting a day's partition could take longer than a call may.
                auto const est =
                    c.exec("SELECT reltuples::int8 FROM pg_class WHERE oid = " + quote_literal(quote_ident(name)) +
                               "::regclass",
                           deadline);
                if (est.rows() && est.integer(0, 0) >= 0) return std::size_t(est.integer(0, 0));
                return std::size_t(c.exec("SELECT count(*) FROM " + quote_ident(name), deadline).integer(0, 0));
            };
            // What an earlier prune left half done.
            auto const r = c.run(list_partitions_sql, {}, deadline);
            for (int i = 0; i < r.rows(); ++i) {
                if (!r.boolean(i, 2)) continue;
                auto const name = r.string(i, 0);
                c.exec("ALTER TABLE alerts DETACH PARTITION " + quote_ident(name) + " FINALIZE", deadline);
            }
            auto const orphans = c.run(orphan_partitions, {}, deadline);
            for (int i = 0; i < orphans.rows(); ++i) {
                auto const name = orphans.string(i, 0);
                removed += count_rows(name);
                c.exec("DROP TABLE " + quote_ident(name), deadline);
            }
            // Whole partitions: every alert in them expired.
            for (auto const& p : list_partitions(c, false, deadline)) {
                if (p.to_ms > cutoff) break;
                removed += count_rows(p.name);
                // Concurrently: readers and writers of the table go on meanwhile.
                c.exec("ALTER TABLE alerts DETACH PARTITION " + quote_ident(p.name) + " CONCURRENTLY", deadline);
                c.exec("DROP TABLE " + quote_ident(p.name), deadline);
                log::info("store.partition_dropped", {{"schema", options_.schema}, {"partition", p.name}});
            }
            // The events and timers of alerts that went with their
            // partitions: every id below the oldest partition left (also
            // what a prune cut short after a drop left behind).
            if (auto const left = list_partitions(c, false, deadline); !left.empty()) {
                auto const below = uuid_at(left.front().from_ms);
                std::vector<pg::step> steps;
                steps.push_back({&prune_events_below, pg::params{}.text(below)});
                steps.push_back({&prune_timers_below, pg::params{}.text(below)});
                c.run(steps, deadline);
            }
            // An age shorter than a partition: row by row, oldest first.
            if (max_age < w && max_rows > 0)
                removed += std::size_t(
                    c.run(prune_rows, pg::params{}.text(uuid_at(cutoff)).integer(std::int64_t(max_rows)), deadline)
                        .integer(0, 0));
        } catch (...) {
            try {
                c.run(unlock, pg::params{}.text(key), deadline);
            } catch (...) {
                // The connection goes (the caller sees the first error), and
                // with it the session's lock.
            }
            throw;
        }
        c.run(unlock, pg::params{}.text(key), deadline);
        return removed;
    });
}

std::string postgres_alert_store::begin_new_epoch(postgres_options options) {
    postgres_alert_store s{std::move(options)};
    static pg::statement const renumber{"vigil_new_epoch",
                                        "UPDATE meta SET value = $1::text WHERE key = 'epoch' RETURNING value"};
    auto const epoch = new_epoch();
    return s.with_connection(false, [&](pg::connection& c, clock::time_point deadline) {
        auto const r = c.run(renumber, pg::params{}.text(epoch), deadline);
        if (!r.rows()) throw store_error("postgres: schema " + s.options_.schema + " has no epoch in its meta table");
        return r.string(0, 0);
    });
}

}  // namespace vigil
