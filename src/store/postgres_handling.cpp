// postgres_alert_store's handling_store (store/handling_store.hpp) and the
// transitions of write(): the tables of schema 3. What changes an alert
// (a transition, an escalation) locks its copies first, in an explicit
// transaction, and writes its audit event and webhook outbox rows in it.
#include "common/ids.hpp"
#include "proto/alert_json.hpp"
#include "store/postgres_rows.hpp"
#include "store/postgres_with_connection.ipp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <set>

namespace vigil {

namespace json = boost::json;
using pg::clock;

namespace {

// ------------------------------------------------------------ statements

// A transition's new state, on every copy (they were locked before).
pg::statement const set_state{
    "vigil_set_state",
    "UPDATE alerts SET acked_ms = $2::int8, acked_by = $3::text, resolved_ms = $4::int8, resolved_by = $5::text, "
    "outcome = $6::text, note = $7::text WHERE id = $1::uuid"};
pg::statement const insert_event{"vigil_event",
                                 "INSERT INTO alert_events (alert_id, type, actor, at_ms, detail) "
                                 "VALUES ($1::uuid, $2::text, $3::text, $4::int8, $5::text)"};
// One row per URL, all with the same body.
pg::statement const insert_outbox{
    "vigil_outbox",
    "INSERT INTO webhook_outbox (url, body, due_ms, created_ms) "
    "SELECT u, $2::text, $3::int8, $3::int8 FROM unnest($1::text[]) WITH ORDINALITY AS t(u, n) ORDER BY n"};
pg::statement const delete_timer{"vigil_timer_delete", "DELETE FROM escalation_timers WHERE alert_id = $1::uuid"};
// A reopened alert's clock, from its policy's first step (none when the
// policy is gone).
pg::statement const arm_timer{
    "vigil_timer_arm",
    "INSERT INTO escalation_timers (alert_id, policy, step, round, due_ms) "
    "SELECT $1::uuid, p.name, 0, 0, $2::int8 + (p.steps::jsonb -> 0 ->> 'ack_within_seconds')::int8 * 1000 "
    "FROM escalation_policies p WHERE p.name = $3::text AND (p.steps::jsonb -> 0 ->> 'ack_within_seconds') IS NOT NULL "
    "ON CONFLICT (alert_id) DO UPDATE SET policy = excluded.policy, step = 0, round = 0, due_ms = excluded.due_ms"};

pg::statement const put_team_sql{
    "vigil_team_put",
    "INSERT INTO teams (name, members, escalation, updated_ms) VALUES ($1::text, $2::text, $3::text, $4::int8) "
    "ON CONFLICT (name) DO UPDATE SET members = excluded.members, escalation = excluded.escalation, "
    "updated_ms = excluded.updated_ms"};
pg::statement const get_team_sql{"vigil_team_get",
                                 "SELECT name, members, escalation, updated_ms FROM teams WHERE name = $1::text"};
pg::statement const delete_team_sql{"vigil_team_delete", "DELETE FROM teams WHERE name = $1::text RETURNING 1"};
pg::statement const teams_sql{"vigil_teams",
                              "SELECT name, members, escalation, updated_ms FROM teams ORDER BY name COLLATE \"C\""};
pg::statement const put_policy_sql{
    "vigil_policy_put",
    "INSERT INTO escalation_policies (name, steps, repeat, updated_ms) VALUES ($1::text, $2::text, $3::int4, $4::int8) "
    "ON CONFLICT (name) DO UPDATE SET steps = excluded.steps, repeat = excluded.repeat, "
    "updated_ms = excluded.updated_ms"};
pg::statement const get_policy_sql{
    "vigil_policy_get", "SELECT name, steps, repeat, updated_ms FROM escalation_policies WHERE name = $1::text"};
pg::statement const delete_policy_sql{"vigil_policy_delete",
                                      "DELETE FROM escalation_policies WHERE name = $1::text RETURNING 1"};
pg::statement const policies_sql{
    "vigil_policies", "SELECT name, steps, repeat, updated_ms FROM escalation_policies ORDER BY name COLLATE \"C\""};

// What the trail derives from the copies, and what it recorded.
pg::statement const trail_copies{
    "vigil_trail_copies",
    "SELECT user_id, created_ms, published_by, first_delivered_ms, delivered_node FROM alerts "
    "WHERE id = $1::uuid ORDER BY copy_no, user_id"};
pg::statement const trail_events{
    "vigil_trail_events", "SELECT type, actor, at_ms, detail FROM alert_events WHERE alert_id = $1::uuid ORDER BY n"};
pg::statement const recipients_sql{"vigil_recipients",
                                   "SELECT user_id FROM alerts WHERE id = $1::uuid ORDER BY copy_no, user_id"};

// Due timers, each moved on by the lease; the others' claims skipped, not
// waited for. Answers the due times they had.
pg::statement const claim_timers{"vigil_claim_timers", R"sql(
WITH due AS (
    SELECT alert_id, due_ms FROM escalation_timers WHERE due_ms <= $1::int8
    ORDER BY due_ms, alert_id LIMIT $3::int8 FOR UPDATE SKIP LOCKED
),
claimed AS (
    UPDATE escalation_timers t SET due_ms = $1::int8 + $2::int8 FROM due WHERE t.alert_id = due.alert_id
    RETURNING t.alert_id, t.policy, t.step, t.round, due.due_ms
)
SELECT alert_id, policy, step, round, due_ms FROM claimed ORDER BY due_ms, alert_id
)sql"};
pg::statement const next_due_sql{"vigil_next_due", "SELECT min(due_ms) FROM escalation_timers"};
// The timer, locked: escalate() applies only while it is at the claimed step.
pg::statement const read_timer{"vigil_timer_read",
                               "SELECT step, round FROM escalation_timers WHERE alert_id = $1::uuid FOR UPDATE"};
pg::statement const move_timer{
    "vigil_timer_move",
    "UPDATE escalation_timers SET policy = $2::text, step = $3::int4, round = $4::int4, due_ms = $5::int8 "
    "WHERE alert_id = $1::uuid"};
// The escalated users' copies ($2, in order; their head rows locked): the
// first copy's content and state, the frame where it is kept, the next
// seqs, the next places among the copies.
pg::statement const insert_escalated{"vigil_escalated_copies", R"sql(
WITH src AS (SELECT * FROM alerts WHERE id = $1::uuid ORDER BY copy_no, user_id LIMIT 1),
top AS (SELECT max(copy_no) AS n FROM alerts WHERE id = $1::uuid),
heads AS (
    UPDATE users u SET last_seq = u.last_seq + 1 WHERE u.user_id = ANY($2::text[])
    RETURNING u.user_id, u.last_seq
)
INSERT INTO alerts (id, user_id, seq, stream_id, detection, ts, created_ms, frame_type, acked_ms, acked_by, severity,
                    group_key, suppressed, copy_no, team, escalation, escalation_level, resolved_ms, resolved_by,
                    outcome, note, published_by)
SELECT s.id, h.user_id, h.last_seq, s.stream_id, s.detection, s.ts, s.created_ms, s.frame_type, s.acked_ms,
       s.acked_by, s.severity, s.group_key, s.suppressed, t.n + r.n, s.team, s.escalation, $3::int4, s.resolved_ms,
       s.resolved_by, s.outcome, s.note, s.published_by
FROM src s CROSS JOIN top t JOIN unnest($2::text[]) WITH ORDINALITY AS r(user_id, n) ON true
JOIN heads h ON h.user_id = r.user_id
RETURNING user_id, seq
)sql"};
pg::statement const set_level{"vigil_set_level", "UPDATE alerts SET escalation_level = $2::int4 WHERE id = $1::uuid"};

pg::statement const claim_webhooks_sql{"vigil_claim_webhooks", R"sql(
WITH due AS (
    SELECT id, created_ms FROM webhook_outbox WHERE due_ms <= $1::int8
    ORDER BY created_ms, id LIMIT $3::int8 FOR UPDATE SKIP LOCKED
),
claimed AS (
    UPDATE webhook_outbox w SET due_ms = $1::int8 + $2::int8 FROM due WHERE w.id = due.id
    RETURNING w.id, w.url, w.body, w.attempts, w.created_ms
)
SELECT id, url, body, attempts, created_ms FROM claimed ORDER BY created_ms, id
)sql"};
pg::statement const webhook_delivered_sql{"vigil_webhook_delivered", "DELETE FROM webhook_outbox WHERE id = $1::int8"};
pg::statement const webhook_failed_sql{
    "vigil_webhook_failed", "UPDATE webhook_outbox SET attempts = attempts + 1, due_ms = $2::int8 WHERE id = $1::int8"};
pg::statement const drop_webhooks_sql{"vigil_webhooks_drop", "DELETE FROM webhook_outbox WHERE created_ms < $1::int8"};

// Each open alert once, however many copies it has.
pg::statement const open_by_severity_sql{
    "vigil_open_by_severity",
    "SELECT severity, count(DISTINCT id) FROM alerts WHERE acked_ms IS NULL GROUP BY severity"};

// ------------------------------------------------------------------ JSON

json::value parse_stored(std::string_view text, char const* what) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec) throw store_error(std::string{"postgres: a stored "} + what + " is not JSON: " + ec.message());
    return v;
}

