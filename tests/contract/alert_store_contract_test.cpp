#include "contract/alert_store_contract.hpp"

#include "store/memory_alert_store.hpp"
#include "store/sqlite_alert_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

using namespace vigil;
using namespace vigil::test;

TEST_P(AlertStoreContract, SeqsGrowPerUserAndIdsAreUnique) {
    auto s = make();
    auto const r = s->write(alerts({alert("a"), alert("b"), alert("a")}), 1000);
    ASSERT_EQ(r.appended.size(), 3u);
    EXPECT_EQ(r.appended[0].alert.seq, 1u);
    EXPECT_EQ(r.appended[1].alert.seq, 1u);
    EXPECT_EQ(r.appended[2].alert.seq, 2u);
    EXPECT_NE(r.appended[0].alert.alert_id, r.appended[2].alert.alert_id);
    EXPECT_EQ(s->last_seq("a"), 2u);
    EXPECT_EQ(s->last_seq("nobody"), 0u);
}

TEST_P(AlertStoreContract, IdempotencyKeyReturnsTheEarlierAlert) {
    auto s = make();
    auto const first = s->write(alerts({alert("a", "k1")}), 1000).appended[0];
    auto const again = s->write(alerts({alert("a", "k1"), alert("b", "k1")}), 2000);
    EXPECT_TRUE(again.appended[0].duplicate);
    EXPECT_EQ(again.appended[0].alert.alert_id, first.alert.alert_id);
    EXPECT_FALSE(again.appended[1].duplicate);  // keys are per user
    EXPECT_EQ(s->last_seq("a"), 1u);
}

TEST_P(AlertStoreContract, AfterReplaysInOrderAndFiltersAcked) {
    auto s = make();
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(s->write(alerts({alert("u")}), 1000 + i).appended[0].alert.alert_id);
    write_batch acks;
    acks.acks = {{ids[1], "u", "u"}, {ids[2], "other", "other"}, {"missing", "", "admin"}};
    auto const r = s->write(acks, 5000);
    EXPECT_EQ(r.acks[0].outcome, ack_outcome::acked);
    EXPECT_EQ(r.acks[1].outcome, ack_outcome::not_found);  // not the owner
    EXPECT_EQ(r.acks[2].outcome, ack_outcome::not_found);
    write_batch again;
    again.acks = {{ids[1], "", "admin"}};
    EXPECT_EQ(s->write(again, 6000).acks[0].outcome, ack_outcome::already_acked);

    auto const all = s->after("u", 2, false, 100, false).alerts;
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].seq, 3u);
    auto const unacked = s->after("u", 0, true, 100, false).alerts;
    ASSERT_EQ(unacked.size(), 4u);
    EXPECT_EQ(unacked[1].seq, 3u);
    EXPECT_EQ(s->after("u", 0, false, 2, false).alerts.size(), 2u);
    auto const got = s->get(ids[1]);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->acked_by, "u");
    EXPECT_EQ(got->acked_ms, 5000);
}

TEST_P(AlertStoreContract, DeliveriesAreCounted) {
    auto s = make();
    auto const id = s->write(alerts({alert("u")}), 1000).appended[0].alert.alert_id;
    write_batch d;
    d.delivered = {id, id};
    s->write(d, 2000);
    auto const a = s->get(id);
    EXPECT_EQ(a->delivery_count, 2);
    EXPECT_EQ(a->first_delivered_ms, 2000);
}

TEST_P(AlertStoreContract, FramesAreKeptWithTheirAlert) {
    auto s = make();
    auto in = alert("u");
    in.frame = annotated_frame{"image/png", std::string{"\x89PNG\r\n\x1A\n\0\1", 10}};
    auto const id = s->write(alerts({in}), 1000).appended[0].alert.alert_id;
    auto const f = s->frame(id);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->bytes, in.frame->bytes);
    EXPECT_EQ(s->after("u", 0, false, 10, true).alerts[0].frame_bytes, in.frame->bytes);
    EXPECT_FALSE(s->after("u", 0, false, 10, false).alerts[0].frame_bytes);
    EXPECT_FALSE(s->frame("nope"));
}

