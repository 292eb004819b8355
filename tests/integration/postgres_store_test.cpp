// The PostgreSQL engine beyond the shared store contract: its schema and
// migrations, partitions and retention, several nodes at once, and how it
// fails (server restarts, slow statements, credentials in messages). Against
// real servers started by the test (support/postgres_process.hpp).
#include "common/clock.hpp"
#include "common/ids.hpp"
#include "store/pg_connection.hpp"
#include "store/postgres_alert_store.hpp"
#include "support/postgres_process.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <unistd.h>

using namespace vigil;
using namespace vigil::test;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t day = 86'400'000;

// A plain session of its own, as an operator's psql would be.
class session {
public:
    explicit session(std::string const& url) : c_(PQconnectdb(url.c_str())) {
        if (PQstatus(c_) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(c_));
    }
    ~session() { PQfinish(c_); }
    // The first column of the first row ("" when none).
    std::string query(std::string const& sql) {
        PGresult* r = PQexec(c_, sql.c_str());
        auto const st = PQresultStatus(r);
        std::string out = st == PGRES_TUPLES_OK && PQntuples(r) ? PQgetvalue(r, 0, 0) : "";
        std::string const why = PQresultErrorMessage(r);
        PQclear(r);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) throw std::runtime_error(sql + ": " + why);
        return out;
    }

private:
    PGconn* c_;
};

std::string unique_name(std::string_view prefix) {
    static int n = 0;
    return std::string{prefix} + "_" + std::to_string(getpid()) + "_" + std::to_string(n++);
}

postgres_options options_on(std::string url, std::string schema, retention_policy r = {}) {
    postgres_options o;
    o.url = std::move(url);
    o.schema = std::move(schema);
    o.retention = r;
    o.timeout = 10s;
    return o;
}

postgres_options shared_options(retention_policy r = {}) {
    return options_on(postgres_process::shared().url(), unique_name("engine"), r);
}

new_alert alert(std::string user, std::string key = {}) {
    new_alert a;
    a.user_id = std::move(user);
    a.stream_id = "cam-1";
    a.detection_json = R"({"type":"intrusion"})";
    a.timestamp = "2024-12-03T10:30:00Z";
    a.idempotency_key = std::move(key);
    return a;
}