std::string members_json(std::vector<std::string> const& members) {
    json::array a;
    for (auto const& m : members) a.emplace_back(m);
    return json::serialize(a);
}

std::string escalation_map_json(std::map<std::string, std::string> const& m) {
    json::object o;
    for (auto const& [k, v] : m) o[k] = v;
    return json::serialize(o);
}

std::string steps_json(std::vector<escalation_step> const& steps) {
    json::array a;
    for (auto const& s : steps)
        a.push_back(json::object{{"notify", s.notify}, {"ack_within_seconds", s.ack_within_seconds}});
    return json::serialize(a);
}

team_record read_team(pg::result const& r, int row) {
    team_record t;
    t.name = r.string(row, 0);
    auto const members = parse_stored(r.text(row, 1), "team");
    if (!members.is_array()) throw store_error("postgres: a stored team's members are not a list");
    for (auto const& m : members.as_array())
        if (m.is_string()) t.members.emplace_back(m.as_string());
    auto const escalation = parse_stored(r.text(row, 2), "team");
    if (!escalation.is_object()) throw store_error("postgres: a stored team's escalation is not an object");
    for (auto const& [k, v] : escalation.as_object())
        if (v.is_string()) t.escalation.emplace(std::string{k}, std::string{v.as_string()});
    t.updated_ms = r.integer(row, 3);
    return t;
}

