// sqlite_alert_store's handling (store/handling_store.hpp, docs/handling.md):
// the tables of schema v5, and the transitions write() applies. Every write
// runs in one BEGIN IMMEDIATE transaction on the writer: SQLite's write lock
// is taken before anything is read, so a claim, a transition or an escalation
// in another process sharing the file waits for this one to commit and then
// sees what it did. Reads use the reader, as the alert reads do.
#include "store/sqlite_alert_store.hpp"

#include "common/ids.hpp"
#include "proto/alert_json.hpp"
#include "store/sqlite_alert_rows.hpp"
#include "store/sqlite_connection.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <unordered_set>

namespace vigil {

using detail::read_alert;
using detail::select_alerts;
using detail::transaction;

namespace {

namespace json = boost::json;

json::value parse_stored(std::string const& text, char const* what) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec) throw store_error(std::string{"sqlite: unreadable "} + what + ": " + ec.message());
    return v;
}

std::string members_json(std::vector<std::string> const& members) {
    json::array a;
    for (auto const& m : members) a.emplace_back(m);
    return json::serialize(a);
}

std::string escalation_json(std::map<std::string, std::string> const& by_severity) {
    json::object o;
    for (auto const& [severity, policy] : by_severity) o[severity] = policy;
    return json::serialize(o);
}

team_record read_team(std::string name, std::string const& members, std::string const& escalation,
                      std::int64_t updated_ms) {
    team_record t{std::move(name), {}, {}, updated_ms};
    auto const m = parse_stored(members, "team members");
    if (!m.is_array()) throw store_error("sqlite: unreadable team members");
    for (auto const& v : m.get_array())
        if (v.is_string()) t.members.emplace_back(v.get_string());
    auto const e = parse_stored(escalation, "team escalation");
    if (!e.is_object()) throw store_error("sqlite: unreadable team escalation");
    for (auto const& [severity, policy] : e.get_object())
        if (policy.is_string()) t.escalation.emplace(std::string{severity}, std::string{policy.get_string()});
    return t;
}

std::string steps_json(std::vector<escalation_step> const& steps) {
    json::array a;
    for (auto const& s : steps)
        a.push_back(json::object{{"notify", s.notify}, {"ack_within_seconds", s.ack_within_seconds}});
    return json::serialize(a);
}

std::vector<escalation_step> read_steps(std::string const& text) {
    auto const v = parse_stored(text, "escalation steps");
    if (!v.is_array()) throw store_error("sqlite: unreadable escalation steps");
    std::vector<escalation_step> out;
    for (auto const& s : v.get_array()) {
        auto const* o = s.if_object();
        auto const* notify = o ? o->if_contains("notify") : nullptr;
        auto const* within = o ? o->if_contains("ack_within_seconds") : nullptr;
        if (!notify || !notify->is_string() || !within || !within->is_int64())
            throw store_error("sqlite: unreadable escalation step");
        out.push_back({std::string{notify->get_string()}, within->get_int64()});
    }
    return out;
}

// An outbox row id as the store hands it out; anything else names no row.
std::optional<std::int64_t> outbox_id(std::string_view id) {
    std::int64_t v = 0;
    auto const [end, ec] = std::from_chars(id.data(), id.data() + id.size(), v);
    if (ec != std::errc{} || end != id.data() + id.size()) return std::nullopt;
    return v;
}

}  // namespace

// ------------------------------------------------------------------ teams, policies

void sqlite_alert_store::put_team(team_record const& team) {
    auto const members = members_json(team.members);
    auto const escalation = escalation_json(team.escalation);
    std::lock_guard lock{write_mutex_};
    transaction tx{*writer_};
    {
        auto s = writer_->prepare(
            "INSERT INTO teams (name, members, escalation, updated_ms) VALUES (?1, ?2, ?3, ?4) "
            "ON CONFLICT (name) DO UPDATE SET members = excluded.members, escalation = excluded.escalation, "
            "updated_ms = excluded.updated_ms");
        s.bind(1, team.name).bind(2, members).bind(3, escalation).bind(4, team.updated_ms);
        s.step();
    }
    tx.commit();
}