write_batch alerts(std::vector<new_alert> v) {
    write_batch b;
    b.alerts = std::move(v);
    return b;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

TEST(PostgresStore, MigratesAnEmptyDatabaseOnceWhenNodesStartTogether) {
    auto& server = postgres_process::shared();
    auto const db = unique_name("empty");
    session{server.url("postgres")}.query("CREATE DATABASE " + db);
    postgres_options o;
    o.url = server.url(db);  // the default schema, "vigil"
    o.timeout = 10s;
    std::vector<std::unique_ptr<postgres_alert_store>> nodes(4);
    std::vector<std::thread> starting;
    std::atomic<int> failures{0};
    for (auto& n : nodes)
        starting.emplace_back([&] {
            try {
                n = std::make_unique<postgres_alert_store>(o);
            } catch (std::exception const& e) {
                ADD_FAILURE() << e.what();
                ++failures;
            }
        });
    for (auto& t : starting) t.join();
    ASSERT_EQ(failures, 0);
    for (auto& n : nodes) EXPECT_EQ(n->epoch(), nodes[0]->epoch());
    session s{server.url(db)};
    EXPECT_EQ(s.query("SELECT value FROM vigil.meta WHERE key = 'schema_version'"),
              std::to_string(postgres_alert_store::schema_version));
    EXPECT_EQ(s.query("SELECT count(*) FROM vigil.meta WHERE key = 'epoch'"), "1");
    // Alerts written through one node are read through another.
    auto const id = nodes[1]->write(alerts({alert("u")}), now_ms()).appended[0].alert.alert_id;
    ASSERT_TRUE(nodes[3]->get(id));
    // Opening again later changes nothing.
    nodes.clear();
    postgres_alert_store again{o};
    EXPECT_TRUE(again.get(id));
    EXPECT_EQ(again.last_seq("u"), 1u);
}

TEST(PostgresStore, RefusesASchemaNewerThanItsBuild) {
    auto o = shared_options();
    { postgres_alert_store first{o}; }
    session{postgres_process::shared().url()}.query("UPDATE " + o.schema +
                                                    ".meta SET value = '99' WHERE key = 'schema_version'");
    try {
        postgres_alert_store s{o};
        FAIL() << "opened a schema of version 99";
    } catch (store_error const& e) {
        EXPECT_NE(std::string{e.what()}.find("99"), std::string::npos) << e.what();
    }
}

TEST(PostgresStore, ANewEpochIsKeptByTheDatabase) {
    auto o = shared_options();
    std::string before;
    {
        postgres_alert_store s{o};
        before = s.epoch();
        s.write(alerts({alert("u")}), now_ms());
    }
    auto const renamed = postgres_alert_store::begin_new_epoch(o);
    EXPECT_NE(renamed, before);
    postgres_alert_store s{o};
    EXPECT_EQ(s.epoch(), renamed);
    EXPECT_EQ(s.last_seq("u"), 1u);
}

TEST(PostgresStore, PartitionsAreMadeAheadAndDroppedWholeByRetention) {
    auto o = shared_options(retention_policy{2 * day, 0});
    postgres_alert_store s{o};
    // Made at start: the current day's partition and the ones after it.
    auto const today = now_ms() / day * day;
    {
        auto const parts = s.partitions();
        ASSERT_GE(parts.size(), 3u);
        EXPECT_TRUE(std::any_of(parts.begin(), parts.end(), [&](auto const& p) { return p.from_ms == today; }));
        EXPECT_TRUE(
            std::any_of(parts.begin(), parts.end(), [&](auto const& p) { return p.from_ms == today + 2 * day; }));
        for (auto const& p : parts) EXPECT_EQ(p.to_ms - p.from_ms, day) << p.name;
    }
    // Alerts of days 10, 11 and 12 (of 1970: their partitions are made when
    // first needed). "gone" has alerts on day 10 only.
    std::int64_t const d10 = 10 * day + 3'600'000, d11 = 11 * day + 60'000, d12 = 12 * day + 1;
    s.write(alerts({alert("gone"), alert("gone"), alert("kept")}), d10);
    s.write(alerts({alert("kept")}), d11);
    auto const last = s.write(alerts({alert("kept")}), d12).appended[0].alert;
    EXPECT_EQ(last.seq, 3u);
    auto names = [&] {
        std::vector<std::int64_t> from;
        for (auto const& p : s.partitions()) from.push_back(p.from_ms);
        return from;
    };
    auto const before = names();
    for (auto d : {10, 11, 12}) EXPECT_EQ(std::count(before.begin(), before.end(), d * day), 1) << "day " << d;

    // Day 13, 2 h: day 10 is wholly older than two days, day 11 not yet.
    auto const now = 13 * day + 7'200'000;
    EXPECT_EQ(s.prune_expired(now, 1), 3u);  // a whole partition, whatever max_rows says
    auto const after = names();
    EXPECT_EQ(std::count(after.begin(), after.end(), 10 * day), 0);
    EXPECT_EQ(std::count(after.begin(), after.end(), 11 * day), 1);
    EXPECT_EQ(std::count(after.begin(), after.end(), 14 * day), 1);  // made ahead of the prune's "now"
    EXPECT_TRUE(s.after("gone", 0, false, 100, false).alerts.empty());
    EXPECT_EQ(s.after("kept", 0, false, 100, false).alerts.size(), 2u);
    // Seqs live in the users' head rows: they survive their alerts.
    EXPECT_EQ(s.last_seq("gone"), 2u);
    EXPECT_EQ(s.write(alerts({alert("gone")}), now).appended[0].alert.seq, 3u);
    EXPECT_EQ(s.prune_expired(now, 100), 0u);
    // The table is gone from the database, not emptied.
    session db{postgres_process::shared().url()};
    EXPECT_EQ(db.query("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = '" +
                       o.schema + "' AND c.relname = 'alerts_19700111_000000'"),
              "0");
}

TEST(PostgresStore, TwoNodesPruningAtOnceDropEachPartitionOnce) {
    auto o = shared_options(retention_policy{day, 0});
    postgres_alert_store a{o}, b{o};
    std::size_t written = 0;
    for (int d = 1; d <= 8; ++d) {
        std::vector<new_alert> v;
        for (int i = 0; i < 5; ++i) v.push_back(alert("u" + std::to_string(i % 2)));
        a.write(alerts(v), d * day + 1000);
        written += v.size();
    }
    auto const now = 20 * day;  // every one of them expired
    std::atomic<std::size_t> removed{0};
    std::atomic<int> errors{0};
    auto prune = [&](postgres_alert_store& s) {
        for (int i = 0; i < 5; ++i) try {
                removed += s.prune_expired(now, 1000);
            } catch (std::exception const& e) {
                ADD_FAILURE() << e.what();
                ++errors;
            }
    };
    std::thread t{prune, std::ref(b)};
    prune(a);
    t.join();
    EXPECT_EQ(errors, 0);
    EXPECT_EQ(removed, written);
    for (auto const& p : a.partitions()) EXPECT_GT(p.to_ms, now - day) << p.name;
    EXPECT_EQ(b.last_seq("u0"), 24u);  // 3 of every 5
    EXPECT_EQ(a.write(alerts({alert("u0")}), now).appended[0].alert.seq, 25u);
}

TEST(PostgresStore, ARetentionShorterThanAPartitionDeletesRowsInChunks) {
    postgres_alert_store s{shared_options(retention_policy{1000, 0})};
    for (int i = 0; i < 10; ++i) s.write(alerts({alert("u")}), 5000 + i);
    EXPECT_EQ(s.prune_expired(6005, 3), 3u);  // expired: 5000..5004
    EXPECT_EQ(s.prune_expired(6005, 3), 2u);
    EXPECT_EQ(s.prune_expired(6005, 3), 0u);
    EXPECT_EQ(s.after("u", 0, false, 100, false).alerts.front().seq, 6u);
}

TEST(PostgresStore, TheSameKeyTwiceInOneBatchIsStoredOnce) {
    postgres_alert_store s{shared_options()};
    auto const r = s.write(alerts({alert("u", "k"), alert("v", "k"), alert("u", "k"), alert("u")}), 1000);
    ASSERT_EQ(r.appended.size(), 4u);
    EXPECT_FALSE(r.appended[0].duplicate);
    EXPECT_FALSE(r.appended[1].duplicate);
    EXPECT_TRUE(r.appended[2].duplicate);
    EXPECT_EQ(r.appended[2].alert.alert_id, r.appended[0].alert.alert_id);
    EXPECT_EQ(r.appended[3].alert.seq, 2u);
    EXPECT_EQ(s.last_seq("u"), 2u);
    // Acknowledged in the same batch as published, and twice: acked, then already.
    write_batch b = alerts({alert("w")});
    auto const first = s.write(b, 2000).appended[0].alert.alert_id;
    write_batch acks;
    acks.transitions = {{first, "w", "w"}, {first, "w", "w"}};
    auto const out = s.write(acks, 3000);
    EXPECT_EQ(out.transitions[0].outcome, transition_outcome::applied);
    EXPECT_EQ(out.transitions[1].outcome, transition_outcome::unchanged);
    EXPECT_EQ(out.transitions[1].user_id, "w");
}

TEST(PostgresStore, IdsThatAreNotAlertIdsFindNothing) {
    postgres_alert_store s{shared_options()};
    auto const id = s.write(alerts({alert("u")}), 1000).appended[0].alert.alert_id;
    std::string upper = id;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    for (std::string bad :
         {std::string{"nope"}, std::string{}, upper, id + "0", std::string{"'; DROP TABLE alerts; --"}}) {
        EXPECT_FALSE(s.get(bad)) << bad;
        EXPECT_FALSE(s.frame(bad)) << bad;
        write_batch b;
        b.transitions = {{bad, "", "admin"}};
        b.delivered = {{bad, "u"}};
        EXPECT_EQ(s.write(b, 2000).transitions[0].outcome, transition_outcome::not_found) << bad;
    }
    EXPECT_EQ(s.get(id)->delivery_count, 0);
}

// The other engines compare the history cursor with ids as text: so does
// this one, whatever the cursor.
TEST(PostgresStore, AHistoryCursorThatIsNoIdPagesAsText) {
    postgres_alert_store s{shared_options()};
    std::vector<std::string> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(s.write(alerts({alert("u")}), 1000 + i).appended[0].alert.alert_id);
    std::sort(ids.begin(), ids.end());
    auto page = [&](std::string before) {
        history_query q;
        q.before = std::move(before);
        std::vector<std::string> got;
        for (auto const& a : s.history(q)) got.push_back(a.alert_id);
        return got;
    };
    auto expected = [&](std::string const& before) {
        std::vector<std::string> want;
        for (auto it = ids.rbegin(); it != ids.rend(); ++it)
            if (*it < before) want.push_back(*it);
        return want;
    };
    std::string upper = ids[2];
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    for (std::string const& c : {ids[2], ids[2] + "x", ids[2].substr(0, 20), upper, std::string{"~"}, std::string{"!"},
                                 std::string{"00000000-0000-0000-0000-00000000000g"}, ids[0].substr(0, 8) + "z"})
        EXPECT_EQ(page(c), expected(c)) << c;
}

TEST(PostgresStore, ThePoolOutlivesAServerRestart) {
    postgres_process server;
    auto o = options_on(server.url(), "restart");
    o.timeout = 1s;
    postgres_alert_store s{o};
    EXPECT_EQ(s.write(alerts({alert("u", "k1")}), now_ms()).appended[0].alert.seq, 1u);
    EXPECT_EQ(s.last_seq("u"), 1u);  // a second pooled connection, now idle too
    EXPECT_TRUE(s.status().up);

    server.stop();
    auto const t0 = std::chrono::steady_clock::now();
    EXPECT_THROW(s.write(alerts({alert("u", "k2")}), now_ms()), store_error);
    EXPECT_THROW(s.last_seq("u"), store_error);
    EXPECT_LT(seconds_since(t0), 5.0) << "calls while the server is down must fail promptly";
    EXPECT_FALSE(s.status().up) << "/health must say the store is down";
    EXPECT_FALSE(s.status().detail.empty());

    server.start();
    // The first call after the restart succeeds: connections the server
    // closed are replaced before use.
    auto const r = s.write(alerts({alert("u", "k2")}), now_ms()).appended[0];
    EXPECT_FALSE(r.duplicate);
    EXPECT_EQ(r.alert.seq, 2u);
    EXPECT_EQ(s.after("u", 0, false, 10, false).alerts.size(), 2u);
    EXPECT_TRUE(s.status().up);
    // A retry of the publish that failed finds it, once.
    EXPECT_TRUE(s.write(alerts({alert("u", "k2")}), now_ms()).appended[0].duplicate);
}

// A restart quicker than anyone's next call (systemctl restart): every
// pooled connection was closed by the old server, and none was used while it
// was down. The first write after it, on such a connection, must be replaced,
// not failed: a lost answer to a write is a 503 for its publisher.
TEST(PostgresStore, TheFirstWriteAfterAQuickServerRestartSucceeds) {
    postgres_process server;
    auto o = options_on(server.url(), "quick_restart");
    o.timeout = 1s;
    postgres_alert_store s{o};
    EXPECT_EQ(s.write(alerts({alert("u", "k1")}), now_ms()).appended[0].alert.seq, 1u);
    EXPECT_EQ(s.last_seq("u"), 1u);

    server.stop();
    server.start();
    write_result r;
    ASSERT_NO_THROW(r = s.write(alerts({alert("u", "k2")}), now_ms()));
    EXPECT_EQ(r.appended[0].alert.seq, 2u);
    EXPECT_TRUE(s.status().up);
}

TEST(PostgresStore, AStatementHeldUpByALockFailsWithinTheTimeout) {
    auto o = shared_options();
    o.timeout = 500ms;
    postgres_alert_store s{o};
    s.write(alerts({alert("u")}), 1000);
    session other{postgres_process::shared().url()};
    other.query("BEGIN");
    other.query("SELECT last_seq FROM " + o.schema + ".users WHERE user_id = 'u' FOR UPDATE");
    auto const t0 = std::chrono::steady_clock::now();
    try {
        s.write(alerts({alert("u", "held")}), 2000);
        FAIL() << "a write waited past its timeout";
    } catch (store_error const& e) {
        EXPECT_NE(std::string{e.what()}.find("statement timeout"), std::string::npos) << e.what();
    }
    auto const took = seconds_since(t0);
    EXPECT_GE(took, 0.4);
    EXPECT_LT(took, 5.0);
    // Other users are not held up meanwhile.
    EXPECT_EQ(s.write(alerts({alert("v")}), 2000).appended[0].alert.seq, 1u);
    other.query("ROLLBACK");
    // Nothing of the failed write stayed: its retry is stored once, next in line.
    auto const r = s.write(alerts({alert("u", "held")}), 3000).appended[0];
    EXPECT_FALSE(r.duplicate);
    EXPECT_EQ(r.alert.seq, 2u);
}

TEST(PostgresStore, MessagesNeverCarryThePassword) {
    int const closed_port = [] {  // a port that was free a moment ago
        int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        ::close(fd);
        return int(ntohs(a.sin_port));
    }();
    auto o = options_on("postgresql://vigil:s3cr3t-pw@127.0.0.1:" + std::to_string(closed_port) + "/db", "x");
    o.timeout = 1s;
    try {
        postgres_alert_store s{o};
        FAIL() << "connected to a closed port";
    } catch (store_error const& e) {
        std::string const m = e.what();
        EXPECT_EQ(m.find("s3cr3t-pw"), std::string::npos) << m;
        EXPECT_NE(m.find("REDACTED"), std::string::npos) << m;
    }
    EXPECT_EQ(pg::redact("postgresql://u:p%40ss@h:5432/db?sslmode=require&password=other"),
              "postgresql://u:REDACTED@h:5432/db?sslmode=require&password=REDACTED");
    EXPECT_EQ(pg::redact("host=h password='a b\\' c' dbname=d"), "host=h password=REDACTED dbname=d");
    EXPECT_EQ(pg::redact("postgresql://u@h/db"), "postgresql://u@h/db");
}

// ------------------------------------------------------------------ handling

namespace {

// The least id of a millisecond (a partition bound), as the engine writes it.
std::string uuid_at(std::int64_t ms) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08llx-%04llx-0000-0000-000000000000", static_cast<unsigned long long>(ms >> 16),
                  static_cast<unsigned long long>(ms & 0xffff));
    return buf;
}