escalation_policy read_policy(pg::result const& r, int row) {
    escalation_policy p;
    p.name = r.string(row, 0);
    auto const steps = parse_stored(r.text(row, 1), "policy");
    if (!steps.is_array()) throw store_error("postgres: a stored policy's steps are not a list");
    for (auto const& s : steps.as_array()) {
        if (!s.is_object()) continue;
        escalation_step step;
        if (auto const* n = s.as_object().if_contains("notify"); n && n->is_string()) step.notify = n->as_string();
        if (auto const* a = s.as_object().if_contains("ack_within_seconds"); a && a->is_number())
            step.ack_within_seconds = a->to_number<std::int64_t>();
        p.steps.push_back(std::move(step));
    }
    p.repeat = int(r.integer(row, 2));
    p.updated_ms = r.integer(row, 3);
    return p;
}

std::string uuid_array(std::string_view id) {
    pg::array a{pg::array::type::uuid};
    a.add(pgrows::uuid_bytes(id));
    return std::move(a).finish();
}

std::string text_array(std::vector<std::string> const& v) {
    pg::array a{pg::array::type::text};
    for (auto const& s : v) a.add(s);
    return std::move(a).finish();
}

std::optional<std::int64_t> outbox_id(std::string_view id) {
    std::int64_t v = 0;
    auto const [end, ec] = std::from_chars(id.data(), id.data() + id.size(), v);
    if (ec != std::errc{} || end != id.data() + id.size()) return std::nullopt;
    return v;
}

// One outbox row per URL for a change: the same body (and event id) for each.
void add_outbox(std::vector<pg::step>& steps, std::vector<std::string> const& urls, std::string_view change,
                std::int64_t now_ms, std::string_view actor, stored_alert const& alert,
                std::vector<std::string> const& recipients) {
    if (urls.empty()) return;
    auto body =
        proto::webhook_body(new_alert_id(now_ms), proto::webhook_type(change), now_ms, actor, alert, recipients);
    steps.push_back({&insert_outbox, pg::params{}.binary(text_array(urls)).binary(std::move(body)).integer(now_ms)});
}

}  // namespace

// ------------------------------------------------------------ transitions

