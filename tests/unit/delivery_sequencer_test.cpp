// The per-connection delivery rules (alerts/delivery_sequencer.hpp), driven
// through their real interface: pages and live alerts in, steps out.
#include "alerts/delivery_sequencer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>

using namespace vigil;

namespace {

sequenced_message msg(std::uint64_t seq, std::size_t size = 40) {
    return {std::make_shared<std::string const>(std::string(size, 'a') + std::to_string(seq)), seq, 0};
}

replay_delivery page(std::uint64_t after, std::vector<std::uint64_t> seqs, std::uint64_t head, bool more = false,
                     bool unacked_only = false) {
    replay_delivery p;
    p.after = after;
    p.head = head;
    p.more = more;
    p.unacked_only = unacked_only;
    for (auto s : seqs) p.alerts.push_back(msg(s));
    return p;
}

// Runs the sequencer's steps until it idles: what it sent (seq, replayed), and
// the read it asked for, if any.
struct drained {
    std::vector<std::uint64_t> sent;
    std::vector<bool> replayed;
    std::optional<delivery_sequencer::step> fetch;
    bool overflow = false;
};
drained drain(delivery_sequencer& s, bool room = true) {
    drained d;
    for (;;) {
        auto step = s.next(room);
        if (step.kind == delivery_sequencer::step_kind::idle) return d;
        if (step.kind == delivery_sequencer::step_kind::overflow) {
            d.overflow = true;
            return d;
        }
        if (step.kind == delivery_sequencer::step_kind::fetch) {
            EXPECT_FALSE(d.fetch) << "two reads at once";
            d.fetch = step;
            continue;
        }
        d.sent.push_back(step.message.seq);
        d.replayed.push_back(step.replayed);
    }
}

delivery_sequencer::limits const roomy{1000, 1 << 20};

}  // namespace