// A team alert: one copy per user under one id.
std::vector<new_alert> copies_of(std::string const& id, std::vector<std::string> const& users) {
    std::vector<new_alert> out;
    for (auto const& u : users) {
        auto a = alert(u);
        a.alert_id = id;
        a.team = "night";
        out.push_back(std::move(a));
    }
    return out;
}

transition_request ack_by(std::string id, std::string user) {
    return {std::move(id), user, user, transition_kind::acknowledge, {}, {}};
}

}  // namespace

// A database a build of schema 2 made and wrote is upgraded in place when a
// store of schema 3 opens it: its alerts keep their seqs and state, become
// single copies of no team, and take copies and transitions from then on.
TEST(PostgresStore, UpgradesASchema2DatabaseInPlace) {
    auto const o = shared_options();
    auto const day10 = 10 * day, day11 = 11 * day;
    auto const acked_id = new_alert_id(day10 + 1000), open_id = new_alert_id(day10 + 2000);
    {
        session s{postgres_process::shared().url()};
        // Schema 2 as that build created it (its migrations 1 and 2), one
        // partition, and two alerts of one user, one of them acknowledged.
        s.query("CREATE SCHEMA " + o.schema + "; SET search_path = " + o.schema + R"sql(;
            CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
            INSERT INTO meta VALUES ('schema_version', '2'), ('epoch', 'e-before');
            CREATE TABLE users (user_id text PRIMARY KEY, last_seq bigint NOT NULL);
            CREATE TABLE alerts (
                id uuid NOT NULL, user_id text NOT NULL, seq bigint NOT NULL, stream_id text NOT NULL,
                detection text NOT NULL, ts text NOT NULL, created_ms bigint NOT NULL, idempotency_key text,
                frame_type text, frame bytea, first_delivered_ms bigint, delivery_count bigint NOT NULL DEFAULT 0,
                acked_ms bigint, acked_by text, xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
                PRIMARY KEY (id)
            ) PARTITION BY RANGE (id);
            ALTER TABLE alerts ALTER COLUMN frame SET STORAGE EXTERNAL;
            CREATE INDEX alerts_user_seq ON alerts (user_id, seq);
            CREATE INDEX alerts_idempotency ON alerts (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
            CREATE INDEX alerts_feed ON alerts (xid, id);
            ALTER TABLE alerts ADD COLUMN severity text NOT NULL DEFAULT 'medium';
            ALTER TABLE alerts ADD COLUMN group_key text NOT NULL DEFAULT '';
            ALTER TABLE alerts ADD COLUMN suppressed bool NOT NULL DEFAULT false;
            ALTER TABLE alerts ADD COLUMN pushed_ms bigint;
            CREATE TABLE push_subscriptions (endpoint text PRIMARY KEY, user_id text NOT NULL, p256dh bytea NOT NULL,
                                             auth bytea NOT NULL, created_ms bigint NOT NULL);
            CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);
            CREATE TABLE push_snoozes (user_id text NOT NULL, stream_id text NOT NULL, until_ms bigint NOT NULL,
                                       PRIMARY KEY (user_id, stream_id));
            CREATE TABLE push_quiet_hours (user_id text PRIMARY KEY, start_minute int NOT NULL, end_minute int NOT NULL,
                                           utc_offset_minutes int NOT NULL, severities int NOT NULL);
            CREATE TABLE push_groups (user_id text NOT NULL, topic text NOT NULL, started_ms bigint NOT NULL,
                                      count bigint NOT NULL, PRIMARY KEY (user_id, topic));
            CREATE TABLE alerts_19700111_000000 (LIKE alerts INCLUDING DEFAULTS INCLUDING STORAGE);
            )sql" +
                "ALTER TABLE alerts ATTACH PARTITION alerts_19700111_000000 FOR VALUES FROM ('" + uuid_at(day10) +
                "') TO ('" + uuid_at(day11) + "');" +
                "INSERT INTO users VALUES ('u', 2);"
                "INSERT INTO alerts (id, user_id, seq, stream_id, detection, ts, created_ms, acked_ms, acked_by, "
                "severity, group_key) VALUES ('" +
                acked_id + "', 'u', 1, 'cam-1', '{}', 't', " + std::to_string(day10 + 1000) + ", " +
                std::to_string(day10 + 1500) + ", 'u', 'high', 'cam-1'), ('" + open_id +
                "', 'u', 2, 'cam-1', '{}', 't', " + std::to_string(day10 + 2000) + ", NULL, NULL, 'low', 'cam-1')");
    }
    postgres_alert_store s{o};
    EXPECT_EQ(s.epoch(), "e-before");
    session db{postgres_process::shared().url()};
    EXPECT_EQ(db.query("SELECT value FROM " + o.schema + ".meta WHERE key = 'schema_version'"),
              std::to_string(postgres_alert_store::schema_version));

    auto const acked = s.get(acked_id);
    ASSERT_TRUE(acked);
    EXPECT_EQ(acked->state(), alert_state::acknowledged);
    EXPECT_EQ(acked->acked_by, "u");
    EXPECT_EQ(acked->severity, "high");
    EXPECT_EQ(acked->team, "");
    EXPECT_EQ(acked->escalation_level, 0);
    EXPECT_EQ(s.recipients(open_id), (std::vector<std::string>{"u"}));
    EXPECT_EQ(s.after("u", 0, true, 10, false).alerts.size(), 1u);
    auto const counts = s.open_by_severity();
    EXPECT_EQ(counts.count("low") ? counts.at("low") : 0, 1);

    // Transitions and the trail work on the alerts from before.
    write_batch b;
    b.transitions = {{open_id, "u", "u", transition_kind::resolve, "real", ""}};
    auto const r = s.write(b, day10 + 3000);
    EXPECT_EQ(r.transitions[0].outcome, transition_outcome::applied);
    EXPECT_EQ(s.get(open_id)->state(), alert_state::resolved);
    auto const events = s.events(open_id);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].type, "resolved");

    // The key is (id, user): copies of one alert in the partition from before.
    auto const team_id = new_alert_id(day10 + 4000);
    auto const team = s.write(alerts(copies_of(team_id, {"u", "v"})), day10 + 4000);
    EXPECT_EQ(team.appended[0].alert.seq, 3u);  // u's seqs go on
    EXPECT_EQ(team.appended[1].alert.seq, 1u);
    EXPECT_EQ(s.recipients(team_id), (std::vector<std::string>{"u", "v"}));
    EXPECT_EQ(s.last_seq("u"), 3u);
}

