// The handling contract (store/handling_store.hpp, and the transitions and
// copies of store/alert_store.hpp), for every engine: the cases run on the
// AlertStoreContract instantiations (each engine is all of them).
#include "contract/alert_store_contract.hpp"
#include "store/handling_store.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

using namespace vigil;
using namespace vigil::test;

namespace {

handling_store& handling_of(alert_store& s) {
    auto* h = dynamic_cast<handling_store*>(&s);
    if (!h) throw std::runtime_error("this engine keeps no handling state");
    return *h;
}

constexpr char shared_id[] = "01938a6e-1a2b-7c3d-8e4f-000000000001";

// The same alert for several users: a team's copies.
std::vector<new_alert> copies(std::vector<std::string> const& users, std::string const& id = shared_id) {
    std::vector<new_alert> out;
    for (auto const& u : users) {
        new_alert a;
        a.alert_id = id;
        a.user_id = u;
        a.team = "night";
        a.stream_id = "cam-3";
        a.detection_json = R"({"type":"intrusion"})";
        a.timestamp = "2026-12-07T01:00:00Z";
        a.severity = "high";
        a.published_by = "gateway";
        out.push_back(std::move(a));
    }
    return out;
}

// Copies under two_steps(), at level 1 with their first deadline.
std::vector<new_alert> escalating(std::vector<new_alert> v, std::int64_t due_ms) {
    for (auto& a : v) {
        a.escalation = "night-policy";
        a.escalation_level = 1;
        a.escalation_due_ms = due_ms;
    }
    return v;
}

write_batch with_alerts(std::vector<new_alert> v) {
    write_batch b;
    b.alerts = std::move(v);
    return b;
}

transition_result apply(alert_store& s, transition_request r, std::int64_t now) {
    write_batch b;
    b.transitions.push_back(std::move(r));
    auto out = s.write(b, now);
    return out.transitions.at(0);
}

transition_request ack(std::string id, std::string who) {
    return {std::move(id), who, who, transition_kind::acknowledge, {}, {}};
}
transition_request resolve(std::string id, std::string who, std::string outcome, std::string note = {}) {
    return {std::move(id), who, who, transition_kind::resolve, std::move(outcome), std::move(note)};
}
transition_request reopen(std::string id, std::string who) {
    return {std::move(id), who, who, transition_kind::reopen, {}, {}};
}

std::vector<std::string> types_of(std::vector<audit_event> const& events) {
    std::vector<std::string> out;
    for (auto const& e : events) out.push_back(e.type);
    return out;
}

boost::json::object detail_of(audit_event const& e) { return boost::json::parse(e.detail_json).as_object(); }

escalation_policy two_steps() { return {"night-policy", {{"team:night", 5}, {"user:sup", 15}}, 1, 0}; }

}  // namespace

TEST_P(AlertStoreContract, TeamsAreKeptWholeAndListedByName) {
    auto s = make();
    auto& h = handling_of(*s);
    EXPECT_FALSE(h.get_team("night"));
    h.put_team({"night", {"alice", "bob"}, {{"critical", "page"}, {"default", "slow"}}, 1000});
    h.put_team({"day", {"carol"}, {}, 2000});
    auto night = h.get_team("night");
    ASSERT_TRUE(night);
    EXPECT_EQ(night->members, (std::vector<std::string>{"alice", "bob"}));
    EXPECT_EQ(night->escalation.at("critical"), "page");
    EXPECT_EQ(night->escalation.at("default"), "slow");
    EXPECT_EQ(night->updated_ms, 1000);

    h.put_team({"night", {"bob"}, {}, 3000});  // replaced whole
    night = h.get_team("night");
    ASSERT_TRUE(night);
    EXPECT_EQ(night->members, (std::vector<std::string>{"bob"}));
    EXPECT_TRUE(night->escalation.empty());

    auto const all = h.teams();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].name, "day");
    EXPECT_EQ(all[1].name, "night");
    EXPECT_TRUE(h.delete_team("day"));
    EXPECT_FALSE(h.delete_team("day"));
    EXPECT_FALSE(h.get_team("day"));
}

