// The cases of the alert_store contract. Each engine's instantiation is in
// a file of its own (local_store_contract_test.cpp for the engines in the
// process, postgres_store_contract_test.cpp), linked with this one into the
// test binary that can run that engine.
#include "contract/alert_store_contract.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
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

// Severity, group key and the suppressed flag are kept as written and read
// back by every way an alert is read (SPEC sections 7 and 8).
TEST_P(AlertStoreContract, SeverityGroupAndSuppressionAreKept) {
    auto s = make();
    auto critical = alert("u", "k-critical");
    critical.severity = "critical";
    critical.group_key = "cam-3/person";
    auto quiet = alert("u");
    quiet.severity = "low";
    quiet.group_key = "cam-3/car";
    quiet.suppressed = true;
    auto const feed_start = s->feed("", 0).cursor;
    auto const r = s->write(alerts({critical, quiet}), 1000);
    ASSERT_EQ(r.appended.size(), 2u);
    auto const check = [](stored_alert const& a, std::string_view severity, std::string_view group, bool suppressed) {
        EXPECT_EQ(a.severity, severity);
        EXPECT_EQ(a.group_key, group);
        EXPECT_EQ(a.suppressed, suppressed);
    };
    check(r.appended[0].alert, "critical", "cam-3/person", false);
    check(r.appended[1].alert, "low", "cam-3/car", true);

    auto const got = s->get(r.appended[1].alert.alert_id);
    ASSERT_TRUE(got);
    check(*got, "low", "cam-3/car", true);
    auto const page = s->after("u", 0, false, 10, false);
    ASSERT_EQ(page.alerts.size(), 2u);
    check(page.alerts[0], "critical", "cam-3/person", false);
    check(page.alerts[1], "low", "cam-3/car", true);
    auto const rows = s->history({"u", "", state_filter::all, 10, ""});
    ASSERT_EQ(rows.size(), 2u);
    check(rows[0], "low", "cam-3/car", true);
    check(rows[1], "critical", "cam-3/person", false);
    auto const fed = s->feed(feed_start, 10);
    ASSERT_EQ(fed.alerts.size(), 2u);
    check(fed.alerts[0], "critical", "cam-3/person", false);

    // A duplicate answers with the earlier alert's values, not the new ones.
    auto again = alert("u", "k-critical");
    again.severity = "low";
    again.group_key = "other";
    auto const dup = s->write(alerts({again}), 2000).appended[0];
    EXPECT_TRUE(dup.duplicate);
    check(dup.alert, "critical", "cam-3/person", false);
}

TEST_P(AlertStoreContract, AfterReplaysInOrderAndFiltersAcked) {
    auto s = make();
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(s->write(alerts({alert("u")}), 1000 + i).appended[0].alert.alert_id);
    write_batch acks;
    acks.transitions = {{ids[1], "u", "u"}, {ids[2], "other", "other"}, {"missing", "", "admin"}};
    auto const r = s->write(acks, 5000);
    EXPECT_EQ(r.transitions[0].outcome, transition_outcome::applied);
    EXPECT_EQ(r.transitions[1].outcome, transition_outcome::not_found);  // not the owner
    EXPECT_EQ(r.transitions[2].outcome, transition_outcome::not_found);
    write_batch again;
    again.transitions = {{ids[1], "", "admin"}};
    EXPECT_EQ(s->write(again, 6000).transitions[0].outcome, transition_outcome::unchanged);

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
    d.delivered = {{id, "u"}, {id, "u"}};
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
        for (int i = 0; i < n; ++i)
            b.alerts.push_back(alert(users[rng() % 3], rng() % 5 == 0 ? "k" + std::to_string(rng() % 8) : ""));
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
    EXPECT_NE(make()->epoch(), e);            // a new store starts a new one
}

TEST_P(AlertStoreContract, APageCarriesTheHeadReadBeforeIt) {
    auto s = make();
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) ids.push_back(s->write(alerts({alert("u")}), 1000 + i).appended[0].alert.alert_id);
    write_batch acks;
    acks.transitions = {{ids[4], "u", "u"}, {ids[5], "u", "u"}};
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
            results[std::size_t(t)] =
                (t % 2 ? *first : second).write(alerts({alert("u", "same-key")}), 1000).appended[0];
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

// The feed (what a node reads while its bus is down): from a cursor taken
// "now", every alert committed afterwards by any writer, none from before;
// with one writer at a time, each user's in seq order.
TEST_P(AlertStoreContract, TheFeedHandsOutEveryLaterCommitInCommitOrder) {
    auto first = make();
    auto& second = second_writer(*first);
    auto const before = first->write(alerts({alert("a")}), 1000).appended[0].alert.alert_id;
    auto const start = first->feed("", 10);
    EXPECT_TRUE(start.alerts.empty());
    std::mutex m;
    std::set<std::string> written;
    std::atomic<int> writing{2};
    auto writer = [&](alert_store& s, unsigned seed) {
        std::mt19937 rng{seed};
        for (int r = 0; r < 120; ++r) {
            write_batch b;
            for (int n = 1 + int(rng() % 3); n > 0; --n) b.alerts.push_back(alert(rng() % 2 ? "a" : "b"));
            auto const out = s.write(b, 2000 + r);
            std::lock_guard lock{m};
            for (auto const& a : out.appended) written.insert(a.alert.alert_id);
        }
        --writing;
    };
    std::vector<stored_alert> fed;
    std::thread reader{[&] {
        auto cursor = start.cursor;
        for (bool last_round = false;;) {
            bool const done = writing == 0;
            auto const page = second.feed(cursor, 7);
            cursor = page.cursor;
            fed.insert(fed.end(), page.alerts.begin(), page.alerts.end());
            if (page.alerts.empty()) {
                if (last_round) return;
                last_round = done;  // one more empty page after the writers finished
            }
        }
    }};
    std::thread w{writer, std::ref(second), 2u};
    writer(*first, 1u);
    w.join();
    reader.join();
    std::set<std::string> seen;
    for (auto const& a : fed) {
        EXPECT_NE(a.alert_id, before);
        seen.insert(a.alert_id);  // an engine may repeat one
    }
    EXPECT_EQ(seen, written);
    EXPECT_THROW(first->feed("not a cursor", 10), store_error);

    // One writer at a time: each user's alerts come in seq order.
    auto const mark = first->feed("", 10).cursor;
    for (int i = 0; i < 30; ++i) second.write(alerts({alert(i % 2 ? "a" : "b"), alert("a")}), 3000 + i);
    std::map<std::string, std::uint64_t> last;
    std::size_t n = 0;
    for (auto cursor = mark;;) {
        auto const page = first->feed(cursor, 4);
        cursor = page.cursor;
        if (page.alerts.empty()) break;
        for (auto const& a : page.alerts) {
            EXPECT_GT(a.seq, last[a.user_id]) << a.user_id;
            last[a.user_id] = a.seq;
            ++n;
        }
    }
    EXPECT_EQ(n, 60u);
}