TEST(DeliverySequencer, HoldsLiveAlertsUntilTheFirstPage) {
    delivery_sequencer s{roomy};
    s.on_live(msg(4));
    s.on_live(msg(5));
    EXPECT_TRUE(drain(s).sent.empty());
    s.on_page(page(0, {1, 2, 3}, 3));
    auto const d = drain(s);
    EXPECT_EQ(d.sent, (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
    EXPECT_EQ(d.replayed, (std::vector<bool>{true, true, true, false, false}));
    EXPECT_FALSE(d.fetch);
    EXPECT_TRUE(s.caught_up());
    EXPECT_EQ(s.position(), 5u);
}

TEST(DeliverySequencer, ALiveAlertAlsoReplayedGoesOutOnce) {
    delivery_sequencer s{roomy};
    s.on_live(msg(3));
    s.on_page(page(1, {2, 3}, 3));
    s.on_live(msg(3));
    s.on_live(msg(2));
    s.on_live(msg(4));
    EXPECT_EQ(drain(s).sent, (std::vector<std::uint64_t>{2, 3, 4}));
}

TEST(DeliverySequencer, ARestartedNumberingKeepsLiveAlertsBelowTheOldPosition) {
    // The client said since=40 from a store that was replaced; numbering
    // started again, and live seq 1 and 2 arrive before the first page.
    delivery_sequencer s{roomy};
    s.on_live(msg(1));
    s.on_live(msg(2));
    s.on_page(page(0, {}, 0));  // the service started over: after 0, head 0 when read
    EXPECT_EQ(drain(s).sent, (std::vector<std::uint64_t>{1, 2}));
}

TEST(DeliverySequencer, AGapIsReadFromTheStoreNotSkipped) {
    delivery_sequencer s{roomy};
    s.on_page(page(0, {1}, 1));
    EXPECT_EQ(drain(s).sent, (std::vector<std::uint64_t>{1}));
    s.on_live(msg(4));  // 2 and 3 were lost on the bus, or are still on their way
    auto d = drain(s);
    EXPECT_TRUE(d.sent.empty());
    ASSERT_TRUE(d.fetch);
    EXPECT_EQ(d.fetch->after, 1u);
    EXPECT_FALSE(d.fetch->unacked_only);
    s.on_live(msg(3));  // arrives while the read is under way: held
    s.on_live(msg(5));
    EXPECT_TRUE(drain(s).sent.empty());
    s.on_page(page(1, {2, 3, 4, 5}, 5));
    d = drain(s);
    EXPECT_EQ(d.sent, (std::vector<std::uint64_t>{2, 3, 4, 5}));
    EXPECT_FALSE(d.fetch);
    s.on_live(msg(6));
    EXPECT_EQ(drain(s).sent, (std::vector<std::uint64_t>{6}));
    EXPECT_EQ(s.gaps_skipped(), 0u);
}

TEST(DeliverySequencer, AcknowledgedAlertsLeftOutOfAnUnackedReplayAreNoGap) {
    // Without `since`: 2 and 3 were acknowledged, so the page leaves them out
    // and its head says they exist. Live 5 follows 4 without a read.
    delivery_sequencer s{roomy};
    s.on_page(page(0, {1, 4}, 4, false, true));
    EXPECT_EQ(drain(s).sent, (std::vector<std::uint64_t>{1, 4}));
    s.on_live(msg(5));
    auto const d = drain(s);
    EXPECT_EQ(d.sent, (std::vector<std::uint64_t>{5}));
    EXPECT_FALSE(d.fetch);
}

TEST(DeliverySequencer, AFullPageAsksForTheNextOnceItsAlertsAreTaken) {
    delivery_sequencer s{roomy};
    s.on_page(page(0, {1, 2, 3}, 3, true, true));
    auto d = drain(s, false);  // the outbox is full: nothing replayed goes, nothing is read
    EXPECT_TRUE(d.sent.empty());
    EXPECT_FALSE(d.fetch);
    d = drain(s, true);
    EXPECT_EQ(d.sent, (std::vector<std::uint64_t>{1, 2, 3}));
    ASSERT_TRUE(d.fetch);
    EXPECT_EQ(d.fetch->after, 3u);
    EXPECT_TRUE(d.fetch->unacked_only);  // the replay goes on as it began
    s.on_live(msg(9));
    s.on_page(page(3, {4, 5}, 8, false, true));
    d = drain(s);
    EXPECT_EQ(d.sent, (std::vector<std::uint64_t>{4, 5, 9}));  // 6-8 acknowledged (below the head)
}

TEST(DeliverySequencer, LiveAlertsOvertakeNoReplayedOne) {
    delivery_sequencer s{roomy};
    s.on_page(page(0, {1, 2}, 2));
    s.on_live(msg(3));
    auto d = drain(s, false);  // replayed 1, 2 wait for room: live 3 waits behind them
    EXPECT_TRUE(d.sent.empty());
    d = drain(s, true);
    EXPECT_EQ(d.sent, (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST(DeliverySequencer, TooMuchHeldIsASlowConsumer) {
    delivery_sequencer s{{10, 1 << 20}};
    s.on_page(page(0, {}, 0, true));  // a long replay is under way
    for (std::uint64_t seq = 100; seq < 110; ++seq) s.on_live(msg(seq));
    EXPECT_FALSE(drain(s).overflow);
    s.on_live(msg(110));
    EXPECT_TRUE(drain(s).overflow);

    delivery_sequencer bytes{{1000, 1000}};
    bytes.on_live(msg(1, 600));
    bytes.on_live(msg(2, 600));
    EXPECT_TRUE(drain(bytes).overflow);
}

TEST(DeliverySequencer, AGapTheStoreCannotFillIsCrossedOnce) {
    // A store should always fill a gap up to a live alert it committed; if it
    // does not, the sequencer goes on rather than read forever.
    delivery_sequencer s{roomy};
    s.on_page(page(0, {1}, 1));
    drain(s);
    s.on_live(msg(5));
    auto d = drain(s);
    ASSERT_TRUE(d.fetch);
    s.on_page(page(1, {}, 1));
    d = drain(s);
    EXPECT_EQ(d.sent, (std::vector<std::uint64_t>{5}));
    EXPECT_FALSE(d.fetch);
    EXPECT_EQ(s.gaps_skipped(), 1u);
}

// Property: a store with alerts committed over time, a bus that reorders,
// duplicates and loses live alerts, reads answered late, and an outbox that
// is sometimes full. Whatever the interleaving, the client gets every alert
// after its position exactly once, in order.
TEST(DeliverySequencer, RandomInterleavingsDeliverEachSeqOnceInOrder) {
    for (std::uint32_t seed = 1; seed <= 300; ++seed) {
        std::mt19937 rng{seed};
        auto chance = [&](int percent) { return int(rng() % 100) < percent; };
        std::uint64_t committed = rng() % 20;  // before the connection opened
        std::uint64_t const since = committed ? rng() % (committed + 1) : 0;
        std::uint64_t const total = committed + 50 + rng() % 100;
        std::size_t const page_size = 1 + rng() % 8;
        delivery_sequencer s{roomy};
        std::vector<std::uint64_t> bus;                // live alerts in flight, any order
        std::optional<delivery_sequencer::step> read;  // a read under way
        std::uint64_t read_after = since;
        bool first = true;
        std::vector<std::uint64_t> got;
        auto answer_read = [&] {
            auto const after = first ? since : read_after;
            replay_delivery p;
            p.after = after;
            p.head = committed;
            for (auto seq = after + 1; seq <= committed && p.alerts.size() < page_size; ++seq)
                p.alerts.push_back(msg(seq));
            p.more = p.alerts.size() == page_size;
            first = false;
            read.reset();
            s.on_page(std::move(p));
        };
        bool final_sent = false;
        for (int tick = 0; tick < 100000 && (got.empty() || got.back() < total || !bus.empty() || read || first);
             ++tick) {
            if (committed < total && chance(30)) {
                ++committed;
                if (!chance(10)) bus.push_back(committed);  // lost on the bus 10 % of the time
                if (chance(10)) bus.push_back(committed);   // or brought twice
            }
            if (committed == total && !final_sent) {
                bus.push_back(total);  // the last one arrives, so nothing waits for a next alert to notice a loss
                final_sent = true;
            }
            if (!bus.empty() && chance(40)) {
                auto const i = rng() % bus.size();  // any order
                auto const seq = bus[i];
                bus.erase(bus.begin() + std::ptrdiff_t(i));
                s.on_live(msg(seq));
            }
            if ((first || read) && chance(20)) answer_read();
            auto d = drain(s, !chance(30));  // the outbox is full now and then
            ASSERT_FALSE(d.overflow) << "seed " << seed;
            got.insert(got.end(), d.sent.begin(), d.sent.end());
            if (d.fetch) {
                ASSERT_FALSE(read) << "seed " << seed << ": a second read while one is under way";
                read = d.fetch;
                read_after = d.fetch->after;
            }
        }
        std::vector<std::uint64_t> expected;
        for (auto seq = since + 1; seq <= total; ++seq) expected.push_back(seq);
        ASSERT_EQ(got, expected) << "seed " << seed;
        EXPECT_EQ(s.gaps_skipped(), 0u) << "seed " << seed;
    }
}