TEST_P(AlertStoreContract, EscalationPoliciesAreKeptWholeAndListedByName) {
    auto s = make();
    auto& h = handling_of(*s);
    EXPECT_FALSE(h.get_policy("night-policy"));
    h.put_policy(two_steps());
    auto p = h.get_policy("night-policy");
    ASSERT_TRUE(p);
    ASSERT_EQ(p->steps.size(), 2u);
    EXPECT_EQ(p->steps[0].notify, "team:night");
    EXPECT_EQ(p->steps[0].ack_within_seconds, 5);
    EXPECT_EQ(p->steps[1].notify, "user:sup");
    EXPECT_EQ(p->steps[1].ack_within_seconds, 15);
    EXPECT_EQ(p->repeat, 1);
    h.put_policy({"a-first", {{"user:x", 60}}, 0, 5});
    auto const all = h.policies();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].name, "a-first");
    EXPECT_TRUE(h.delete_policy("a-first"));
    EXPECT_FALSE(h.delete_policy("a-first"));
}

TEST_P(AlertStoreContract, ATeamAlertIsOneAlertWithACopyInEachMembersOwnOrder) {
    auto s = make();
    auto& h = handling_of(*s);
    s->write(alerts({alert("alice")}), 500);  // alice's seq 1 is another alert
    auto batch = copies({"alice", "bob"});
    batch[0].frame = batch[1].frame = annotated_frame{"image/png", "\x89PNG-bytes"};
    auto const out = s->write(with_alerts(batch), 1000);
    ASSERT_EQ(out.appended.size(), 2u);
    EXPECT_EQ(out.appended[0].alert.alert_id, shared_id);
    EXPECT_EQ(out.appended[1].alert.alert_id, shared_id);
    EXPECT_EQ(out.appended[0].alert.seq, 2u);  // alice's own numbering
    EXPECT_EQ(out.appended[1].alert.seq, 1u);  // bob's
    EXPECT_EQ(out.appended[1].alert.team, "night");

    auto const bobs = s->get(shared_id, "bob");
    ASSERT_TRUE(bobs);
    EXPECT_EQ(bobs->user_id, "bob");
    EXPECT_EQ(bobs->seq, 1u);
    EXPECT_EQ(bobs->team, "night");
    auto const first = s->get(shared_id);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->user_id, "alice");
    EXPECT_FALSE(s->get(shared_id, "carol"));
    EXPECT_EQ(h.recipients(shared_id), (std::vector<std::string>{"alice", "bob"}));

    auto const page = s->after("bob", 0, true, 10, false);
    ASSERT_EQ(page.alerts.size(), 1u);
    EXPECT_EQ(page.alerts[0].alert_id, shared_id);
    EXPECT_EQ(page.head, 1u);
    auto const frame = s->frame(shared_id);
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->bytes, "\x89PNG-bytes");

    // A retried publish (same idempotency keys) is the same alert.
    auto keyed = copies({"carol", "dave"}, "01938a6e-1a2b-7c3d-8e4f-000000000002");
    for (auto& a : keyed) a.idempotency_key = "k1";
    auto const first_try = s->write(with_alerts(keyed), 2000);
    auto retry = copies({"carol", "dave"}, "01938a6e-1a2b-7c3d-8e4f-000000000003");
    for (auto& a : retry) a.idempotency_key = "k1";
    auto const second_try = s->write(with_alerts(retry), 3000);
    ASSERT_EQ(second_try.appended.size(), 2u);
    EXPECT_TRUE(second_try.appended[0].duplicate);
    EXPECT_EQ(second_try.appended[0].alert.alert_id, first_try.appended[0].alert.alert_id);
    EXPECT_EQ(s->last_seq("dave"), 1u);
}