std::optional<team_record> sqlite_alert_store::get_team(std::string_view name) {
    std::lock_guard lock{read_mutex_};
    auto s = reader_->prepare("SELECT name, members, escalation, updated_ms FROM teams WHERE name = ?1");
    s.bind(1, name);
    if (!s.step()) return std::nullopt;
    return read_team(s.text(0), s.text(1), s.text(2), s.integer(3));
}

bool sqlite_alert_store::delete_team(std::string_view name) {
    std::lock_guard lock{write_mutex_};
    transaction tx{*writer_};
    bool removed = false;
    {
        auto s = writer_->prepare("DELETE FROM teams WHERE name = ?1");
        s.bind(1, name);
        s.step();
        removed = writer_->changes() > 0;
    }
    tx.commit();
    return removed;
}

std::vector<team_record> sqlite_alert_store::teams() {
    std::lock_guard lock{read_mutex_};
    auto s = reader_->prepare("SELECT name, members, escalation, updated_ms FROM teams ORDER BY name");
    std::vector<team_record> out;
    while (s.step()) out.push_back(read_team(s.text(0), s.text(1), s.text(2), s.integer(3)));
    return out;
}

void sqlite_alert_store::put_policy(escalation_policy const& policy) {
    auto const steps = steps_json(policy.steps);
    std::lock_guard lock{write_mutex_};
    transaction tx{*writer_};
    {
        auto s = writer_->prepare(
            "INSERT INTO escalation_policies (name, steps, repeat, updated_ms) VALUES (?1, ?2, ?3, ?4) "
            "ON CONFLICT (name) DO UPDATE SET steps = excluded.steps, repeat = excluded.repeat, "
            "updated_ms = excluded.updated_ms");
        s.bind(1, policy.name).bind(2, steps).bind(3, std::int64_t{policy.repeat}).bind(4, policy.updated_ms);
        s.step();
    }
    tx.commit();
}

std::optional<escalation_policy> sqlite_alert_store::get_policy(std::string_view name) {
    std::lock_guard lock{read_mutex_};
    auto s = reader_->prepare("SELECT name, steps, repeat, updated_ms FROM escalation_policies WHERE name = ?1");
    s.bind(1, name);
    if (!s.step()) return std::nullopt;
    return escalation_policy{s.text(0), read_steps(s.text(1)), static_cast<int>(s.integer(2)), s.integer(3)};
}

bool sqlite_alert_store::delete_policy(std::string_view name) {
    std::lock_guard lock{write_mutex_};
    transaction tx{*writer_};
    bool removed = false;
    {
        auto s = writer_->prepare("DELETE FROM escalation_policies WHERE name = ?1");
        s.bind(1, name);
        s.step();
        removed = writer_->changes() > 0;
    }
    tx.commit();
    return removed;
}

std::vector<escalation_policy> sqlite_alert_store::policies() {
    std::lock_guard lock{read_mutex_};
    auto s = reader_->prepare("SELECT name, steps, repeat, updated_ms FROM escalation_policies ORDER BY name");
    std::vector<escalation_policy> out;
    while (s.step()) out.push_back({s.text(0), read_steps(s.text(1)), static_cast<int>(s.integer(2)), s.integer(3)});
    return out;
}

// ------------------------------------------------------------------ the trail

std::vector<audit_event> sqlite_alert_store::events(std::string_view alert_id) {
    std::lock_guard lock{read_mutex_};
    // Published and delivered come from the copies themselves (a publish
    // writes no audit row); the rest from alert_events, in the order applied.
    std::vector<audit_event> derived;
    {
        auto s = reader_->prepare(
            "SELECT user_id, created_ms, published_by, first_delivered_ms, delivered_node FROM alerts "
            "WHERE id = ?1 ORDER BY rowid");
        s.bind(1, alert_id);
        std::vector<audit_event> delivered;
        while (s.step()) {
            if (derived.empty() || s.integer(1) < derived[0].at_ms)
                derived.assign(1, audit_event{"published", s.text(2), s.integer(1), "{}"});
            if (s.is_null(3)) continue;
            json::object detail;
            if (!s.is_null(4)) detail["node"] = s.text(4);
            delivered.push_back({"delivered", s.text(0), s.integer(3), json::serialize(detail)});
        }
        if (derived.empty()) return {};
        std::stable_sort(delivered.begin(), delivered.end(),
                         [](auto const& a, auto const& b) { return a.at_ms < b.at_ms; });
        derived.insert(derived.end(), delivered.begin(), delivered.end());
    }
    std::vector<audit_event> recorded;
    {
        auto s =
            reader_->prepare("SELECT type, actor, at_ms, detail FROM alert_events WHERE alert_id = ?1 ORDER BY serial");
        s.bind(1, alert_id);
        while (s.step()) recorded.push_back({s.text(0), s.text(1), s.integer(2), s.text(3)});
    }
    // By time, the derived ones first on ties; the recorded ones keep the
    // order they were applied in even if clocks of several processes disagree.
    std::vector<audit_event> out;
    out.reserve(derived.size() + recorded.size());
    std::size_t i = 0, j = 0;
    while (i < derived.size() || j < recorded.size()) {
        if (j == recorded.size() || (i < derived.size() && derived[i].at_ms <= recorded[j].at_ms))
            out.push_back(std::move(derived[i++]));
        else
            out.push_back(std::move(recorded[j++]));
    }
    return out;
}

