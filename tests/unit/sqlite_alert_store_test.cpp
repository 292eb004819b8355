// What the SQLite engine promises beyond the store contract: its file survives
// reopening, checkpoints keep the WAL bounded, old schemas migrate, newer ones
// are refused. (The contract itself: tests/contract/alert_store_contract_test.cpp.)
#include "store/sqlite_alert_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include <unistd.h>

using namespace vigil;

namespace {

// A fresh directory for one test's database, removed when the test ends (also
// when an ASSERT ends it early).
struct scratch_dir {
    std::filesystem::path dir;
    explicit scratch_dir(std::string const& name)
        : dir(std::filesystem::temp_directory_path() / ("vigil-" + name + "-" + std::to_string(getpid()))) {
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
    }
    ~scratch_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
    std::string db() const { return (dir / "vigil.db").string(); }
};

}  // namespace

TEST(SqliteAlertStore, SurvivesReopenAndKeepsSeqs) {
    scratch_dir const dir{"reopen"};
    auto const path = dir.db();
    std::string id;
    {
        sqlite_alert_store s{{path, true, {}}};
        write_batch b;
        b.alerts.resize(2);
        for (auto& a : b.alerts) a = {"u", "s", "{}", std::nullopt, "t", ""};
        id = s.write(b, 1).appended[1].alert.alert_id;
    }
    sqlite_alert_store s{{path, true, {}}};
    EXPECT_EQ(s.last_seq("u"), 2u);
    EXPECT_TRUE(s.get(id));
    write_batch b;
    b.alerts = {{"u", "s", "{}", std::nullopt, "t", ""}};
    EXPECT_EQ(s.write(b, 2).appended[0].alert.seq, 3u);
}

// Checkpoints run beside the writer, and the WAL still starts over: after many
// commits its file stays within a few thresholds' worth of pages (the writer
// checkpoints itself at four), every alert is readable, and the database file
// holds the copied pages.
TEST(SqliteAlertStore, CheckpointsKeepTheWalBounded) {
    scratch_dir const dir{"checkpoint"};
    sqlite_options options{dir.db(), true, {}};
    options.checkpoint_pages = 50;
    constexpr int commits = 400, per_commit = 10, users = 200;
    {
        sqlite_alert_store s{options};
        for (int c = 0; c < commits; ++c) {
            write_batch b;
            for (int k = 0; k < per_commit; ++k)
                b.alerts.push_back({"user-" + std::to_string((c * per_commit + k) % users), "s",
                                    R"({"type":"intrusion","confidence":0.9})", std::nullopt, "t", ""});
            s.write(b, 1);
        }
        auto const wal_pages = std::filesystem::file_size(dir.db() + "-wal") / (4096 + 24);
        // The largest commit here writes under 50 pages.
        EXPECT_LT(wal_pages, 5u * 50u) << "the WAL was not started over";
        EXPECT_GT(std::filesystem::file_size(dir.db()), 50u * 4096u) << "nothing was copied into the database";
        for (int u = 0; u < users; ++u)
            EXPECT_EQ(s.last_seq("user-" + std::to_string(u)), std::uint64_t(commits * per_commit / users));
        EXPECT_EQ(s.after("user-7", 0, false, 1000, false).alerts.size(), std::size_t(commits * per_commit / users));
    }
    sqlite_alert_store reopened{options};
    EXPECT_EQ(reopened.last_seq("user-199"), std::uint64_t(commits * per_commit / users));
}

// Closing the store while a checkpoint pass runs must not wait forever for
// the checkpoint thread (the server stops this way). Each round asks for a
// pass and closes at once; a round that hangs fails the test.
TEST(SqliteAlertStore, ClosesWhileACheckpointRuns) {
    scratch_dir const dir{"checkpoint-close"};
    sqlite_options options{dir.db(), true, {}};
    options.checkpoint_pages = 4;
    for (int round = 0; round < 30; ++round) {
        auto closed = std::make_shared<std::atomic<bool>>(false);  // outlives a thread left hanging
        std::thread{[options, closed, round] {
            {
                sqlite_alert_store s{options};
                write_batch b;  // one commit past the threshold: a pass starts, and the store closes
                for (int k = 0; k < 60; ++k)
                    b.alerts.push_back({"user-" + std::to_string(round * 100 + k), "s", "{}", std::nullopt, "t", ""});
                s.write(b, 1);
                std::this_thread::sleep_for(std::chrono::microseconds{300});  // the pass is under way
            }
            *closed = true;
        }}.detach();
        auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{20};
        while (!*closed && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds{1});
        ASSERT_TRUE(*closed) << "round " << round << ": the store did not close";
    }
}