TEST_P(AlertStoreContract, TransitionsChangeEveryCopyAtOnce) {
    auto s = make();
    s->write(with_alerts(copies({"alice", "bob"})), 1000);

    auto r = apply(*s, ack(shared_id, "bob"), 2000);
    EXPECT_EQ(r.outcome, transition_outcome::applied);
    EXPECT_EQ(r.user_id, "bob");
    EXPECT_EQ(r.recipients, (std::vector<std::string>{"alice", "bob"}));
    EXPECT_EQ(r.at_ms, 2000);
    ASSERT_TRUE(r.alert);
    EXPECT_EQ(r.alert->state(), alert_state::acknowledged);
    EXPECT_EQ(r.alert->acked_by, "bob");
    auto const alices = s->get(shared_id, "alice");
    ASSERT_TRUE(alices);
    EXPECT_EQ(alices->state(), alert_state::acknowledged);
    EXPECT_EQ(alices->acked_by, "bob");
    EXPECT_EQ(alices->acked_ms, 2000);
    EXPECT_TRUE(s->after("alice", 0, true, 10, false).alerts.empty());  // no longer unacknowledged for anyone

    EXPECT_EQ(apply(*s, ack(shared_id, "alice"), 2500).outcome, transition_outcome::unchanged);
    EXPECT_EQ(s->get(shared_id)->acked_by, "bob");  // the owner stays

    r = apply(*s, resolve(shared_id, "alice", "false_alarm", "a cat"), 3000);
    EXPECT_EQ(r.outcome, transition_outcome::applied);
    ASSERT_TRUE(r.alert);
    EXPECT_EQ(r.alert->state(), alert_state::resolved);
    auto const bobs = s->get(shared_id, "bob");
    EXPECT_EQ(bobs->state(), alert_state::resolved);
    EXPECT_EQ(bobs->resolved_by, "alice");
    EXPECT_EQ(bobs->resolved_ms, 3000);
    EXPECT_EQ(bobs->outcome, "false_alarm");
    EXPECT_EQ(bobs->note, "a cat");
    EXPECT_EQ(bobs->acked_by, "bob");
    EXPECT_EQ(apply(*s, resolve(shared_id, "alice", "real"), 3500).outcome, transition_outcome::invalid);
    EXPECT_EQ(apply(*s, ack(shared_id, "alice"), 3600).outcome, transition_outcome::unchanged);

    r = apply(*s, reopen(shared_id, "bob"), 4000);
    EXPECT_EQ(r.outcome, transition_outcome::applied);
    auto const reopened = s->get(shared_id, "alice");
    EXPECT_EQ(reopened->state(), alert_state::open);
    EXPECT_FALSE(reopened->acked_ms);
    EXPECT_FALSE(reopened->resolved_ms);
    EXPECT_EQ(reopened->outcome, "");
    EXPECT_EQ(reopened->note, "");
    EXPECT_EQ(s->after("bob", 0, true, 10, false).alerts.size(), 1u);
    EXPECT_EQ(apply(*s, reopen(shared_id, "bob"), 4500).outcome, transition_outcome::invalid);

    // Only a recipient (or anyone, for an empty recipient: an admin).
    EXPECT_EQ(apply(*s, ack(shared_id, "carol"), 5000).outcome, transition_outcome::not_found);
    EXPECT_EQ(apply(*s, ack("01938a6e-1a2b-7c3d-8e4f-0000000000ff", "alice"), 5000).outcome,
              transition_outcome::not_found);
    EXPECT_EQ(apply(*s, ack("not-an-id", "alice"), 5000).outcome, transition_outcome::not_found);
    r = apply(*s, {shared_id, "", "admin", transition_kind::resolve, "test", ""}, 6000);
    EXPECT_EQ(r.outcome, transition_outcome::applied);
    EXPECT_EQ(s->get(shared_id)->acked_by, "admin");  // resolved while open: the resolver owns it
    EXPECT_EQ(s->get(shared_id)->acked_ms, 6000);
}