TEST_P(AlertStoreContract, HistoryIsNewestFirstWithACursor) {
    auto s = make();
    for (int i = 0; i < 5; ++i) s->write(alerts({alert(i % 2 ? "odd" : "even")}), 1000 + i);
    history_query q;
    q.limit = 2;
    auto const page1 = s->history(q);
    ASSERT_EQ(page1.size(), 2u);
    q.before = page1.back().alert_id;
    auto const page2 = s->history(q);
    ASSERT_EQ(page2.size(), 2u);
    EXPECT_LT(page2.front().alert_id, page1.back().alert_id);
    history_query mine;
    mine.user_id = "odd";
    EXPECT_EQ(s->history(mine).size(), 2u);
}

TEST_P(AlertStoreContract, RetentionKeepsSeqsGrowing) {
    auto s = make(retention_policy{10'000, 3});
    for (int i = 0; i < 5; ++i) s->write(alerts({alert("u")}), 1000 + i);
    auto const kept = s->after("u", 0, false, 100, false).alerts;
    ASSERT_EQ(kept.size(), 3u);  // per-user count
    EXPECT_EQ(kept.front().seq, 3u);
    EXPECT_EQ(s->prune_expired(20'000, 2), 2u);  // by age, in chunks
    EXPECT_EQ(s->prune_expired(20'000, 100), 1u);
    EXPECT_TRUE(s->after("u", 0, false, 100, false).alerts.empty());
    EXPECT_EQ(s->write(alerts({alert("u")}), 30'000).appended[0].alert.seq, 6u);
}

// Property: under random publishes, acks and pruning, replay is always the
// strictly increasing list of retained seqs, and seqs never repeat.
TEST_P(AlertStoreContract, RandomHistoriesKeepOrderingRules) {
    std::mt19937 rng{42};
    auto s = make(retention_policy{0, 20});
    std::map<std::string, std::uint64_t> last;
    std::vector<std::string> users = {"a", "b", "c"};
    for (int step = 0; step < 300; ++step) {
        write_batch b;
        int const n = int(rng() % 4);
        for (int i = 0; i < n; ++i) b.alerts.push_back(alert(users[rng() % 3], rng() % 5 == 0 ? "k" + std::to_string(rng() % 8) : ""));
        auto const r = s->write(b, 1000 + step);
        for (auto const& a : r.appended) {
            if (a.duplicate) {
                EXPECT_LE(a.alert.seq, last[a.alert.user_id]);
            } else {
                EXPECT_EQ(a.alert.seq, last[a.alert.user_id] + 1);
                last[a.alert.user_id] = a.alert.seq;
            }
        }
        for (auto const& u : users) {
            auto const rows = s->after(u, 0, false, 1000, false).alerts;
            EXPECT_LE(rows.size(), 20u);
            for (std::size_t i = 1; i < rows.size(); ++i) ASSERT_EQ(rows[i].seq, rows[i - 1].seq + 1);
            if (!rows.empty()) {
                EXPECT_EQ(rows.back().seq, last[u]);
            }
            EXPECT_EQ(s->last_seq(u), last[u]);
        }
    }
}

// Property: pruning by age interleaved with publishes removes only expired
// alerts, oldest first, and never makes a user's seq go back, even when it
// removes every alert a user had.
TEST_P(AlertStoreContract, RandomAgePruningKeepsSeqsGrowing) {
    std::mt19937 rng{7};
    auto s = make(retention_policy{50, 0});
    std::map<std::string, std::uint64_t> last;
    std::map<std::string, std::map<std::uint64_t, std::int64_t>> kept;  // user -> seq -> created
    std::vector<std::string> users = {"a", "b", "c", "d"};
    std::int64_t now = 1000;
    for (int step = 0; step < 400; ++step) {
        now += rng() % 40 == 0 ? 100 : std::int64_t(rng() % 4);  // now and then, all expire
        if (rng() % 3 == 0) {
            std::size_t const chunk = 1 + rng() % 12;
            std::size_t expired = 0;
            for (auto const& [u, rows] : kept)
                for (auto const& [seq, created] : rows) expired += created < now - 50;
            auto const n = s->prune_expired(now, chunk);
            ASSERT_EQ(n, std::min(chunk, expired));
            // Reload what the engine kept: it may only have dropped expired alerts.
            for (auto& [u, rows] : kept) {
                auto const left = s->after(u, 0, false, 1000, false).alerts;
                std::map<std::uint64_t, std::int64_t> now_kept;
                for (auto const& a : left) now_kept[a.seq] = a.created_ms;
                for (auto const& [seq, created] : rows)
                    if (!now_kept.count(seq)) {
                        EXPECT_LT(created, now - 50) << u << " lost unexpired seq " << seq;
                    }
                rows = now_kept;
            }
        } else {
            write_batch b;
            int const n = 1 + int(rng() % 3);
            // "d" publishes seldom, so pruning often takes every alert it has.
            for (int i = 0; i < n; ++i) b.alerts.push_back(alert(users[rng() % 20 == 0 ? 3 : rng() % 3]));
            for (auto const& a : s->write(b, now).appended) {
                ASSERT_EQ(a.alert.seq, last[a.alert.user_id] + 1);
                last[a.alert.user_id] = a.alert.seq;
                kept[a.alert.user_id][a.alert.seq] = now;
            }
        }
        for (auto const& u : users) {
            ASSERT_EQ(s->last_seq(u), last[u]);
            auto const rows = s->after(u, 0, false, 1000, false).alerts;
            for (std::size_t i = 1; i < rows.size(); ++i) ASSERT_EQ(rows[i].seq, rows[i - 1].seq + 1);
            if (!rows.empty()) {
                EXPECT_EQ(rows.back().seq, last[u]);
            }
        }
    }
}

TEST_P(AlertStoreContract, TheEpochNamesOneNumbering) {
    auto s = make();
    auto const& e = s->epoch();
    EXPECT_FALSE(e.empty());
    EXPECT_LE(e.size(), 64u);
    for (char c : e) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << e;
    EXPECT_EQ(second_writer(*s).epoch(), e);  // the same data, the same numbering
    EXPECT_NE(make()->epoch(), e);           // a new store starts a new one
}

TEST_P(AlertStoreContract, APageCarriesTheHeadReadBeforeIt) {
    auto s = make();
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) ids.push_back(s->write(alerts({alert("u")}), 1000 + i).appended[0].alert.alert_id);
    write_batch acks;
    acks.acks = {{ids[4], "u", "u"}, {ids[5], "u", "u"}};
    s->write(acks, 2000);
    auto const unacked = s->after("u", 0, true, 100, false);
    EXPECT_EQ(unacked.head, 6u);  // 5 and 6 exist: left out because acknowledged
    ASSERT_EQ(unacked.alerts.size(), 4u);
    EXPECT_EQ(unacked.alerts.back().seq, 4u);
    auto const full = s->after("u", 2, false, 2, false);
    EXPECT_EQ(full.head, 6u);
    ASSERT_EQ(full.alerts.size(), 2u);
    EXPECT_EQ(full.alerts[0].seq, 3u);
    EXPECT_EQ(s->after("nobody", 0, false, 10, false).head, 0u);
}

// Two writers (two handles on the same data where the engine has them, else
// two threads each on one), a reader beside them: seqs are unique and without
// gaps per user, every committed alert is readable, and no reader ever sees a
// seq without every retained one below it.
TEST_P(AlertStoreContract, ConcurrentWritersNeverShareNorSkipASeq) {
    auto first = make();
    auto& second = second_writer(*first);
    std::vector<std::string> const users = {"a", "b", "c"};
    constexpr int rounds = 150;
    std::mutex m;
    std::map<std::string, std::vector<std::uint64_t>> seqs;
    std::vector<std::string> ids;
    std::atomic<bool> writing{true};
    std::atomic<int> reader_faults{0};
    auto writer = [&](alert_store& s, unsigned seed) {
        std::mt19937 rng{seed};
        for (int r = 0; r < rounds; ++r) {
            write_batch b;
            for (int n = 1 + int(rng() % 3); n > 0; --n) b.alerts.push_back(alert(users[rng() % users.size()]));
            auto const out = s.write(b, 1000 + r);
            std::lock_guard lock{m};
            for (auto const& a : out.appended) {
                seqs[a.alert.user_id].push_back(a.alert.seq);
                ids.push_back(a.alert.alert_id);
            }
        }
    };
    std::thread reader{[&] {
        while (writing) {
            for (auto const& u : users) {
                auto const page = first->after(u, 0, false, 10000, false);
                for (std::size_t i = 0; i < page.alerts.size(); ++i)
                    if (page.alerts[i].seq != i + 1) ++reader_faults;
                if (page.alerts.size() < page.head) ++reader_faults;  // the head was read first
            }
        }
    }};
    std::thread w1{writer, std::ref(*first), 1u}, w2{writer, std::ref(second), 2u}, w3{writer, std::ref(second), 3u};
    writer(*first, 4u);
    w1.join(), w2.join(), w3.join();
    writing = false;
    reader.join();
    EXPECT_EQ(reader_faults, 0);
    for (auto& [u, got] : seqs) {
        std::sort(got.begin(), got.end());
        for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], i + 1) << "user " << u;
        EXPECT_EQ(first->last_seq(u), got.size());
        EXPECT_EQ(second.last_seq(u), got.size());
        EXPECT_EQ(second.after(u, 0, false, 10000, false).alerts.size(), got.size());
    }
    for (auto const& id : ids) ASSERT_TRUE(first->get(id)) << id;
}

TEST_P(AlertStoreContract, AnIdempotencyKeyHoldsAcrossWriters) {
    auto first = make();
    auto& second = second_writer(*first);
    std::vector<append_result> results(8);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            results[std::size_t(t)] = (t % 2 ? *first : second).write(alerts({alert("u", "same-key")}), 1000).appended[0];
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(std::count_if(results.begin(), results.end(), [](auto const& r) { return !r.duplicate; }), 1);
    for (auto const& r : results) EXPECT_EQ(r.alert.alert_id, results[0].alert.alert_id);
    EXPECT_EQ(first->last_seq("u"), 1u);
}

TEST_P(AlertStoreContract, PruningBesideAnotherWriterKeepsSeqsGrowing) {
    auto first = make(retention_policy{10, 0});
    auto& second = second_writer(*first, retention_policy{10, 0});
    std::atomic<bool> writing{true};
    std::atomic<std::int64_t> now{1000};
    std::thread pruner{[&] {
        while (writing) second.prune_expired(now, 7);
    }};
    std::uint64_t last = 0;
    for (int i = 0; i < 400; ++i) {
        now += 3;
        auto const a = first->write(alerts({alert(i % 2 ? "p" : "q")}), now).appended[0].alert;
        if (a.user_id == "p") {
            ASSERT_EQ(a.seq, last + 1);
            last = a.seq;
        }
    }
    writing = false;
    pruner.join();
    EXPECT_EQ(second.last_seq("p"), last);
    EXPECT_EQ(first->write(alerts({alert("p")}), now + 1000).appended[0].alert.seq, last + 1);
}

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

std::filesystem::path last_sqlite_path;

std::unique_ptr<alert_store> make_sqlite(retention_policy r) {
    static int counter = 0;
    auto const path = std::filesystem::temp_directory_path() /
                      ("vigil-contract-" + std::to_string(getpid()) + "-" + std::to_string(counter++)) / "vigil.db";
    std::filesystem::remove_all(path.parent_path());
    last_sqlite_path = path;
    return std::make_unique<sqlite_alert_store>(sqlite_options{path.string(), false, r});
}

std::unique_ptr<alert_store> reopen_sqlite(retention_policy r) {
    return std::make_unique<sqlite_alert_store>(sqlite_options{last_sqlite_path.string(), false, r});
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Engines, AlertStoreContract,
                         ::testing::Values(named_factory{"memory", [](retention_policy r) {
                                               return std::unique_ptr<alert_store>(std::make_unique<memory_alert_store>(r));
                                           }},
                                           named_factory{"sqlite", make_sqlite, reopen_sqlite}),
                         [](auto const& info) { return info.param.name; });

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
// as version 2 with every alert, frame, acknowledgement and seq intact, and
// keeps working: publishes continue each user's seqs, pruning by age still
// keeps them growing.
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
        b.alerts = {dup, v1_alert("u"), v1_alert("gone"),
                    v1_alert("new")};
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
