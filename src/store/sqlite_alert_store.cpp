#include "store/sqlite_alert_store.hpp"

#include "common/ids.hpp"
#include "store/sqlite_alert_rows.hpp"
#include "store/sqlite_connection.hpp"
#include "store/wal_append_buffer_vfs.hpp"
#include "store/wal_checkpointer.hpp"

#include <algorithm>
#include <filesystem>

namespace vigil {

namespace {

// Schema migrations, applied in order; migrations[i] takes user_version i to i+1.
constexpr char const* migrations[] = {
    R"sql(
    CREATE TABLE users (
        user_id  TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL          -- never decreases, survives pruning
    ) WITHOUT ROWID;
    CREATE TABLE alerts (
        id                 TEXT NOT NULL UNIQUE,   -- UUIDv7, time-ordered
        user_id            TEXT NOT NULL,
        seq                INTEGER NOT NULL,
        stream_id          TEXT NOT NULL,
        detection          TEXT NOT NULL,          -- JSON object, verbatim
        timestamp          TEXT NOT NULL,
        created_ms         INTEGER NOT NULL,
        idempotency_key    TEXT,
        frame_type         TEXT,
        first_delivered_ms INTEGER,
        delivery_count     INTEGER NOT NULL DEFAULT 0,
        acked_ms           INTEGER,
        acked_by           TEXT,
        UNIQUE (user_id, seq)
    );
    CREATE UNIQUE INDEX alerts_idempotency ON alerts (user_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE INDEX alerts_created ON alerts (created_ms);
    CREATE TABLE frames (
        alert_id TEXT PRIMARY KEY,
        data     BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TRIGGER alerts_drop_frame AFTER DELETE ON alerts WHEN old.frame_type IS NOT NULL
    BEGIN
        DELETE FROM frames WHERE alert_id = old.id;
    END;
    )sql",
    // v2: two fewer B-tree writes per alert. Age pruning walks alerts in rowid
    // (= insertion) order, so it needs no index on created_ms; and a user's last
    // seq is max(users.last_seq, max(alerts.seq)), so users is written only when
    // pruning by age may remove a user's newest alert, not with every insert.
    // The v1 rows of users stay right under the new rule.
    R"sql(
    DROP INDEX alerts_created;
    )sql",
    // v3: the database's stream epoch (alert_store::epoch). A database
    // created anew, or upgraded from v2, numbers from a new epoch, so clients
    // holding a seq from another database start over.
    R"sql(
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('epoch', lower(hex(randomblob(8))));
    )sql",
    // v4: severity, group key and suppression (SPEC sections 7 and 8), and
    // what Web Push keeps per user (store/push_state.hpp). Alerts stored
    // before have the default severity and their stream as their group.
    R"sql(
    ALTER TABLE alerts ADD COLUMN severity TEXT NOT NULL DEFAULT 'medium';
    ALTER TABLE alerts ADD COLUMN group_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE alerts ADD COLUMN suppressed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE alerts ADD COLUMN pushed_ms INTEGER;
    UPDATE alerts SET group_key = substr(stream_id, 1, 128);
    CREATE TABLE push_subscriptions (
        endpoint   TEXT PRIMARY KEY,        -- one browser's; it follows whoever subscribed it last
        user_id    TEXT NOT NULL,
        p256dh     BLOB NOT NULL,
        auth       BLOB NOT NULL,
        created_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);
    CREATE TABLE push_snoozes (
        user_id   TEXT NOT NULL,
        stream_id TEXT NOT NULL,
        until_ms  INTEGER NOT NULL,
        PRIMARY KEY (user_id, stream_id)
    ) WITHOUT ROWID;
    CREATE TABLE push_quiet_hours (
        user_id            TEXT PRIMARY KEY,
        start_minute       INTEGER NOT NULL,
        end_minute         INTEGER NOT NULL,
        utc_offset_minutes INTEGER NOT NULL,
        severities         INTEGER NOT NULL   -- bit 0 low, 1 medium, 2 high
    ) WITHOUT ROWID;
    CREATE TABLE push_groups (
        user_id    TEXT NOT NULL,
        topic      TEXT NOT NULL,
        started_ms INTEGER NOT NULL,        -- the window's first push
        count      INTEGER NOT NULL,
        PRIMARY KEY (user_id, topic)
    ) WITHOUT ROWID;
    )sql",
    // v5: handling (SPEC section 7, docs/handling.md). An alert has a copy
    // per recipient under one id, so uniqueness is (id, user) instead of id:
    // SQLite cannot drop a constraint, so the table is made again, rowids
    // kept (they order the feed and age pruning). Every copy carries the
    // alert's handling state. The frame, audit events and escalation timer
    // are kept once per alert and go with its last copy. handling_rows says
    // whether removing a copy needs that check: 1 on every copy of an alert
    // that may have several (its id was given), a timer or events (a
    // transition or an escalation sets it on all), so that removing a plain
    // alert (most of them) looks for no other copy. Rows from before: no
    // team, no policy, level 0, open or acknowledged as they were.
    R"sql(
    CREATE TABLE alerts_v5 (
        id                 TEXT NOT NULL,          -- UUIDv7, time-ordered; one copy per recipient
        user_id            TEXT NOT NULL,
        seq                INTEGER NOT NULL,
        stream_id          TEXT NOT NULL,
        detection          TEXT NOT NULL,          -- JSON object, verbatim
        timestamp          TEXT NOT NULL,
        created_ms         INTEGER NOT NULL,
        idempotency_key    TEXT,
        frame_type         TEXT,
        first_delivered_ms INTEGER,
        delivery_count     INTEGER NOT NULL DEFAULT 0,
        acked_ms           INTEGER,                -- set: acknowledged (or resolved); acked_by owns it
        acked_by           TEXT,
        severity           TEXT NOT NULL DEFAULT 'medium',
        group_key          TEXT NOT NULL DEFAULT '',
        suppressed         INTEGER NOT NULL DEFAULT 0,
        pushed_ms          INTEGER,
        team               TEXT NOT NULL DEFAULT '',
        escalation         TEXT NOT NULL DEFAULT '',
        escalation_level   INTEGER NOT NULL DEFAULT 0,
        published_by       TEXT NOT NULL DEFAULT '',
        delivered_node     TEXT,                   -- the node of this copy's first delivery
        resolved_ms        INTEGER,
        resolved_by        TEXT,
        outcome            TEXT,
        note               TEXT,
        handling_rows      INTEGER NOT NULL DEFAULT 0,
        UNIQUE (id, user_id),
        UNIQUE (user_id, seq)
    );
    INSERT INTO alerts_v5 (rowid, id, user_id, seq, stream_id, detection, timestamp, created_ms, idempotency_key,
                           frame_type, first_delivered_ms, delivery_count, acked_ms, acked_by, severity, group_key,
                           suppressed, pushed_ms)
        SELECT rowid, id, user_id, seq, stream_id, detection, timestamp, created_ms, idempotency_key,
               frame_type, first_delivered_ms, delivery_count, acked_ms, acked_by, severity, group_key,
               suppressed, pushed_ms FROM alerts;
    DROP TABLE alerts;
    ALTER TABLE alerts_v5 RENAME TO alerts;
    CREATE UNIQUE INDEX alerts_idempotency ON alerts (user_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE TABLE teams (
        name       TEXT PRIMARY KEY,
        members    TEXT NOT NULL,           -- JSON array of user ids
        escalation TEXT NOT NULL,           -- JSON object: severity or "default" -> policy
        updated_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE escalation_policies (
        name       TEXT PRIMARY KEY,
        steps      TEXT NOT NULL,           -- JSON array of {"notify","ack_within_seconds"}
        repeat     INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE alert_events (
        serial   INTEGER PRIMARY KEY,       -- the order they were applied in
        alert_id TEXT NOT NULL,
        type     TEXT NOT NULL,
        actor    TEXT NOT NULL,
        at_ms    INTEGER NOT NULL,
        detail   TEXT NOT NULL              -- JSON object
    );
    CREATE INDEX alert_events_alert ON alert_events (alert_id);
    CREATE TABLE escalation_timers (
        alert_id TEXT PRIMARY KEY,
        policy   TEXT NOT NULL,
        step     INTEGER NOT NULL,
        round    INTEGER NOT NULL,
        due_ms   INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX escalation_timers_due ON escalation_timers (due_ms);
    -- AUTOINCREMENT: an id is never given again, so a sender whose lease ran
    -- out cannot delete a newer row that took the id of the one it sent.
    CREATE TABLE webhook_outbox (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        url        TEXT NOT NULL,
        body       TEXT NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0,
        due_ms     INTEGER NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX webhook_outbox_due ON webhook_outbox (due_ms);
    CREATE TRIGGER alerts_last_copy AFTER DELETE ON alerts
    WHEN (old.frame_type IS NOT NULL OR old.handling_rows) AND NOT EXISTS (SELECT 1 FROM alerts WHERE id = old.id)
    BEGIN
        DELETE FROM frames WHERE alert_id = old.id;
        DELETE FROM alert_events WHERE alert_id = old.id;
        DELETE FROM escalation_timers WHERE alert_id = old.id;
    END;
    )sql",
};
static_assert(std::size(migrations) == sqlite_alert_store::schema_version);

// A user's last seq (schema v2): the newest retained alert's, or the one users
// kept when pruning by age removed it.
constexpr char last_seq_sql[] =
    "SELECT max(coalesce((SELECT last_seq FROM users WHERE user_id = ?1), 0), "
    "coalesce((SELECT max(seq) FROM alerts WHERE user_id = ?1), 0))";

}  // namespace

using detail::read_alert;
using detail::select_alerts;
using detail::sqlite_connection;
using detail::transaction;
using statement = sqlite_connection::statement;

sqlite_alert_store::sqlite_alert_store(sqlite_options options) : options_(std::move(options)) {
    auto const dir = std::filesystem::path{options_.path}.parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) throw store_error("cannot create " + dir.string() + ": " + ec.message());

    // Under synchronous=FULL a commit's WAL frames reach the file in one write
    // (store/wal_append_buffer_vfs.hpp).
    detail::configure_sqlite_once();
    char const* const vfs = options_.synchronous_full ? detail::wal_append_buffer_vfs() : nullptr;
    writer_ = std::make_unique<sqlite_connection>(options_.path, vfs);
    writer_->exec("PRAGMA journal_mode=WAL");
    char const* const synchronous = options_.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
    writer_->exec(synchronous);
    // One migration per transaction, the version read under the write lock:
    // processes opening the same new database at once migrate it once.
    for (;;) {
        transaction tx{*writer_};
        int version = 0;
        {
            auto s = writer_->prepare("PRAGMA user_version");
            if (s.step()) version = static_cast<int>(s.integer(0));
        }
        if (version > schema_version)
            throw store_error(options_.path + " has schema " + std::to_string(version) + ", newer than this build's " +
                              std::to_string(schema_version));
        if (version == schema_version) break;  // the transaction rolls back: nothing written
        writer_->exec(migrations[version]);
        writer_->exec(("PRAGMA user_version=" + std::to_string(version + 1)).c_str());
        tx.commit();
    }
    {
        auto s = writer_->prepare("SELECT value FROM meta WHERE key = 'epoch'");
        if (!s.step()) throw store_error(options_.path + " has no epoch in its meta table");
        epoch_ = s.text(0);
    }
    data_version_ = read_data_version();
    reader_ = std::make_unique<sqlite_connection>(options_.path, vfs);
    // Open the WAL and shared-memory files now: a first read that needs new
    // descriptors could fail later, when the process is short of them.
    reader_->prepare("SELECT count(*) FROM users").step();
    // Checkpoints leave the commit path. Their size still matters: at ~9k
    // alerts/s SQLite's default of 1,000 pages meant one every ~0.1 s, while
    // 10,000 pages (the WAL file reused at up to ~40 MiB) copy a page written
    // by several commits once, not once per checkpoint (docs/decisions/0003-checkpoint-thread.md).
    // The checkpoint syncs the database file after copying into it as the
    // writer's own would (and under NORMAL syncs the WAL before reading it).
    checkpoint_db_ = std::make_unique<sqlite_connection>(options_.path, vfs);
    checkpoint_db_->exec(synchronous);
    checkpointer_ = std::make_unique<detail::wal_checkpointer>(writer_->handle(), checkpoint_db_->handle(),
                                                               options_.checkpoint_pages);
}

sqlite_alert_store::~sqlite_alert_store() = default;

std::string sqlite_alert_store::begin_new_epoch(std::string const& path) {
    if (!std::filesystem::exists(path)) throw store_error("no database at " + path);
    sqlite_alert_store s{sqlite_options{path, true, {}}};
    std::lock_guard lock{s.write_mutex_};
    transaction tx{*s.writer_};
    std::string epoch;
    {
        auto u =
            s.writer_->prepare("UPDATE meta SET value = lower(hex(randomblob(8))) WHERE key = 'epoch' RETURNING value");
        if (!u.step()) throw store_error(path + " has no epoch in its meta table");
        epoch = u.text(0);
        while (u.step()) {}
    }
    tx.commit();
    return epoch;
}

std::int64_t sqlite_alert_store::read_data_version() {
    auto s = writer_->prepare("PRAGMA data_version");
    return s.step() ? s.integer(0) : 0;
}

void sqlite_alert_store::sync_seq_cache_locked() {
    // Another process sharing the database may have committed since this
    // writer last did: its alerts took seqs the cache does not know. (The
    // write lock is held from here on, so nobody else commits meanwhile.)
    if (auto const v = read_data_version(); v != data_version_) {
        seq_cache_.clear();
        data_version_ = v;
    }
}

std::uint64_t sqlite_alert_store::next_seq_locked(std::string const& user_id) {
    auto it = seq_cache_.find(user_id);
    if (it == seq_cache_.end()) {
        auto s = writer_->prepare(last_seq_sql);
        s.bind(1, user_id);
        std::uint64_t const last = s.step() ? static_cast<std::uint64_t>(s.integer(0)) : 0;
        it = seq_cache_.emplace(user_id, last).first;
    }
    return ++it->second;
}

void sqlite_alert_store::give_back_locked(taken_seqs const& taken) {
    std::for_each(taken.rbegin(), taken.rend(), [this](auto const& t) { seq_cache_[*t.first] = t.second - 1; });
}

write_result sqlite_alert_store::write(write_batch const& batch, std::int64_t now_ms) {
    std::lock_guard lock{write_mutex_};
    write_result out;
    out.appended.reserve(batch.alerts.size());
    taken_seqs taken;
    try {
        transaction tx{*writer_};
        sync_seq_cache_locked();
        for (auto const& in : batch.alerts) {
            if (!in.idempotency_key.empty()) {
                auto s = writer_->prepare_built(select_alerts("WHERE user_id = ?1 AND idempotency_key = ?2"));
                s.bind(1, in.user_id).bind(2, in.idempotency_key);
                if (s.step()) {
                    out.appended.push_back({read_alert(s), true});
                    continue;
                }
            }
            stored_alert a;
            a.alert_id = in.alert_id.empty() ? new_alert_id() : in.alert_id;
            a.seq = next_seq_locked(in.user_id);
            taken.emplace_back(&in.user_id, a.seq);
            a.user_id = in.user_id;
            a.stream_id = in.stream_id;
            a.detection_json = in.detection_json;
            a.timestamp = in.timestamp;
            a.severity = in.severity;
            a.group_key = in.group_key;
            a.suppressed = in.suppressed;
            a.created_ms = now_ms;
            a.team = in.team;
            a.escalation = in.escalation;
            a.escalation_level = in.escalation_level;
            a.published_by = in.published_by;
            if (in.frame) a.frame_content_type = in.frame->content_type;
            {
                auto s = writer_->prepare(
                    "INSERT INTO alerts (id, user_id, seq, stream_id, detection, timestamp, created_ms, "
                    "idempotency_key, frame_type, first_delivered_ms, delivery_count, severity, group_key, "
                    "suppressed, team, escalation, escalation_level, published_by, delivered_node, handling_rows) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
                    "?20)");
                s.bind(1, a.alert_id).bind(2, a.user_id).bind(3, std::int64_t(a.seq)).bind(4, a.stream_id);
                s.bind(5, a.detection_json).bind(6, a.timestamp).bind(7, now_ms);
                if (in.idempotency_key.empty())
                    s.bind_null(8);
                else
                    s.bind(8, in.idempotency_key);
                if (in.frame)
                    s.bind(9, in.frame->content_type);
                else
                    s.bind_null(9);
                if (in.delivered_on_commit)
                    s.bind(10, now_ms).bind(19, batch.node);
                else
                    s.bind_null(10).bind_null(19);
                s.bind(11, std::int64_t{in.delivered_on_commit});
                s.bind(12, in.severity).bind(13, in.group_key).bind(14, std::int64_t{in.suppressed});
                s.bind(15, in.team).bind(16, in.escalation).bind(17, std::int64_t{in.escalation_level});
                // A preset id may have other copies; only those and a timer's alert need a look when removed.
                s.bind(18, in.published_by)
                    .bind(20, std::int64_t{in.escalation_due_ms.has_value() || !in.alert_id.empty()});
                s.step();
                if (in.delivered_on_commit) {
                    a.first_delivered_ms = now_ms;
                    a.delivery_count = 1;
                    a.delivered_node = batch.node;
                }
            }
            if (in.frame) {
                // Kept once per alert: a team's copies share it.
                auto s = writer_->prepare(
                    "INSERT INTO frames (alert_id, data) VALUES (?1, ?2) ON CONFLICT (alert_id) DO NOTHING");
                s.bind(1, a.alert_id).bind_blob(2, in.frame->bytes);
                s.step();
            }
            if (in.escalation_due_ms) {
                // Once per alert: the first of its copies arms it.
                auto s = writer_->prepare(
                    "INSERT INTO escalation_timers (alert_id, policy, step, round, due_ms) VALUES (?1, ?2, 0, 0, ?3) "
                    "ON CONFLICT (alert_id) DO NOTHING");
                s.bind(1, a.alert_id).bind(2, in.escalation).bind(3, *in.escalation_due_ms);
                s.step();
            }
            // No users row here: the alert itself now holds the user's last seq,
            // and the per-user retention below never deletes the newest one.
            if (auto const keep = options_.retention.per_user; keep && a.seq > keep) {
                auto s = writer_->prepare("DELETE FROM alerts WHERE user_id = ?1 AND seq <= ?2");
                s.bind(1, a.user_id).bind(2, std::int64_t(a.seq - keep));
                s.step();
            }
            out.appended.push_back({std::move(a), false});
        }
        out.transitions.reserve(batch.transitions.size());
        for (auto const& t : batch.transitions) out.transitions.push_back(apply_transition_locked(t, now_ms));
        for (auto const& d : batch.delivered) {
            // The node is the first delivery's, like the time.
            auto s = writer_->prepare(
                "UPDATE alerts SET delivery_count = delivery_count + 1, "
                "delivered_node = CASE WHEN first_delivered_ms IS NULL THEN ?3 ELSE delivered_node END, "
                "first_delivered_ms = coalesce(first_delivered_ms, ?1) WHERE id = ?2 AND user_id = ?4");
            s.bind(1, now_ms).bind(2, d.alert_id).bind(3, batch.node).bind(4, d.user_id);
            s.step();
        }
        tx.commit();
    } catch (...) {
        give_back_locked(taken);
        throw;
    }
    return out;
}

replay_page sqlite_alert_store::after(std::string_view user_id, std::uint64_t after_seq, bool unacked_only,
                                      std::size_t limit, bool with_frames) {
    std::lock_guard lock{read_mutex_};
    replay_page page;
    {
        // First: what a later read leaves out up to this head was left out on purpose.
        auto h = reader_->prepare(last_seq_sql);
        h.bind(1, user_id);
        page.head = h.step() ? static_cast<std::uint64_t>(h.integer(0)) : 0;
    }
    auto& out = page.alerts;
    auto s = reader_->prepare_built(
        unacked_only ? select_alerts("WHERE user_id = ?1 AND seq > ?2 AND acked_ms IS NULL ORDER BY seq LIMIT ?3")
                     : select_alerts("WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"));
    s.bind(1, user_id).bind(2, std::int64_t(after_seq)).bind(3, std::int64_t(limit));
    while (s.step()) out.push_back(read_alert(s));
    if (with_frames) {
        for (auto& a : out) {
            if (!a.has_frame()) continue;
            auto f = reader_->prepare("SELECT data FROM frames WHERE alert_id = ?1");
            f.bind(1, a.alert_id);
            if (f.step()) a.frame_bytes = f.blob(0);
        }
    }
    return page;
}

std::optional<stored_alert> sqlite_alert_store::get(std::string_view alert_id, std::string_view user_id) {
    std::lock_guard lock{read_mutex_};
    // The first copy is the oldest row: a row's rowid is above every other's when inserted.
    auto s = reader_->prepare_built(user_id.empty() ? select_alerts("WHERE id = ?1 ORDER BY rowid LIMIT 1")
                                                    : select_alerts("WHERE id = ?1 AND user_id = ?2"));
    s.bind(1, alert_id);
    if (!user_id.empty()) s.bind(2, user_id);
    if (!s.step()) return std::nullopt;
    return read_alert(s);
}

std::optional<annotated_frame> sqlite_alert_store::frame(std::string_view alert_id) {
    std::lock_guard lock{read_mutex_};
    auto s = reader_->prepare(
        "SELECT a.frame_type, f.data FROM alerts a JOIN frames f ON f.alert_id = a.id WHERE a.id = ?1 LIMIT 1");
    s.bind(1, alert_id);
    if (!s.step()) return std::nullopt;
    return annotated_frame{s.text(0), s.blob(1)};
}

std::vector<stored_alert> sqlite_alert_store::history(history_query const& q) {
    std::lock_guard lock{read_mutex_};
    std::string where = "WHERE (?1 = '' OR user_id = ?1) AND (?2 = '' OR id < ?2)";
    if (!q.team.empty()) where += " AND team = ?4";
    switch (q.status) {
        case state_filter::all: break;
        case state_filter::open: where += " AND acked_ms IS NULL"; break;
        case state_filter::acknowledged: where += " AND acked_ms IS NOT NULL AND resolved_ms IS NULL"; break;
        case state_filter::resolved: where += " AND resolved_ms IS NOT NULL"; break;
        case state_filter::acked: where += " AND acked_ms IS NOT NULL"; break;
    }
    auto s = reader_->prepare_built(select_alerts(where + " ORDER BY id DESC LIMIT ?3"));
    s.bind(1, q.user_id).bind(2, q.before).bind(3, std::int64_t(q.limit));
    if (!q.team.empty()) s.bind(4, q.team);
    std::vector<stored_alert> out;
    while (s.step()) out.push_back(read_alert(s));
    return out;
}

// The cursor is "<rowid>:<alert id>" of the last alert handed out. Rowids grow
// while rows remain; if pruning emptied the table, numbering starts again
// from 1, which the cursor notices (its row holds another alert, or the
// largest rowid is below it) and then reads from the start.
feed_page sqlite_alert_store::feed(std::string const& cursor, std::size_t limit) {
    std::lock_guard lock{read_mutex_};
    feed_page out;
    auto const max_rowid = [&] {
        auto s = reader_->prepare("SELECT coalesce(max(rowid), 0) FROM alerts");
        return s.step() ? s.integer(0) : std::int64_t{0};
    };
    if (cursor.empty()) {
        auto const top = max_rowid();
        std::string id;
        if (top > 0) {
            auto s = reader_->prepare("SELECT id FROM alerts WHERE rowid = ?1");
            s.bind(1, top);
            if (s.step()) id = s.text(0);
        }
        out.cursor = std::to_string(top) + ":" + id;
        return out;
    }
    auto const colon = cursor.find(':');
    std::int64_t after = 0;
    try {
        after = std::stoll(cursor.substr(0, colon));
    } catch (std::exception const&) {
        throw store_error("not a feed cursor of this store: " + cursor);
    }
    if (colon == std::string::npos) throw store_error("not a feed cursor of this store: " + cursor);
    std::string const last_id = cursor.substr(colon + 1);
    if (after > 0) {
        auto s = reader_->prepare("SELECT id FROM alerts WHERE rowid = ?1");
        s.bind(1, after);
        bool const renumbered = s.step() ? s.text(0) != last_id : max_rowid() < after;
        if (renumbered) after = 0;
    }
    auto s = reader_->prepare_built("SELECT rowid, " + std::string{detail::alert_columns} +
                                    " FROM alerts WHERE rowid > ?1 ORDER BY rowid LIMIT ?2");
    s.bind(1, after).bind(2, std::int64_t(limit));
    std::int64_t last_rowid = after;
    std::string last = after > 0 ? last_id : std::string{};
    while (s.step()) {
        last_rowid = s.integer(0);
        auto a = read_alert(s, 1);
        last = a.alert_id;
        out.alerts.push_back(std::move(a));
    }
    out.cursor = std::to_string(last_rowid) + ":" + last;
    return out;
}

std::size_t sqlite_alert_store::prune_expired(std::int64_t now_ms, std::size_t max_rows) {
    if (options_.retention.max_age_ms <= 0 || max_rows == 0) return 0;
    std::lock_guard lock{write_mutex_};
    transaction tx{*writer_};
    // The oldest alerts come first in rowid order (rowids only grow while rows
    // remain), so the expired ones are a prefix: find its end, reading at most
    // max_rows rows. An alert stamped earlier than one before it (the wall clock
    // stepped back) waits until that one expires too, like the memory engine.
    std::int64_t last_rowid = 0;
    std::size_t n = 0;
    {
        auto s = writer_->prepare("SELECT rowid, created_ms FROM alerts ORDER BY rowid LIMIT ?1");
        s.bind(1, std::int64_t(max_rows));
        while (s.step() && s.integer(1) < now_ms - options_.retention.max_age_ms) {
            last_rowid = s.integer(0);
            ++n;
        }
    }
    if (n == 0) return 0;
    {
        // Keep the last seq of every user who may lose their newest alert here.
        auto s = writer_->prepare(
            "INSERT INTO users (user_id, last_seq) "
            "SELECT user_id, max(seq) FROM alerts WHERE rowid <= ?1 GROUP BY user_id "
            "ON CONFLICT (user_id) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)");
        s.bind(1, last_rowid);
        s.step();
    }
    auto s = writer_->prepare("DELETE FROM alerts WHERE rowid <= ?1");
    s.bind(1, last_rowid);
    s.step();
    auto const removed = static_cast<std::size_t>(writer_->changes());
    tx.commit();
    return removed;
}

std::uint64_t sqlite_alert_store::last_seq(std::string_view user_id) {
    std::lock_guard lock{read_mutex_};
    auto s = reader_->prepare(last_seq_sql);
    s.bind(1, user_id);
    return s.step() ? static_cast<std::uint64_t>(s.integer(0)) : 0;
}

}  // namespace vigil