namespace pgrows {

std::vector<transition_result> apply_transitions(std::vector<transition_request> const& transitions,
                                                 copies_by_id& copies, std::int64_t now_ms,
                                                 std::vector<std::string> const& webhook_urls,
                                                 std::vector<pg::step>& steps) {
    std::vector<transition_result> out(transitions.size());
    std::set<std::string_view> changed;
    for (std::size_t i = 0; i < transitions.size(); ++i) {
        auto const& t = transitions[i];
        auto& r = out[i];
        auto const found = copies.find(t.alert_id);
        if (found == copies.end() || found->second.empty()) continue;  // not found (or not an id)
        auto& v = found->second;
        if (!t.recipient.empty() &&
            std::none_of(v.begin(), v.end(), [&](auto const& c) { return c.user_id == t.recipient; }))
            continue;
        r.user_id = t.recipient.empty() ? v.front().user_id : t.recipient;
        for (auto const& c : v) r.recipients.push_back(c.user_id);
        r.at_ms = now_ms;
        auto const state = v.front().state();
        char const* change = nullptr;
        std::string detail = "{}";
        switch (t.kind) {
            case transition_kind::acknowledge:
                if (state != alert_state::open) {
                    r.outcome = transition_outcome::unchanged;
                    break;
                }
                change = "acknowledged";
                for (auto& c : v) {
                    c.acked_ms = now_ms;
                    c.acked_by = t.actor;
                }
                break;
            case transition_kind::resolve: {
                if (state == alert_state::resolved) {
                    r.outcome = transition_outcome::invalid;
                    break;
                }
                change = "resolved";
                for (auto& c : v) {
                    if (!c.acked_ms) {  // resolved while open: the resolver owns it
                        c.acked_ms = now_ms;
                        c.acked_by = t.actor;
                    }
                    c.resolved_ms = now_ms;
                    c.resolved_by = t.actor;
                    c.outcome = t.outcome;
                    c.note = t.note;
                }
                json::object d{{"outcome", t.outcome}};
                if (!t.note.empty()) d["note"] = t.note;
                detail = json::serialize(d);
                break;
            }
            case transition_kind::reopen:
                if (state == alert_state::open) {
                    r.outcome = transition_outcome::invalid;
                    break;
                }
                change = "reopened";
                for (auto& c : v) {
                    c.acked_ms.reset();
                    c.acked_by.clear();
                    c.resolved_ms.reset();
                    c.resolved_by.clear();
                    c.outcome.clear();
                    c.note.clear();
                }
                break;
        }
        r.alert = v.front();
        if (!change) continue;
        r.outcome = transition_outcome::applied;
        changed.insert(found->first);
        steps.push_back(
            {&insert_event,
             pg::params{}.text(found->first).text(change).text(t.actor).integer(now_ms).binary(std::move(detail))});
        if (t.kind == transition_kind::reopen)
            steps.push_back({&arm_timer, pg::params{}.text(found->first).integer(now_ms).text(v.front().escalation)});
        else
            steps.push_back({&delete_timer, pg::params{}.text(found->first)});
        add_outbox(steps, webhook_urls, change, now_ms, t.actor, v.front(), r.recipients);
    }
    // Each changed alert's final state, on every copy.
    for (auto const id : changed) {
        auto const& a = copies.find(id)->second.front();
        pg::params p;
        p.text(id);
        if (a.acked_ms)
            p.integer(*a.acked_ms).text(a.acked_by);
        else
            p.null().null();
        if (a.resolved_ms)
            p.integer(*a.resolved_ms);
        else
            p.null();
        p.text(a.resolved_by).text(a.outcome).text(a.note);
        steps.push_back({&set_state, std::move(p)});
    }
    return out;
}

}  // namespace pgrows

// ------------------------------------------------------------------ teams

void postgres_alert_store::put_team(team_record const& team) {
    auto const members = members_json(team.members);
    auto const escalation = escalation_map_json(team.escalation);
    with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        c.run(put_team_sql, pg::params{}.text(team.name).text(members).text(escalation).integer(team.updated_ms),
              deadline);
        return true;
    });
}

std::optional<team_record> postgres_alert_store::get_team(std::string_view name) {
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) -> std::optional<team_record> {
        auto const r = c.run(get_team_sql, pg::params{}.text(name), deadline);
        if (!r.rows()) return std::nullopt;
        return read_team(r, 0);
    });
}

bool postgres_alert_store::delete_team(std::string_view name) {
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        return c.run(delete_team_sql, pg::params{}.text(name), deadline).rows() > 0;
    });
}