TEST_P(AlertStoreContract, HistoryFiltersByStateAndTeam) {
    auto s = make();
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) ids.push_back(s->write(alerts({alert("u")}), 1000 + i).appended[0].alert.alert_id);
    apply(*s, ack(ids[1], "u"), 2000);
    apply(*s, resolve(ids[2], "u", "real"), 2000);
    auto team = copies({"u"}, "01938a6e-1a2b-7c3d-8e4f-000000000009");
    s->write(with_alerts(team), 3000);

    auto ids_of = [&](state_filter f, std::string team_name = {}) {
        std::set<std::string> out;
        for (auto const& a : s->history({"u", team_name, f, 100, ""})) out.insert(a.alert_id);
        return out;
    };
    EXPECT_EQ(ids_of(state_filter::open), (std::set<std::string>{ids[0], team[0].alert_id}));
    EXPECT_EQ(ids_of(state_filter::acknowledged), (std::set<std::string>{ids[1]}));
    EXPECT_EQ(ids_of(state_filter::resolved), (std::set<std::string>{ids[2]}));
    EXPECT_EQ(ids_of(state_filter::acked), (std::set<std::string>{ids[1], ids[2]}));
    EXPECT_EQ(ids_of(state_filter::all).size(), 4u);
    EXPECT_EQ(ids_of(state_filter::all, "night"), (std::set<std::string>{team[0].alert_id}));
}

TEST_P(AlertStoreContract, TheAuditTrailListsEveryStepWithItsActor) {
    auto s = make();
    auto& h = handling_of(*s);
    EXPECT_TRUE(h.events(shared_id).empty());
    s->write(with_alerts(copies({"alice", "bob"})), 1000);
    write_batch delivered;
    delivered.delivered = {{shared_id, "bob"}};
    delivered.node = "node-b";
    s->write(delivered, 1100);
    apply(*s, ack(shared_id, "bob"), 2000);
    apply(*s, resolve(shared_id, "alice", "false_alarm", "a cat"), 3000);
    apply(*s, reopen(shared_id, "alice"), 4000);

    auto const events = h.events(shared_id);
    EXPECT_EQ(types_of(events),
              (std::vector<std::string>{"published", "delivered", "acknowledged", "resolved", "reopened"}));
    ASSERT_EQ(events.size(), 5u);
    EXPECT_EQ(events[0].actor, "gateway");
    EXPECT_EQ(events[0].at_ms, 1000);
    EXPECT_EQ(events[1].actor, "bob");
    EXPECT_EQ(events[1].at_ms, 1100);
    EXPECT_EQ(detail_of(events[1]).at("node").as_string(), "node-b");
    EXPECT_EQ(events[2].actor, "bob");
    EXPECT_EQ(events[2].at_ms, 2000);
    EXPECT_EQ(events[3].actor, "alice");
    auto const resolved = detail_of(events[3]);
    EXPECT_EQ(resolved.at("outcome").as_string(), "false_alarm");
    EXPECT_EQ(resolved.at("note").as_string(), "a cat");
    EXPECT_EQ(events[4].actor, "alice");
    EXPECT_EQ(events[4].at_ms, 4000);

    // A copy delivered when committed (its user was connected) counts too.
    auto live = copies({"carol"}, "01938a6e-1a2b-7c3d-8e4f-000000000004");
    live[0].delivered_on_commit = true;
    write_batch b = with_alerts(live);
    b.node = "node-c";
    s->write(b, 5000);
    auto const carol = h.events(live[0].alert_id);
    EXPECT_EQ(types_of(carol), (std::vector<std::string>{"published", "delivered"}));
    ASSERT_EQ(carol.size(), 2u);
    EXPECT_EQ(detail_of(carol[1]).at("node").as_string(), "node-c");
}