std::vector<std::string> sqlite_alert_store::recipients(std::string_view alert_id) {
    std::lock_guard lock{read_mutex_};
    auto s = reader_->prepare("SELECT user_id FROM alerts WHERE id = ?1 ORDER BY rowid");
    s.bind(1, alert_id);
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
}

std::map<std::string, std::int64_t> sqlite_alert_store::open_by_severity() {
    std::lock_guard lock{read_mutex_};
    auto s =
        reader_->prepare("SELECT severity, count(DISTINCT id) FROM alerts WHERE acked_ms IS NULL GROUP BY severity");
    std::map<std::string, std::int64_t> out;
    while (s.step()) out[s.text(0)] = s.integer(1);
    return out;
}

// ------------------------------------------------------------------ transitions

void sqlite_alert_store::enqueue_webhooks_locked(std::string_view change, std::string_view actor,
                                                 stored_alert const& alert, std::vector<std::string> const& recipients,
                                                 std::int64_t now_ms) {
    if (webhook_urls_.empty()) return;
    // One id per change, the same for every URL: receivers deduplicate on it.
    auto const body =
        proto::webhook_body(new_alert_id(now_ms), proto::webhook_type(change), now_ms, actor, alert, recipients);
    for (auto const& url : webhook_urls_) {
        auto s = writer_->prepare(
            "INSERT INTO webhook_outbox (url, body, attempts, due_ms, created_ms) VALUES (?1, ?2, 0, ?3, ?3)");
        s.bind(1, url).bind(2, body).bind(3, now_ms);
        s.step();
    }
}