std::vector<team_record> postgres_alert_store::teams() {
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        auto const r = c.run(teams_sql, {}, deadline);
        std::vector<team_record> out;
        out.reserve(std::size_t(r.rows()));
        for (int row = 0; row < r.rows(); ++row) out.push_back(read_team(r, row));
        return out;
    });
}

void postgres_alert_store::put_policy(escalation_policy const& policy) {
    auto const steps = steps_json(policy.steps);
    with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        c.run(put_policy_sql,
              pg::params{}.text(policy.name).text(steps).integer(policy.repeat).integer(policy.updated_ms), deadline);
        return true;
    });
}

std::optional<escalation_policy> postgres_alert_store::get_policy(std::string_view name) {
    return with_connection(true,
                           [&](pg::connection& c, clock::time_point deadline) -> std::optional<escalation_policy> {
                               auto const r = c.run(get_policy_sql, pg::params{}.text(name), deadline);
                               if (!r.rows()) return std::nullopt;
                               return read_policy(r, 0);
                           });
}

bool postgres_alert_store::delete_policy(std::string_view name) {
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        return c.run(delete_policy_sql, pg::params{}.text(name), deadline).rows() > 0;
    });
}

std::vector<escalation_policy> postgres_alert_store::policies() {
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        auto const r = c.run(policies_sql, {}, deadline);
        std::vector<escalation_policy> out;
        out.reserve(std::size_t(r.rows()));
        for (int row = 0; row < r.rows(); ++row) out.push_back(read_policy(r, row));
        return out;
    });
}

// ------------------------------------------------------------- the trail

std::vector<audit_event> postgres_alert_store::events(std::string_view alert_id) {
    if (!is_alert_id(alert_id)) return {};
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        std::vector<pg::step> steps;
        steps.push_back({&trail_copies, pg::params{}.text(alert_id)});
        steps.push_back({&trail_events, pg::params{}.text(alert_id)});
        auto const r = c.run(steps, deadline);
        auto const& copies = r[0];
        auto const& recorded = r[1];
        std::vector<audit_event> out;
        if (!copies.rows()) return out;  // no such alert (any more)
        // Derived from the copies: the publish (the first copy's), then
        // each copy's first delivery, by time.
        int first = 0;
        for (int row = 1; row < copies.rows(); ++row)
            if (copies.integer(row, 1) < copies.integer(first, 1)) first = row;
        out.push_back({"published", copies.string(first, 2), copies.integer(first, 1), "{}"});
        std::vector<audit_event> delivered;
        for (int row = 0; row < copies.rows(); ++row) {
            if (copies.is_null(row, 3)) continue;
            delivered.push_back({"delivered", copies.string(row, 0), copies.integer(row, 3),
                                 json::serialize(json::object{{"node", copies.string(row, 4)}})});
        }
        std::stable_sort(delivered.begin(), delivered.end(),
                         [](auto const& a, auto const& b) { return a.at_ms < b.at_ms; });
        out.insert(out.end(), delivered.begin(), delivered.end());
        for (int row = 0; row < recorded.rows(); ++row)
            out.push_back(
                {recorded.string(row, 0), recorded.string(row, 1), recorded.integer(row, 2), recorded.string(row, 3)});
        // By time; on a tie the derived ones (before) stay first.
        std::stable_sort(out.begin(), out.end(), [](auto const& a, auto const& b) { return a.at_ms < b.at_ms; });
        return out;
    });
}

std::vector<std::string> postgres_alert_store::recipients(std::string_view alert_id) {
    if (!is_alert_id(alert_id)) return {};
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        auto const r = c.run(recipients_sql, pg::params{}.text(alert_id), deadline);
        std::vector<std::string> out;
        out.reserve(std::size_t(r.rows()));
        for (int row = 0; row < r.rows(); ++row) out.push_back(r.string(row, 0));
        return out;
    });
}

// ------------------------------------------------------------- escalation

std::vector<escalation_timer> postgres_alert_store::claim_due_escalations(std::int64_t now_ms, std::int64_t lease_ms,
                                                                          std::size_t limit) {
    if (limit == 0) return {};
    // Not tried again after a commit went unanswered: what it claimed is
    // claimed again once the lease is over.
    return with_connection(false, [&](pg::connection& c, clock::time_point deadline) {
        auto const r = c.run(claim_timers,
                             pg::params{}.integer(now_ms).integer(lease_ms).integer(
                                 std::int64_t(std::min<std::size_t>(limit, INT64_MAX))),
                             deadline);
        std::vector<escalation_timer> out;
        out.reserve(std::size_t(r.rows()));
        for (int row = 0; row < r.rows(); ++row)
            out.push_back({r.string(row, 0), r.string(row, 1), int(r.integer(row, 2)), int(r.integer(row, 3)),
                           r.integer(row, 4)});
        return out;
    });
}