TEST_P(AlertStoreContract, AnEscalationStepFiresOnceForWhoeverClaimsIt) {
    auto s = make();
    auto& h = handling_of(*s);
    h.put_policy(two_steps());
    EXPECT_FALSE(h.next_escalation_due());
    auto const batch = escalating(copies({"alice", "bob"}), 6000);
    s->write(with_alerts(batch), 1000);
    EXPECT_EQ(h.next_escalation_due(), 6000);
    EXPECT_TRUE(h.claim_due_escalations(5999, 10'000, 10).empty());
    auto claimed = h.claim_due_escalations(6000, 10'000, 10);
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed[0].alert_id, shared_id);
    EXPECT_EQ(claimed[0].policy, "night-policy");
    EXPECT_EQ(claimed[0].step, 0);
    EXPECT_EQ(claimed[0].round, 0);
    EXPECT_EQ(claimed[0].due_ms, 6000);
    EXPECT_TRUE(h.claim_due_escalations(6001, 10'000, 10).empty());  // leased

    s->write(alerts({alert("sup")}), 6100);  // sup's seq 1 is another alert
    escalation_fire fire{claimed[0], 2, "user:sup", {"sup"}, escalation_timer{shared_id, "night-policy", 1, 0, 21'000},
                         6200};
    auto const r = h.escalate(fire);
    EXPECT_TRUE(r.applied);
    ASSERT_EQ(r.added.size(), 1u);
    EXPECT_EQ(r.added[0].user_id, "sup");
    EXPECT_EQ(r.added[0].seq, 2u);
    EXPECT_EQ(r.added[0].alert_id, shared_id);
    EXPECT_EQ(r.added[0].escalation_level, 2);
    EXPECT_EQ(r.added[0].stream_id, "cam-3");
    EXPECT_EQ(r.recipients, (std::vector<std::string>{"alice", "bob", "sup"}));
    ASSERT_TRUE(r.alert);
    EXPECT_EQ(r.alert->escalation_level, 2);
    EXPECT_EQ(s->get(shared_id, "alice")->escalation_level, 2);  // every copy
    EXPECT_EQ(s->after("sup", 1, true, 10, false).alerts.size(), 1u);

    // The same step again (a second claimer whose lease ran out): nothing.
    EXPECT_FALSE(h.escalate(fire).applied);
    EXPECT_EQ(s->last_seq("sup"), 2u);
    EXPECT_EQ(h.next_escalation_due(), 21'000);

    auto const events = h.events(shared_id);
    auto const escalated = std::find_if(events.begin(), events.end(), [](auto& e) { return e.type == "escalated"; });
    ASSERT_NE(escalated, events.end());
    EXPECT_EQ(escalated->actor, "escalation");
    auto const d = detail_of(*escalated);
    EXPECT_EQ(d.at("level").as_int64(), 2);
    EXPECT_EQ(d.at("notify").as_string(), "user:sup");
    EXPECT_EQ(std::count_if(events.begin(), events.end(), [](auto& e) { return e.type == "escalated"; }), 1);

    // Someone who already has it is notified again, not copied again.
    claimed = h.claim_due_escalations(21'000, 10'000, 10);
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed[0].step, 1);
    auto const again = h.escalate({claimed[0], 1, "team:night", {"alice", "bob"}, std::nullopt, 21'100});
    EXPECT_TRUE(again.applied);
    EXPECT_TRUE(again.added.empty());
    EXPECT_EQ(s->get(shared_id, "bob")->escalation_level, 1);
    EXPECT_FALSE(h.next_escalation_due());  // no next: the timer is gone
}

TEST_P(AlertStoreContract, AnAcknowledgementStopsEscalationAndReopeningStartsItAgain) {
    auto s = make();
    auto& h = handling_of(*s);
    h.put_policy(two_steps());
    auto const batch = escalating(copies({"alice"}), 6000);
    s->write(with_alerts(batch), 1000);
    auto const claimed = h.claim_due_escalations(6000, 10'000, 10);
    ASSERT_EQ(claimed.size(), 1u);
    apply(*s, ack(shared_id, "alice"), 6050);  // between the claim and the firing
    EXPECT_FALSE(h.next_escalation_due());
    EXPECT_FALSE(h.escalate({claimed[0], 2, "user:sup", {"sup"}, std::nullopt, 6100}).applied);
    EXPECT_EQ(s->last_seq("sup"), 0u);
    EXPECT_TRUE(h.claim_due_escalations(1'000'000, 10'000, 10).empty());

    apply(*s, reopen(shared_id, "alice"), 7000);  // from the first step: due 7000 + 5 s
    EXPECT_EQ(h.next_escalation_due(), 12'000);
    auto const again = h.claim_due_escalations(12'000, 10'000, 10);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].step, 0);
    apply(*s, resolve(shared_id, "alice", "real"), 12'001);
    EXPECT_FALSE(h.next_escalation_due());
}

TEST_P(AlertStoreContract, AClockWithNoStepAfterEndsWithoutARecord) {
    auto s = make();
    auto& h = handling_of(*s);
    h.put_policy(two_steps());
    h.set_webhook_urls({"http://127.0.0.1:9/hook"});
    auto const batch = escalating(copies({"alice", "bob"}), 6000);
    s->write(with_alerts(batch), 1000);
    auto const before = h.events(shared_id).size();
    auto const claimed = h.claim_due_escalations(6000, 10'000, 10);
    ASSERT_EQ(claimed.size(), 1u);
    // Level 0: the policy has no step after the claimed one (or is gone).
    auto const r = h.escalate({claimed[0], 0, "", {}, std::nullopt, 6100});
    EXPECT_FALSE(r.applied);  // nothing to announce
    EXPECT_FALSE(h.next_escalation_due());
    EXPECT_TRUE(h.claim_due_escalations(1'000'000, 10'000, 10).empty());
    EXPECT_EQ(h.events(shared_id).size(), before);  // no "escalated" event
    EXPECT_TRUE(h.claim_webhooks(1'000'000, 10'000, 10).empty());
    EXPECT_EQ(s->get(shared_id, "alice")->escalation_level, 1);
    EXPECT_EQ(s->last_seq("alice"), 1u);
}

TEST_P(AlertStoreContract, AClaimWhoseHolderDiedIsClaimedAgainAfterItsLease) {
    auto s = make();
    auto& h = handling_of(*s);
    auto const batch = escalating(copies({"alice"}), 6000);
    s->write(with_alerts(batch), 1000);
    ASSERT_EQ(h.claim_due_escalations(6000, 1000, 10).size(), 1u);
    EXPECT_TRUE(h.claim_due_escalations(6999, 1000, 10).empty());
    auto const again = h.claim_due_escalations(7000, 1000, 10);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].step, 0);
    EXPECT_TRUE(h.escalate({again[0], 2, "user:sup", {"sup"}, std::nullopt, 7001}).applied);
}

TEST_P(AlertStoreContract, ConcurrentClaimersEachGetADueTimerOnce) {
    auto s = make();
    auto& second = second_writer(*s);
    std::vector<new_alert> batch;
    for (int i = 0; i < 40; ++i) {
        char id[40];
        std::snprintf(id, sizeof id, "01938a6e-1a2b-7c3d-8e4f-%012d", 100 + i);
        batch.push_back(escalating(copies({"alice"}, id), 5000).front());
    }
    s->write(with_alerts(batch), 1000);
    std::atomic<int> total{0};
    std::mutex m;
    std::multiset<std::string> seen;
    auto claim = [&](alert_store& store) {
        for (int i = 0; i < 20; ++i) {
            auto got = handling_of(store).claim_due_escalations(5000, 60'000, 3);
            std::lock_guard lock{m};
            for (auto& t : got) seen.insert(t.alert_id);
            total += int(got.size());
        }
    };
    std::thread a{claim, std::ref(*s)}, b{claim, std::ref(second)};
    a.join();
    b.join();
    EXPECT_EQ(total.load(), 40);
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 40u);
}

TEST_P(AlertStoreContract, EveryChangeLeavesOneOutboxRowPerWebhookInItsTransaction) {
    auto s = make();
    auto& h = handling_of(*s);
    h.set_webhook_urls({"http://127.0.0.1:9/a", "http://127.0.0.1:9/b"});
    h.put_policy(two_steps());
    auto const batch = escalating(copies({"alice", "bob"}), 6000);
    s->write(with_alerts(batch), 1000);
    EXPECT_TRUE(h.claim_webhooks(1000, 30'000, 10).empty());  // a publish is not a change

    auto const claimed = h.claim_due_escalations(6000, 10'000, 10);
    ASSERT_EQ(claimed.size(), 1u);
    ASSERT_TRUE(h.escalate({claimed[0], 2, "user:sup", {"sup"}, std::nullopt, 6100}).applied);
    apply(*s, ack(shared_id, "sup"), 7000);

    auto rows = h.claim_webhooks(7000, 30'000, 10);
    ASSERT_EQ(rows.size(), 4u);
    std::multiset<std::string> urls;
    std::set<std::string> event_ids;
    std::vector<std::string> types;
    for (auto const& r : rows) {
        urls.insert(r.url);
        EXPECT_EQ(r.attempts, 0);
        auto const body = boost::json::parse(r.body).as_object();
        event_ids.insert(std::string{body.at("id").as_string()});
        types.emplace_back(body.at("type").as_string());
        auto const& alert = body.at("alert").as_object();
        EXPECT_EQ(alert.at("alert_id").as_string(), shared_id);
        EXPECT_EQ(alert.at("recipients").as_array().size(), 3u);
        if (body.at("type").as_string() == "alert.acknowledged") {
            EXPECT_EQ(alert.at("state").as_string(), "acknowledged");
            EXPECT_EQ(alert.at("owner").as_string(), "sup");
            EXPECT_EQ(body.at("actor").as_string(), "sup");
        } else {
            EXPECT_EQ(body.at("type").as_string(), "alert.escalated");
            EXPECT_EQ(alert.at("escalation_level").as_int64(), 2);
        }
    }
    EXPECT_EQ(urls.count("http://127.0.0.1:9/a"), 2u);
    EXPECT_EQ(urls.count("http://127.0.0.1:9/b"), 2u);
    EXPECT_EQ(event_ids.size(), 2u);  // one id per change, the same for every URL
    // Oldest first: the escalation before the acknowledgement.
    EXPECT_EQ(types.front(), "alert.escalated");
    EXPECT_EQ(types.back(), "alert.acknowledged");

    EXPECT_TRUE(h.claim_webhooks(7001, 30'000, 10).empty());  // leased
    h.webhook_failed(rows[0].id, 9000);
    for (std::size_t i = 1; i < rows.size(); ++i) h.webhook_delivered(rows[i].id);
    EXPECT_TRUE(h.claim_webhooks(8999, 30'000, 10).empty());
    auto const retry = h.claim_webhooks(9000, 30'000, 10);
    ASSERT_EQ(retry.size(), 1u);
    EXPECT_EQ(retry[0].id, rows[0].id);
    EXPECT_EQ(retry[0].attempts, 1);
    EXPECT_EQ(retry[0].body, rows[0].body);  // signed as first written
    h.webhook_failed(retry[0].id, 10'000);
    EXPECT_EQ(h.drop_webhooks_before(7001), 1u);  // written at 7000 or before
    EXPECT_TRUE(h.claim_webhooks(1'000'000, 30'000, 10).empty());
}

TEST_P(AlertStoreContract, OpenAlertsAreCountedOncePerAlertBySeverity) {
    auto s = make();
    auto& h = handling_of(*s);
    s->write(with_alerts(copies({"alice", "bob", "carol"})), 1000);  // one high alert, three copies
    auto low = alert("u");
    low.severity = "low";
    auto const id = s->write(alerts({low, alert("u")}), 1000).appended[0].alert.alert_id;
    auto counts = h.open_by_severity();
    EXPECT_EQ(counts["high"], 1);
    EXPECT_EQ(counts["low"], 1);
    EXPECT_EQ(counts["medium"], 1);
    apply(*s, ack(id, "u"), 2000);
    apply(*s, ack(shared_id, "bob"), 2000);
    counts = h.open_by_severity();
    EXPECT_EQ(counts["low"], 0);
    EXPECT_EQ(counts["high"], 0);
    EXPECT_EQ(counts["medium"], 1);
}