namespace {

// The schema as version 1 of vigil created it, verbatim: a database left by an
// older build.
constexpr char const* schema_v1 = R"sql(
    CREATE TABLE users (
        user_id  TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE alerts (
        id                 TEXT NOT NULL UNIQUE,
        user_id            TEXT NOT NULL,
        seq                INTEGER NOT NULL,
        stream_id          TEXT NOT NULL,
        detection          TEXT NOT NULL,
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
    PRAGMA journal_mode=WAL;
    PRAGMA user_version=1;
)sql";

new_alert v1_alert(std::string user) {
    new_alert a;
    a.user_id = std::move(user);
    a.stream_id = "s";
    a.detection_json = "{}";
    a.timestamp = "t";
    return a;
}

struct raw_db {
    sqlite3* db = nullptr;
    explicit raw_db(std::string const& path) { EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK); }
    ~raw_db() { sqlite3_close(db); }
    void exec(char const* sql) {
        char* err = nullptr;
        EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
        sqlite3_free(err);
    }
    std::int64_t integer(char const* sql) {
        sqlite3_stmt* s = nullptr;
        EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
        std::int64_t v = -1;
        if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        return v;
    }
};

}  // namespace

// A version 1 database (as an older build left it, with pruned alerts) opens
// at the current version with every alert, frame, acknowledgement and seq
// intact, numbered in a new epoch, and keeps working: publishes continue each
// user's seqs, pruning by age still keeps them growing.
TEST(SqliteAlertStore, MigratesVersion1Databases) {
    scratch_dir const dir{"migrate"};
    auto const path = dir.db();
    {
        raw_db v1{path};
        v1.exec(schema_v1);
        // u: seqs 1-2 pruned long ago; f: one alert with a frame; gone: everything pruned.
        v1.exec(R"sql(
            INSERT INTO users VALUES ('u', 4), ('f', 1), ('gone', 7);
            INSERT INTO alerts (id, user_id, seq, stream_id, detection, timestamp, created_ms,
                                idempotency_key, frame_type, first_delivered_ms, delivery_count,
                                acked_ms, acked_by) VALUES
              ('0190a000-0000-7000-8000-000000000003', 'u', 3, 's', '{"k":3}', 't3', 1000, 'key-3', NULL, 1001, 1, 1500, 'u'),
              ('0190a000-0000-7000-8000-000000000004', 'u', 4, 's', '{"k":4}', 't4', 1001, NULL, NULL, NULL, 0, NULL, NULL),
              ('0190a000-0000-7000-8000-000000000005', 'f', 1, 's', '{"k":5}', 't5', 1002, NULL, 'image/png', NULL, 0, NULL, NULL);
            INSERT INTO frames VALUES ('0190a000-0000-7000-8000-000000000005', x'89504e470d0a1a0a0001');
        )sql");
    }
    {
        sqlite_alert_store s{{path, true, retention_policy{10'000, 0}}};
        {
            raw_db check{path};
            EXPECT_EQ(check.integer("PRAGMA user_version"), sqlite_alert_store::schema_version);
            EXPECT_EQ(check.integer("SELECT count(*) FROM sqlite_master WHERE name = 'alerts_created'"), 0);
            EXPECT_EQ(check.integer("SELECT count(*) FROM alerts"), 3);
        }
        EXPECT_EQ(s.last_seq("u"), 4u);
        EXPECT_EQ(s.last_seq("f"), 1u);
        EXPECT_EQ(s.last_seq("gone"), 7u);
        EXPECT_EQ(s.epoch().size(), 16u);
        auto const u = s.after("u", 0, false, 10, false).alerts;
        ASSERT_EQ(u.size(), 2u);
        EXPECT_EQ(u[0].seq, 3u);
        EXPECT_EQ(u[0].acked_by, "u");
        EXPECT_EQ(u[0].acked_ms, 1500);
        EXPECT_EQ(u[0].first_delivered_ms, 1001);
        EXPECT_EQ(u[1].detection_json, R"({"k":4})");
        EXPECT_EQ(s.after("u", 0, true, 10, false).alerts.size(), 1u);
        auto const frame = s.frame("0190a000-0000-7000-8000-000000000005");
        ASSERT_TRUE(frame);
        EXPECT_EQ(frame->content_type, "image/png");
        EXPECT_EQ(frame->bytes, std::string("\x89PNG\r\n\x1A\n\0\1", 10));
        // The idempotency index survives: the same key is still a duplicate.
        auto dup = v1_alert("u");
        dup.idempotency_key = "key-3";
        write_batch b;
        b.alerts = {dup, v1_alert("u"), v1_alert("gone"), v1_alert("new")};
        auto const r = s.write(b, 15'000);
        EXPECT_TRUE(r.appended[0].duplicate);
        EXPECT_EQ(r.appended[0].alert.seq, 3u);
        EXPECT_EQ(r.appended[1].alert.seq, 5u);
        EXPECT_EQ(r.appended[2].alert.seq, 8u);
        EXPECT_EQ(r.appended[3].alert.seq, 1u);
        // Age pruning removes the three v1 alerts (the frame with its alert),
        // including f's only one, whose seq must survive it.
        EXPECT_EQ(s.prune_expired(20'000, 100), 3u);
        EXPECT_FALSE(s.frame("0190a000-0000-7000-8000-000000000005"));
        EXPECT_EQ(s.last_seq("f"), 1u);
        EXPECT_EQ(s.last_seq("u"), 5u);
        b.alerts = {v1_alert("f")};
        EXPECT_EQ(s.write(b, 21'000).appended[0].alert.seq, 2u);
    }
    // Reopened, it is already at the current version and keeps every seq.
    sqlite_alert_store s{{path, true, {}}};
    EXPECT_EQ(s.last_seq("u"), 5u);
    EXPECT_EQ(s.last_seq("gone"), 8u);
    EXPECT_EQ(s.last_seq("f"), 2u);
    EXPECT_EQ(s.after("u", 0, false, 10, false).alerts.size(), 1u);
}

// A database from a newer build is refused, not half-read.
TEST(SqliteAlertStore, RefusesNewerSchemas) {
    scratch_dir const dir{"newer"};
    auto const path = dir.db();
    {
        raw_db db{path};
        db.exec(("PRAGMA user_version=" + std::to_string(sqlite_alert_store::schema_version + 1)).c_str());
    }
    EXPECT_THROW((sqlite_alert_store{{path, false, {}}}), store_error);
}

// After a restore from a backup: the same alerts and seqs, a new epoch, kept
// across reopening.
TEST(SqliteAlertStore, BeginsANewEpochOnRequest) {
    scratch_dir const dir{"new-epoch"};
    std::string before;
    {
        sqlite_alert_store s{{dir.db(), false, {}}};
        write_batch b;
        b.alerts = {{"u", "s", "{}", std::nullopt, "t", ""}, {"u", "s", "{}", std::nullopt, "t", ""}};
        s.write(b, 1);
        before = s.epoch();
    }
    auto const after = sqlite_alert_store::begin_new_epoch(dir.db());
    EXPECT_NE(after, before);
    sqlite_alert_store s{{dir.db(), false, {}}};
    EXPECT_EQ(s.epoch(), after);
    EXPECT_EQ(s.last_seq("u"), 2u);
    EXPECT_THROW(sqlite_alert_store::begin_new_epoch((dir.dir / "missing.db").string()), store_error);
    EXPECT_FALSE(std::filesystem::exists(dir.dir / "missing.db"));
}

// Schema v5 makes the alerts table again (uniqueness by alert and user): a
// database from before keeps its rows in their order (the feed and age
// pruning follow rowids), its acknowledgements and frames, and then takes
// copies of one alert for several users.
TEST(SqliteAlertStore, MigratedAlertsKeepTheirOrderAndTakeCopies) {
    scratch_dir const dir{"migrate-v5"};
    auto const path = dir.db();
    {
        raw_db v1{path};
        v1.exec(schema_v1);
        // Rowids out of id order, as pruning and reinsertion leave them.
        v1.exec(R"sql(
            INSERT INTO alerts (rowid, id, user_id, seq, stream_id, detection, timestamp, created_ms,
                                frame_type, acked_ms, acked_by) VALUES
              (7, '0190a000-0000-7000-8000-000000000002', 'u', 1, 's', '{}', 't', 1000, 'image/png', 1500, 'u'),
              (9, '0190a000-0000-7000-8000-000000000001', 'u', 2, 's', '{}', 't', 1001, NULL, NULL, NULL);
            INSERT INTO frames VALUES ('0190a000-0000-7000-8000-000000000002', x'89504e47');
        )sql");
    }
    sqlite_alert_store s{{path, false, {}}};
    {
        raw_db check{path};
        EXPECT_EQ(check.integer("SELECT rowid FROM alerts WHERE seq = 2"), 9);
    }
    auto const acked = s.get("0190a000-0000-7000-8000-000000000002");
    ASSERT_TRUE(acked);
    EXPECT_EQ(acked->state(), alert_state::acknowledged);
    EXPECT_EQ(acked->escalation_level, 0);
    EXPECT_EQ(acked->team, "");
    EXPECT_EQ(s.events(acked->alert_id).size(), 1u);  // published
    auto const page = s.feed("0:", 10);
    ASSERT_EQ(page.alerts.size(), 2u);
    EXPECT_EQ(page.alerts[0].seq, 1u);
    EXPECT_EQ(page.alerts[1].seq, 2u);

    // A second copy of an old alert for another user: the old UNIQUE(id) is gone.
    new_alert copy = v1_alert("w");
    copy.alert_id = "0190a000-0000-7000-8000-000000000001";
    write_batch b;
    b.alerts = {copy};
    EXPECT_EQ(s.write(b, 2000).appended[0].alert.seq, 1u);
    EXPECT_EQ(s.recipients(copy.alert_id), (std::vector<std::string>{"u", "w"}));
    // The same user twice is still refused, and nothing of the batch stays.
    EXPECT_THROW(s.write(b, 2001), store_error);
    EXPECT_EQ(s.last_seq("w"), 1u);
}

// Retention removes copies; what belongs to the alert (its frame, audit
// trail, escalation timer) goes with its last copy, not before.
TEST(SqliteAlertStore, AnAlertsFrameTrailAndTimerGoWithItsLastCopy) {
    scratch_dir const dir{"last-copy"};
    sqlite_alert_store s{{dir.db(), false, retention_policy{0, 1}}};
    std::string const id = "01938a6e-1a2b-7c3d-8e4f-0000000000aa";
    write_batch team;
    for (auto const* user : {"alice", "bob"}) {
        new_alert a = v1_alert(user);
        a.alert_id = id;
        a.team = "night";
        a.escalation = "p";
        a.escalation_due_ms = 60'000;
        a.frame = annotated_frame{"image/png", "\x89PNG-bytes"};
        team.alerts.push_back(a);
    }
    s.put_policy({"p", {{"user:sup", 60}}, 0, 0});
    s.write(team, 1000);
    write_batch ack;
    ack.transitions = {{id, "alice", "alice", transition_kind::acknowledge, {}, {}}};
    ASSERT_EQ(s.write(ack, 2000).transitions[0].outcome, transition_outcome::applied);
    write_batch reopen;
    reopen.transitions = {{id, "bob", "bob", transition_kind::reopen, {}, {}}};
    ASSERT_EQ(s.write(reopen, 3000).transitions[0].outcome, transition_outcome::applied);
    EXPECT_EQ(s.next_escalation_due(), 63'000);  // armed again by the reopen

    write_batch next;
    next.alerts = {v1_alert("alice")};  // alice keeps one alert: her copy goes
    s.write(next, 4000);
    EXPECT_FALSE(s.get(id, "alice"));
    EXPECT_TRUE(s.frame(id));
    EXPECT_EQ(s.events(id).size(), 3u);  // published, acknowledged, reopened
    EXPECT_EQ(s.next_escalation_due(), 63'000);

    next.alerts = {v1_alert("bob")};  // and now the last one
    s.write(next, 5000);
    EXPECT_FALSE(s.get(id));
    EXPECT_FALSE(s.frame(id));
    EXPECT_TRUE(s.events(id).empty());
    EXPECT_FALSE(s.next_escalation_due());

    // A copy that brought neither the frame nor the timer still takes them along when it is the last.
    std::string const other = "01938a6e-1a2b-7c3d-8e4f-0000000000ab";
    write_batch second;
    for (auto const* user : {"carol", "dave"}) {
        new_alert a = v1_alert(user);
        a.alert_id = other;
        second.alerts.push_back(a);
    }
    second.alerts[0].frame = annotated_frame{"image/png", "\x89PNG-bytes"};
    second.alerts[0].escalation = "p";
    second.alerts[0].escalation_due_ms = 90'000;
    s.write(second, 6000);
    next.alerts = {v1_alert("carol")};
    s.write(next, 7000);
    EXPECT_TRUE(s.frame(other));
    EXPECT_EQ(s.next_escalation_due(), 90'000);
    next.alerts = {v1_alert("dave")};
    s.write(next, 8000);
    EXPECT_FALSE(s.frame(other));
    EXPECT_FALSE(s.next_escalation_due());

    raw_db check{dir.db()};
    EXPECT_EQ(check.integer("SELECT count(*) FROM alert_events"), 0);
    EXPECT_EQ(check.integer("SELECT count(*) FROM frames"), 0);
}