std::optional<std::int64_t> postgres_alert_store::next_escalation_due() {
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        return c.run(next_due_sql, {}, deadline).optional_integer(0, 0);
    });
}

escalation_result postgres_alert_store::escalate(escalation_fire const& fire) {
    if (!is_alert_id(fire.from.alert_id)) return {};
    return with_connection(false, [&](pg::connection& c, clock::time_point deadline) {
        for (int attempt = 0;; ++attempt) {
            try {
                return escalate_once(c, fire, deadline);
            } catch (pg::error const& e) {
                // A deadlock with a writer of the same users: rolled back, again.
                if (!e.connection_lost &&
                    (e.sqlstate == pg::sqlstate::deadlock || e.sqlstate == pg::sqlstate::serialization) &&
                    attempt < 3 && clock::now() < deadline)
                    continue;
                throw;
            }
        }
    });
}

// Two pipelines of one transaction: the copies locked (then the timer, as
// transitions do), the timer and the copies read; then the new copies,
// the level, the event, the outbox rows, the timer moved on, the commit.
escalation_result postgres_alert_store::escalate_once(pg::connection& c, escalation_fire const& fire,
                                                      clock::time_point deadline) {
    auto const& id = fire.from.alert_id;
    auto const rollback = [&] {
        try {
            c.exec("ROLLBACK", deadline);
        } catch (...) {
            // The connection is marked broken: the pool closes it.
        }
    };
    try {
        std::vector<pg::step> steps;
        steps.push_back({&pgrows::begin_sql, {}});
        steps.push_back({&pgrows::lock_copies, pg::params{}.binary(uuid_array(id))});
        steps.push_back({&read_timer, pg::params{}.text(id)});
        steps.push_back({&pgrows::read_copies, pg::params{}.binary(uuid_array(id))});
        auto const read = c.run(steps, deadline);
        auto const& timer = read[2];
        if (!timer.rows() || timer.integer(0, 0) != fire.from.step || timer.integer(0, 1) != fire.from.round) {
            rollback();  // fired by another, stopped, or moved on: nothing to do
            return escalation_result{};
        }
        auto by_id = pgrows::copies_of(read[3]);
        auto const found = by_id.find(id);
        if (found == by_id.end() || found->second.empty() || fire.level == 0) {
            // The alert is gone (retention), or its policy has no step after: the clock ends.
            std::vector<pg::step> end;
            end.push_back({&delete_timer, pg::params{}.text(id)});
            end.push_back({&pgrows::commit_sql, {}});
            c.run(end, deadline);
            return escalation_result{};
        }
        auto const& copies = found->second;

        escalation_result out;
        out.applied = true;
        for (auto const& a : copies) out.recipients.push_back(a.user_id);
        std::vector<std::string> added_users;
        for (auto const& u : fire.recipients) {
            if (u.empty() || std::find(out.recipients.begin(), out.recipients.end(), u) != out.recipients.end())
                continue;
            out.recipients.push_back(u);
            added_users.push_back(u);
        }
        out.alert = copies.front();
        out.alert->escalation_level = fire.level;

        std::vector<pg::step> changes;
        int insert_step = -1;
        if (!added_users.empty()) {
            auto sorted = added_users;
            std::sort(sorted.begin(), sorted.end());
            changes.push_back({&pgrows::add_users, pg::params{}.binary(text_array(sorted))});
            changes.push_back({&pgrows::lock_users, pg::params{}.binary(text_array(sorted))});
            insert_step = int(changes.size());
            changes.push_back(
                {&insert_escalated, pg::params{}.text(id).binary(text_array(added_users)).integer(fire.level)});
            if (auto const keep = options_.retention.per_user)
                changes.push_back(
                    {&pgrows::trim_users, pg::params{}.binary(text_array(sorted)).integer(std::int64_t(keep))});
        }
        changes.push_back({&set_level, pg::params{}.text(id).integer(fire.level)});
        json::array audience;
        for (auto const& u : fire.recipients) audience.emplace_back(u);
        changes.push_back(
            {&insert_event,
             pg::params{}
                 .text(id)
                 .text("escalated")
                 .text("escalation")
                 .integer(fire.now_ms)
                 .binary(json::serialize(json::object{
                     {"level", fire.level}, {"notify", fire.notify}, {"recipients", std::move(audience)}}))});
        add_outbox(changes, webhook_urls(), "escalated", fire.now_ms, "escalation", *out.alert, out.recipients);
        if (fire.next)
            changes.push_back({&move_timer, pg::params{}
                                                .text(id)
                                                .text(fire.next->policy)
                                                .integer(fire.next->step)
                                                .integer(fire.next->round)
                                                .integer(fire.next->due_ms)});
        else
            changes.push_back({&delete_timer, pg::params{}.text(id)});
        changes.push_back({&pgrows::commit_sql, {}});
        auto const written = c.run(changes, deadline);

        if (insert_step >= 0) {
            auto const& r = written[std::size_t(insert_step)];
            std::map<std::string, std::uint64_t, std::less<>> seqs;
            for (int row = 0; row < r.rows(); ++row)
                seqs.emplace(r.string(row, 0), static_cast<std::uint64_t>(r.integer(row, 1)));
            for (auto const& u : added_users) {
                auto const seq = seqs.find(u);
                if (seq == seqs.end()) throw store_error("postgres: an escalated copy was not stored");
                auto a = *out.alert;
                a.user_id = u;
                a.seq = seq->second;
                a.first_delivered_ms.reset();
                a.delivery_count = 0;
                a.delivered_node.clear();
                out.added.push_back(std::move(a));
            }
        }
        return out;
    } catch (...) {
        rollback();
        throw;
    }
}