// Retention drops a whole partition, and with it the audit events and the
// escalation timers of the alerts that were in it (keyed by alert id:
// whatever lies below the oldest partition left goes).
TEST(PostgresStore, ADroppedPartitionTakesItsAlertsEventsAndTimers) {
    auto const o = shared_options(retention_policy{2 * day, 0});
    postgres_alert_store s{o};
    auto const d10 = 10 * day + 1000, d12 = 12 * day + 1000;
    auto const with_timer = [](std::vector<new_alert> v, std::int64_t due) {
        for (auto& a : v) {
            a.escalation = "p";
            a.escalation_due_ms = due;
        }
        return v;
    };
    auto const old_id = new_alert_id(d10), kept_id = new_alert_id(d12);
    s.write(alerts(with_timer(copies_of(old_id, {"a", "b"}), d10 + 60'000)), d10);
    s.write(alerts(with_timer(copies_of(kept_id, {"a", "b"}), d12 + 60'000)), d12);
    auto const old_acked = s.write(alerts({alert("a")}), d10).appended[0].alert.alert_id;
    write_batch b;
    b.transitions = {ack_by(old_acked, "a"), ack_by(kept_id, "b")};
    s.write(b, d12 + 10);  // kept_id's timer goes with its acknowledgement
    write_batch reopen;
    reopen.transitions = {{kept_id, "b", "b", transition_kind::reopen, {}, {}}};
    s.write(reopen, d12 + 20);  // no policy "p": no timer again
    ASSERT_EQ(s.events(old_acked).size(), 2u);

    session db{postgres_process::shared().url()};
    auto const count = [&](std::string const& table) {
        return db.query("SELECT count(*) FROM " + o.schema + "." + table);
    };
    EXPECT_EQ(count("alert_events"), "3");
    EXPECT_EQ(count("escalation_timers"), "1");

    EXPECT_EQ(s.prune_expired(13 * day + 7'200'000, 100), 3u);  // day 10: two copies and one alert
    EXPECT_FALSE(s.get(old_id));
    EXPECT_TRUE(s.events(old_acked).empty());
    EXPECT_EQ(count("alert_events"), "2");  // kept_id's acknowledgement and reopening
    EXPECT_EQ(count("escalation_timers"), "0");
    EXPECT_FALSE(s.next_escalation_due());
    EXPECT_EQ(s.events(kept_id).size(), 3u);  // published, acknowledged, reopened
}

// The per-user count removes copies: the alert's frame moves to a copy that
// stays, and its events and timer go with its last copy.
TEST(PostgresStore, TheLastCopyTakesTheFrameEventsAndTimerAlong) {
    auto const o = shared_options(retention_policy{0, 1});
    postgres_alert_store s{o};
    s.put_policy({"p", {{"user:sup", 60}}, 0, 0});
    auto const id = new_alert_id(1000);
    auto batch = copies_of(id, {"alice", "bob"});
    for (auto& a : batch) {
        a.frame = annotated_frame{"image/png", "\x89PNG-frame"};
        a.escalation = "p";
        a.escalation_due_ms = 5000;
    }
    s.write(alerts(batch), 1000);
    auto const claimed = s.claim_due_escalations(5000, 1000, 10);
    ASSERT_EQ(claimed.size(), 1u);
    ASSERT_TRUE(
        s.escalate({claimed[0], 1, "team:night", {"alice", "bob"}, escalation_timer{id, "p", 0, 1, 90'000}, 5100})
            .applied);

    session db{postgres_process::shared().url()};
    auto const count = [&](std::string const& table) {
        return db.query("SELECT count(*) FROM " + o.schema + "." + table);
    };
    auto const frames_kept =
        db.query("SELECT count(*) FROM " + o.schema + ".alerts WHERE id = '" + id + "' AND frame IS NOT NULL");
    EXPECT_EQ(frames_kept, "1");  // once, however many copies

    s.write(alerts({alert("alice")}), 6000);  // alice keeps one alert: her copy goes
    EXPECT_FALSE(s.get(id, "alice"));
    auto const frame = s.frame(id);
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->bytes, "\x89PNG-frame");
    auto const bobs = s.after("bob", 0, false, 10, true).alerts;
    ASSERT_EQ(bobs.size(), 1u);
    EXPECT_EQ(bobs[0].frame_bytes, "\x89PNG-frame");
    EXPECT_EQ(count("alert_events"), "1");
    EXPECT_EQ(count("escalation_timers"), "1");

    s.write(alerts({alert("bob")}), 7000);  // the last copy goes
    EXPECT_FALSE(s.get(id));
    EXPECT_FALSE(s.frame(id));
    EXPECT_TRUE(s.events(id).empty());
    EXPECT_EQ(count("alert_events"), "0");
    EXPECT_EQ(count("escalation_timers"), "0");
}

// Two nodes: one acknowledges while the other escalates the same alert.
// Whichever commits first, every copy ends acknowledged (a copy the
// escalation adds never misses the acknowledgement), and the
// acknowledgement names every recipient there is.
TEST(PostgresStore, AnEscalationNeverMissesAConcurrentAcknowledgement) {
    auto const o = shared_options();
    postgres_alert_store a{o}, b{o};
    int applied = 0;
    for (int round = 0; round < 25; ++round) {
        auto const now = 1000 + round * 100'000;
        auto const id = new_alert_id(now);
        auto batch = copies_of(id, {"alice"});
        batch[0].escalation = "p";
        batch[0].escalation_due_ms = now + 10;
        a.write(alerts(batch), now);
        auto const claimed = a.claim_due_escalations(now + 10, 60'000, 1);
        ASSERT_EQ(claimed.size(), 1u);
        transition_result acked;
        escalation_result escalated;
        std::thread t{[&] {
            write_batch w;
            w.transitions = {ack_by(id, "alice")};
            acked = b.write(w, now + 20).transitions[0];
        }};
        escalated = a.escalate({claimed[0], 2, "user:sup", {"sup", "sup2"}, std::nullopt, now + 20});
        t.join();
        applied += escalated.applied;
        EXPECT_EQ(acked.outcome, transition_outcome::applied);
        auto const everyone = a.recipients(id);
        EXPECT_EQ(acked.recipients, everyone) << "round " << round;
        EXPECT_EQ(everyone.size(), escalated.applied ? 3u : 1u);
        for (auto const& u : everyone) {
            auto const copy = a.get(id, u);
            ASSERT_TRUE(copy);
            EXPECT_EQ(copy->state(), alert_state::acknowledged) << u << " round " << round;
            EXPECT_EQ(copy->acked_by, "alice");
        }
        EXPECT_FALSE(a.next_escalation_due());
    }
    std::printf("escalations applied before the acknowledgement: %d of 25\n", applied);
}

// Several nodes share the outbox: each row is handed to one of them.
TEST(PostgresStore, NodesClaimEachWebhookRowOnce) {
    auto const o = shared_options();
    postgres_alert_store a{o}, b{o};
    a.set_webhook_urls({"http://127.0.0.1:9/hook"});
    std::vector<new_alert> v;
    for (int i = 0; i < 30; ++i) v.push_back(alert("u"));
    write_batch acks;
    for (auto const& r : a.write(alerts(v), 1000).appended) acks.transitions.push_back(ack_by(r.alert.alert_id, "u"));
    a.write(acks, 2000);
    std::mutex m;
    std::multiset<std::string> seen;
    auto claim = [&](postgres_alert_store& s) {
        for (int i = 0; i < 15; ++i)
            for (auto const& row : s.claim_webhooks(2000, 60'000, 2)) {
                std::lock_guard lock{m};
                seen.insert(row.id);
            }
    };
    std::thread t{claim, std::ref(b)};
    claim(a);
    t.join();
    EXPECT_EQ(seen.size(), 30u);
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 30u);
}

// An age shorter than a partition prunes alerts row by row: each alert
// whole, every copy at once, with its events and timer.
TEST(PostgresStore, RowByRowRetentionTakesEveryCopyWithItsEventsAndTimer) {
    auto const o = shared_options(retention_policy{1000, 0});
    postgres_alert_store s{o};
    auto const old_id = new_alert_id(5000), young_id = new_alert_id(6500);
    auto old = copies_of(old_id, {"a", "b", "c"});
    for (auto& a : old) {
        a.escalation = "p";
        a.escalation_due_ms = 60'000;
    }
    s.write(alerts(old), 5000);
    s.write(alerts(copies_of(young_id, {"a", "b"})), 6500);
    write_batch b;
    b.transitions = {ack_by(young_id, "a")};
    s.write(b, 6600);
    write_batch r;
    r.transitions = {{old_id, "b", "b", transition_kind::resolve, "test", ""},
                     {old_id, "b", "b", transition_kind::reopen, {}, {}}};
    s.write(r, 6700);  // no policy "p": the reopening arms no timer; the publish's went with the resolution
    session db{postgres_process::shared().url()};
    db.query("INSERT INTO " + o.schema + ".escalation_timers VALUES ('" + old_id + "', 'p', 0, 0, 60000)");

    EXPECT_EQ(s.prune_expired(7000, 1), 3u);  // one alert: its three copies
    EXPECT_FALSE(s.get(old_id));
    EXPECT_TRUE(s.get(young_id));
    auto const count = [&](std::string const& table) {
        return db.query("SELECT count(*) FROM " + o.schema + "." + table);
    };
    EXPECT_EQ(count("alert_events"), "1");  // young_id's acknowledgement
    EXPECT_EQ(count("escalation_timers"), "0");
    EXPECT_EQ(s.prune_expired(7000, 1), 0u);
}