transition_result sqlite_alert_store::apply_transition_locked(transition_request const& t, std::int64_t now_ms) {
    transition_result r;
    if (!is_alert_id(t.alert_id)) return r;  // not_found
    stored_alert first;
    {
        // The first copy whole (what the result and the webhooks show), the others' users.
        auto s = writer_->prepare_built(select_alerts("WHERE id = ?1 ORDER BY rowid"));
        s.bind(1, t.alert_id);
        while (s.step()) {
            if (r.recipients.empty()) first = read_alert(s);
            r.recipients.push_back(s.text(1));
        }
    }
    if (r.recipients.empty()) return r;
    if (!t.recipient.empty() &&
        std::find(r.recipients.begin(), r.recipients.end(), t.recipient) == r.recipients.end()) {
        r.recipients.clear();
        return r;
    }
    r.user_id = t.recipient.empty() ? r.recipients.front() : t.recipient;
    r.at_ms = now_ms;
    auto const state = first.state();
    char const* change = nullptr;
    switch (t.kind) {
        case transition_kind::acknowledge:
            if (state != alert_state::open) {
                r.outcome = transition_outcome::unchanged;
                r.alert = std::move(first);
                return r;
            }
            {
                auto s =
                    writer_->prepare("UPDATE alerts SET acked_ms = ?1, acked_by = ?2, handling_rows = 1 WHERE id = ?3");
                s.bind(1, now_ms).bind(2, t.actor).bind(3, t.alert_id);
                s.step();
            }
            first.acked_ms = now_ms;
            first.acked_by = t.actor;
            change = "acknowledged";
            break;
        case transition_kind::resolve:
            if (state == alert_state::resolved) {
                r.outcome = transition_outcome::invalid;
                r.alert = std::move(first);
                return r;
            }
            {
                // Resolved while open: the resolver owns it. (SET reads the row as it was.)
                auto s = writer_->prepare(
                    "UPDATE alerts SET resolved_ms = ?1, resolved_by = ?2, outcome = ?4, note = ?5, "
                    "acked_by = CASE WHEN acked_ms IS NULL THEN ?2 ELSE acked_by END, "
                    "acked_ms = coalesce(acked_ms, ?1), handling_rows = 1 WHERE id = ?3");
                s.bind(1, now_ms).bind(2, t.actor).bind(3, t.alert_id).bind(4, t.outcome).bind(5, t.note);
                s.step();
            }
            if (!first.acked_ms) {
                first.acked_ms = now_ms;
                first.acked_by = t.actor;
            }
            first.resolved_ms = now_ms;
            first.resolved_by = t.actor;
            first.outcome = t.outcome;
            first.note = t.note;
            change = "resolved";
            break;
        case transition_kind::reopen:
            if (state == alert_state::open) {
                r.outcome = transition_outcome::invalid;
                r.alert = std::move(first);
                return r;
            }
            {
                auto s = writer_->prepare(
                    "UPDATE alerts SET acked_ms = NULL, acked_by = NULL, resolved_ms = NULL, resolved_by = NULL, "
                    "outcome = NULL, note = NULL, handling_rows = 1 WHERE id = ?1");
                s.bind(1, t.alert_id);
                s.step();
            }
            first.acked_ms.reset();
            first.acked_by.clear();
            first.resolved_ms.reset();
            first.resolved_by.clear();
            first.outcome.clear();
            first.note.clear();
            change = "reopened";
            break;
    }
    {
        json::object detail;
        if (t.kind == transition_kind::resolve) {
            detail["outcome"] = t.outcome;
            if (!t.note.empty()) detail["note"] = t.note;
        }
        auto const detail_text = json::serialize(detail);
        auto s = writer_->prepare(
            "INSERT INTO alert_events (alert_id, type, actor, at_ms, detail) VALUES (?1, ?2, ?3, ?4, ?5)");
        s.bind(1, t.alert_id).bind(2, std::string_view{change}).bind(3, t.actor).bind(4, now_ms).bind(5, detail_text);
        s.step();
    }
    if (t.kind != transition_kind::reopen) {
        auto s = writer_->prepare("DELETE FROM escalation_timers WHERE alert_id = ?1");
        s.bind(1, t.alert_id);
        s.step();
    } else if (!first.escalation.empty()) {
        // Escalation starts again from its first step, if its policy is still there.
        std::optional<std::int64_t> first_step_s;
        {
            auto s = writer_->prepare("SELECT steps FROM escalation_policies WHERE name = ?1");
            s.bind(1, first.escalation);
            if (s.step()) {
                auto const steps = read_steps(s.text(0));
                if (!steps.empty()) first_step_s = steps.front().ack_within_seconds;
            }
        }
        if (first_step_s) {
            auto s = writer_->prepare(
                "INSERT INTO escalation_timers (alert_id, policy, step, round, due_ms) VALUES (?1, ?2, 0, 0, ?3) "
                "ON CONFLICT (alert_id) DO UPDATE SET policy = excluded.policy, step = 0, round = 0, "
                "due_ms = excluded.due_ms");
            s.bind(1, t.alert_id).bind(2, first.escalation).bind(3, now_ms + *first_step_s * 1000);
            s.step();
        }
    }
    enqueue_webhooks_locked(change, t.actor, first, r.recipients, now_ms);
    r.outcome = transition_outcome::applied;
    r.alert = std::move(first);
    return r;
}

// ------------------------------------------------------------------ escalation

std::vector<escalation_timer> sqlite_alert_store::claim_due_escalations(std::int64_t now_ms, std::int64_t lease_ms,
                                                                        std::size_t limit) {
    std::lock_guard lock{write_mutex_};
    transaction tx{*writer_};
    std::vector<escalation_timer> out;
    {
        auto s = writer_->prepare(
            "SELECT alert_id, policy, step, round, due_ms FROM escalation_timers WHERE due_ms <= ?1 "
            "ORDER BY due_ms, alert_id LIMIT ?2");
        s.bind(1, now_ms).bind(2, std::int64_t(limit));
        while (s.step())
            out.push_back(
                {s.text(0), s.text(1), static_cast<int>(s.integer(2)), static_cast<int>(s.integer(3)), s.integer(4)});
    }
    if (out.empty()) return out;
    for (auto const& t : out) {
        auto s = writer_->prepare("UPDATE escalation_timers SET due_ms = ?1 WHERE alert_id = ?2");
        s.bind(1, now_ms + lease_ms).bind(2, t.alert_id);
        s.step();
    }
    tx.commit();
    return out;
}

