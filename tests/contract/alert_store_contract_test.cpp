#include "contract/alert_store_contract.hpp"

#include "store/memory_alert_store.hpp"
#include "store/sqlite_alert_store.hpp"

#include <filesystem>
#include <random>

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

    auto const all = s->after("u", 2, false, 100, false);
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].seq, 3u);
    auto const unacked = s->after("u", 0, true, 100, false);
    ASSERT_EQ(unacked.size(), 4u);
    EXPECT_EQ(unacked[1].seq, 3u);
    EXPECT_EQ(s->after("u", 0, false, 2, false).size(), 2u);
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
    EXPECT_EQ(s->after("u", 0, false, 10, true)[0].frame_bytes, in.frame->bytes);
    EXPECT_FALSE(s->after("u", 0, false, 10, false)[0].frame_bytes);
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
    auto const kept = s->after("u", 0, false, 100, false);
    ASSERT_EQ(kept.size(), 3u);  // per-user count
    EXPECT_EQ(kept.front().seq, 3u);
    EXPECT_EQ(s->prune_expired(20'000, 2), 2u);  // by age, in chunks
    EXPECT_EQ(s->prune_expired(20'000, 100), 1u);
    EXPECT_TRUE(s->after("u", 0, false, 100, false).empty());
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
            auto const rows = s->after(u, 0, false, 1000, false);
            EXPECT_LE(rows.size(), 20u);
            for (std::size_t i = 1; i < rows.size(); ++i) ASSERT_EQ(rows[i].seq, rows[i - 1].seq + 1);
            if (!rows.empty()) {
                EXPECT_EQ(rows.back().seq, last[u]);
            }
            EXPECT_EQ(s->last_seq(u), last[u]);
        }
    }
}

namespace {

std::unique_ptr<alert_store> make_sqlite(retention_policy r) {
    static int counter = 0;
    auto const path = std::filesystem::temp_directory_path() /
                      ("vigil-contract-" + std::to_string(getpid()) + "-" + std::to_string(counter++)) / "vigil.db";
    std::filesystem::remove_all(path.parent_path());
    return std::make_unique<sqlite_alert_store>(sqlite_options{path.string(), false, r});
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Engines, AlertStoreContract,
                         ::testing::Values(named_factory{"memory", [](retention_policy r) {
                                               return std::unique_ptr<alert_store>(std::make_unique<memory_alert_store>(r));
                                           }},
                                           named_factory{"sqlite", make_sqlite}),
                         [](auto const& info) { return info.param.name; });

TEST(SqliteAlertStore, SurvivesReopenAndKeepsSeqs) {
    auto const dir = std::filesystem::temp_directory_path() / ("vigil-reopen-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    auto const path = (dir / "vigil.db").string();
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
    std::filesystem::remove_all(dir);
}