// --------------------------------------------------------------- webhooks

void postgres_alert_store::set_webhook_urls(std::vector<std::string> urls) {
    std::lock_guard lock{webhooks_mutex_};
    webhook_urls_ = std::move(urls);
}

std::vector<std::string> postgres_alert_store::webhook_urls() const {
    std::lock_guard lock{webhooks_mutex_};
    return webhook_urls_;
}

std::vector<webhook_delivery> postgres_alert_store::claim_webhooks(std::int64_t now_ms, std::int64_t lease_ms,
                                                                   std::size_t limit) {
    if (limit == 0) return {};
    return with_connection(false, [&](pg::connection& c, clock::time_point deadline) {
        auto const r = c.run(claim_webhooks_sql,
                             pg::params{}.integer(now_ms).integer(lease_ms).integer(
                                 std::int64_t(std::min<std::size_t>(limit, INT64_MAX))),
                             deadline);
        std::vector<webhook_delivery> out;
        out.reserve(std::size_t(r.rows()));
        for (int row = 0; row < r.rows(); ++row)
            out.push_back(
                {r.string(row, 0), r.string(row, 1), r.string(row, 2), int(r.integer(row, 3)), r.integer(row, 4)});
        return out;
    });
}

void postgres_alert_store::webhook_delivered(std::string_view id) {
    auto const row = outbox_id(id);
    if (!row) return;
    with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        c.run(webhook_delivered_sql, pg::params{}.integer(*row), deadline);
        return true;
    });
}

void postgres_alert_store::webhook_failed(std::string_view id, std::int64_t retry_at_ms) {
    auto const row = outbox_id(id);
    if (!row) return;
    // Not tried again after a commit went unanswered: an attempt counted twice.
    with_connection(false, [&](pg::connection& c, clock::time_point deadline) {
        c.run(webhook_failed_sql, pg::params{}.integer(*row).integer(retry_at_ms), deadline);
        return true;
    });
}

std::size_t postgres_alert_store::drop_webhooks_before(std::int64_t before_ms) {
    return with_connection(false, [&](pg::connection& c, clock::time_point deadline) {
        return std::size_t(c.run(drop_webhooks_sql, pg::params{}.integer(before_ms), deadline).affected());
    });
}

std::map<std::string, std::int64_t> postgres_alert_store::open_by_severity() {
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        auto const r = c.run(open_by_severity_sql, {}, deadline);
        std::map<std::string, std::int64_t> out;
        for (int row = 0; row < r.rows(); ++row) out[r.string(row, 0)] = r.integer(row, 1);
        return out;
    });
}

}  // namespace vigil