escalation_result sqlite_alert_store::escalate(escalation_fire const& fire) {
    auto const& alert_id = fire.from.alert_id;
    auto const now_ms = fire.now_ms;
    std::lock_guard lock{write_mutex_};
    escalation_result out;
    taken_seqs taken;
    try {
        transaction tx{*writer_};
        sync_seq_cache_locked();
        {
            // Still at the step and round claimed? Else someone fired it, or
            // an acknowledgement stopped it: nothing to do.
            auto s = writer_->prepare("SELECT step, round FROM escalation_timers WHERE alert_id = ?1");
            s.bind(1, alert_id);
            if (!s.step() || s.integer(0) != fire.from.step || s.integer(1) != fire.from.round) return out;
        }
        if (fire.level == 0) {  // the policy has no step after: the clock ends, nothing else changes
            auto s = writer_->prepare("DELETE FROM escalation_timers WHERE alert_id = ?1");
            s.bind(1, alert_id);
            s.step();
            tx.commit();
            return out;
        }
        stored_alert first;
        std::int64_t first_rowid = 0;
        std::vector<std::string> holders;
        {
            auto s = writer_->prepare_built("SELECT rowid, " + std::string{detail::alert_columns} +
                                            " FROM alerts WHERE id = ?1 ORDER BY rowid");
            s.bind(1, alert_id);
            while (s.step()) {
                if (holders.empty()) {
                    first_rowid = s.integer(0);
                    first = read_alert(s, 1);
                }
                holders.push_back(s.text(2));
            }
        }
        if (holders.empty()) return out;  // the alert went (its timer goes with it)
        std::unordered_set<std::string> have(holders.begin(), holders.end());
        for (auto const& user : fire.recipients) {
            if (!have.insert(user).second) continue;
            // The copy takes the alert's content and its state as of now (the
            // write lock is held: no transition can slip in between).
            stored_alert a = first;
            a.user_id = user;
            a.seq = next_seq_locked(user);
            taken.emplace_back(&user, a.seq);
            a.created_ms = now_ms;
            a.first_delivered_ms.reset();
            a.delivery_count = 0;
            a.delivered_node.clear();
            a.suppressed = false;  // decided for the first audience; an escalation is meant to reach
            a.escalation_level = fire.level;
            {
                auto s = writer_->prepare(
                    "INSERT INTO alerts (id, user_id, seq, stream_id, detection, timestamp, created_ms, frame_type, "
                    "delivery_count, acked_ms, acked_by, severity, group_key, suppressed, team, escalation, "
                    "escalation_level, published_by, resolved_ms, resolved_by, outcome, note, handling_rows) "
                    "SELECT id, ?2, ?3, stream_id, detection, timestamp, ?4, frame_type, 0, acked_ms, acked_by, "
                    "severity, group_key, 0, team, escalation, ?5, published_by, resolved_ms, resolved_by, outcome, "
                    "note, 1 FROM alerts WHERE rowid = ?1");
                s.bind(1, first_rowid).bind(2, user).bind(3, std::int64_t(a.seq)).bind(4, now_ms);
                s.bind(5, std::int64_t{fire.level});
                s.step();
            }
            holders.push_back(user);
            out.added.push_back(std::move(a));
        }
        {
            auto s = writer_->prepare("UPDATE alerts SET escalation_level = ?1, handling_rows = 1 WHERE id = ?2");
            s.bind(1, std::int64_t{fire.level}).bind(2, alert_id);
            s.step();
        }
        first.escalation_level = fire.level;
        {
            json::array notified;
            for (auto const& u : fire.recipients) notified.emplace_back(u);
            auto const detail = json::serialize(
                json::object{{"level", fire.level}, {"notify", fire.notify}, {"recipients", std::move(notified)}});
            auto s = writer_->prepare(
                "INSERT INTO alert_events (alert_id, type, actor, at_ms, detail) "
                "VALUES (?1, 'escalated', 'escalation', ?2, ?3)");
            s.bind(1, alert_id).bind(2, now_ms).bind(3, detail);
            s.step();
        }
        enqueue_webhooks_locked("escalated", "escalation", first, holders, now_ms);
        if (fire.next) {
            auto s = writer_->prepare(
                "UPDATE escalation_timers SET policy = ?2, step = ?3, round = ?4, due_ms = ?5 WHERE alert_id = ?1");
            s.bind(1, alert_id).bind(2, fire.next->policy).bind(3, std::int64_t{fire.next->step});
            s.bind(4, std::int64_t{fire.next->round}).bind(5, fire.next->due_ms);
            s.step();
        } else {
            auto s = writer_->prepare("DELETE FROM escalation_timers WHERE alert_id = ?1");
            s.bind(1, alert_id);
            s.step();
        }
        tx.commit();
        out.applied = true;
        out.recipients = std::move(holders);
        out.alert = std::move(first);
    } catch (...) {
        give_back_locked(taken);
        throw;
    }
    return out;
}

std::optional<std::int64_t> sqlite_alert_store::next_escalation_due() {
    std::lock_guard lock{read_mutex_};
    auto s = reader_->prepare("SELECT min(due_ms) FROM escalation_timers");
    if (!s.step() || s.is_null(0)) return std::nullopt;
    return s.integer(0);
}

// ------------------------------------------------------------------ webhooks

void sqlite_alert_store::set_webhook_urls(std::vector<std::string> urls) {
    std::lock_guard lock{write_mutex_};
    webhook_urls_ = std::move(urls);
}

std::vector<webhook_delivery> sqlite_alert_store::claim_webhooks(std::int64_t now_ms, std::int64_t lease_ms,
                                                                 std::size_t limit) {
    std::lock_guard lock{write_mutex_};
    transaction tx{*writer_};
    std::vector<webhook_delivery> out;
    std::vector<std::int64_t> ids;
    {
        auto s = writer_->prepare(
            "SELECT id, url, body, attempts, created_ms FROM webhook_outbox WHERE due_ms <= ?1 "
            "ORDER BY created_ms, id LIMIT ?2");
        s.bind(1, now_ms).bind(2, std::int64_t(limit));
        while (s.step()) {
            ids.push_back(s.integer(0));
            out.push_back(
                {std::to_string(s.integer(0)), s.text(1), s.text(2), static_cast<int>(s.integer(3)), s.integer(4)});
        }
    }
    if (out.empty()) return out;
    for (auto const id : ids) {
        auto s = writer_->prepare("UPDATE webhook_outbox SET due_ms = ?1 WHERE id = ?2");
        s.bind(1, now_ms + lease_ms).bind(2, id);
        s.step();
    }
    tx.commit();
    return out;
}

void sqlite_alert_store::webhook_delivered(std::string_view id) {
    auto const row = outbox_id(id);
    if (!row) return;
    std::lock_guard lock{write_mutex_};
    transaction tx{*writer_};
    {
        auto s = writer_->prepare("DELETE FROM webhook_outbox WHERE id = ?1");
        s.bind(1, *row);
        s.step();
    }
    tx.commit();
}

void sqlite_alert_store::webhook_failed(std::string_view id, std::int64_t retry_at_ms) {
    auto const row = outbox_id(id);
    if (!row) return;
    std::lock_guard lock{write_mutex_};
    transaction tx{*writer_};
    {
        auto s = writer_->prepare("UPDATE webhook_outbox SET attempts = attempts + 1, due_ms = ?2 WHERE id = ?1");
        s.bind(1, *row).bind(2, retry_at_ms);
        s.step();
    }
    tx.commit();
}

std::size_t sqlite_alert_store::drop_webhooks_before(std::int64_t before_ms) {
    std::lock_guard lock{write_mutex_};
    transaction tx{*writer_};
    std::size_t dropped = 0;
    {
        auto s = writer_->prepare("DELETE FROM webhook_outbox WHERE created_ms < ?1");
        s.bind(1, before_ms);
        s.step();
        dropped = static_cast<std::size_t>(writer_->changes());
    }
    tx.commit();
    return dropped;
}

}  // namespace vigil
