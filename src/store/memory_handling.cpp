// memory_alert_store's handling_store: transitions, escalation timers, the
// audit trail and the webhook outbox, under the alerts' lock (they change
// with the alerts); teams and policies under their own.
#include "common/ids.hpp"
#include "proto/alert_json.hpp"
#include "store/memory_alert_store.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>

namespace vigil {

namespace json = boost::json;

namespace {

std::string_view change_of(transition_kind k) {
    switch (k) {
        case transition_kind::acknowledge: return "acknowledged";
        case transition_kind::resolve: return "resolved";
        case transition_kind::reopen: return "reopened";
    }
    return "acknowledged";
}

}  // namespace

transition_result memory_alert_store::transition_locked(transition_request const& t, std::int64_t now_ms) {
    transition_result out;
    auto const copies = copies_locked(t.alert_id);
    if (copies.empty()) return out;
    if (!t.recipient.empty() && std::none_of(copies.begin(), copies.end(), [&](auto it) {
            return std::string_view{it->second.user_id} == t.recipient;
        }))
        return out;
    for (auto it : copies) out.recipients.emplace_back(it->second.user_id);
    out.user_id = t.recipient.empty() ? out.recipients.front() : t.recipient;
    out.at_ms = now_ms;
    auto const& first = copies.front()->second;
    bool const resolved = first.extra && first.extra->resolved_ms;
    bool const acked = first.acked_ms.has_value();
    switch (t.kind) {
        case transition_kind::acknowledge:
            out.outcome = acked ? transition_outcome::unchanged : transition_outcome::applied;
            break;
        case transition_kind::resolve:
            out.outcome = resolved ? transition_outcome::invalid : transition_outcome::applied;
            break;
        case transition_kind::reopen:
            out.outcome = acked ? transition_outcome::applied : transition_outcome::invalid;
            break;
    }
    if (out.outcome == transition_outcome::applied) {
        std::string policy;
        for (auto it : copies) {
            auto& r = it->second;
            if (t.kind == transition_kind::reopen) {
                r.acked_ms.reset();
                r.acked_by.clear();
                if (r.extra) {
                    r.extra->resolved_ms.reset();
                    r.extra->resolved_by.clear();
                    r.extra->outcome.clear();
                    r.extra->note.clear();
                }
            } else {
                if (!r.acked_ms) {
                    r.acked_ms = now_ms;
                    r.acked_by = t.actor;
                }
                if (t.kind == transition_kind::resolve) {
                    if (!r.extra) r.extra = std::make_unique<handling_extra>();
                    r.extra->resolved_ms = now_ms;
                    r.extra->resolved_by = t.actor;
                    r.extra->outcome = t.outcome;
                    r.extra->note = t.note;
                }
            }
            if (r.extra) policy = r.extra->escalation;
        }
        if (t.kind == transition_kind::reopen) {
            if (!policy.empty()) arm_timer_locked(t.alert_id, policy, now_ms);
        } else {
            timers_.erase(std::string{t.alert_id});
        }
        json::object detail;
        if (t.kind == transition_kind::resolve) {
            detail["outcome"] = t.outcome;
            if (!t.note.empty()) detail["note"] = t.note;
        }
        out.alert = to_stored(*copies.front(), false);
        record_change_locked(t.alert_id, change_of(t.kind), t.actor, now_ms, json::serialize(detail), *out.alert,
                             out.recipients);
    } else {
        out.alert = to_stored(*copies.front(), false);
    }
    return out;
}

void memory_alert_store::record_change_locked(std::string_view alert_id, std::string_view change,
                                              std::string_view actor, std::int64_t now_ms, std::string detail_json,
                                              stored_alert const& after, std::vector<std::string> const& recipients) {
    auto& trail = events_[std::string{alert_id}];
    trail.push_back(
        {audit_event{std::string{change}, std::string{actor}, now_ms, std::move(detail_json)}, ++events_made_});
    if (webhook_urls_.empty()) return;
    auto const event_id = new_alert_id(now_ms);
    auto const body = proto::webhook_body(event_id, proto::webhook_type(change), now_ms, actor, after, recipients);
    for (auto const& url : webhook_urls_) {
        char id[32];
        std::snprintf(id, sizeof id, "%020llu", static_cast<unsigned long long>(++outbox_made_));
        outbox_.emplace(id, outbox_row{webhook_delivery{id, url, body, 0, now_ms}, now_ms});
    }
}

void memory_alert_store::arm_timer_locked(std::string_view alert_id, std::string_view policy, std::int64_t now_ms) {
    std::lock_guard lock{config_mutex_};
    auto p = policies_.find(policy);
    if (p == policies_.end() || p->second.steps.empty()) return;
    timers_[std::string{alert_id}] = {std::string{alert_id}, std::string{policy}, 0, 0,
                                      now_ms + p->second.steps.front().ack_within_seconds * 1000};
}

// ---------------------------------------------------------------- teams, policies

void memory_alert_store::put_team(team_record const& team) {
    std::lock_guard lock{config_mutex_};
    teams_.insert_or_assign(team.name, team);
}

std::optional<team_record> memory_alert_store::get_team(std::string_view name) {
    std::lock_guard lock{config_mutex_};
    auto it = teams_.find(name);
    if (it == teams_.end()) return std::nullopt;
    return it->second;
}

bool memory_alert_store::delete_team(std::string_view name) {
    std::lock_guard lock{config_mutex_};
    auto it = teams_.find(name);
    if (it == teams_.end()) return false;
    teams_.erase(it);
    return true;
}

std::vector<team_record> memory_alert_store::teams() {
    std::lock_guard lock{config_mutex_};
    std::vector<team_record> out;
    for (auto const& [name, t] : teams_) out.push_back(t);
    return out;
}

void memory_alert_store::put_policy(escalation_policy const& policy) {
    std::lock_guard lock{config_mutex_};
    policies_.insert_or_assign(policy.name, policy);
}

std::optional<escalation_policy> memory_alert_store::get_policy(std::string_view name) {
    std::lock_guard lock{config_mutex_};
    auto it = policies_.find(name);
    if (it == policies_.end()) return std::nullopt;
    return it->second;
}

bool memory_alert_store::delete_policy(std::string_view name) {
    std::lock_guard lock{config_mutex_};
    auto it = policies_.find(name);
    if (it == policies_.end()) return false;
    policies_.erase(it);
    return true;
}

std::vector<escalation_policy> memory_alert_store::policies() {
    std::lock_guard lock{config_mutex_};
    std::vector<escalation_policy> out;
    for (auto const& [name, p] : policies_) out.push_back(p);
    return out;
}

// ---------------------------------------------------------------- trail

std::vector<audit_event> memory_alert_store::events(std::string_view alert_id) {
    std::lock_guard lock{mutex_};
    auto const copies = copies_locked(alert_id);
    std::vector<audit_event> out;
    if (copies.empty()) return out;
    auto const& first = copies.front()->second;
    out.push_back({"published", std::string{first.published_by}, first.created_ms, "{}"});
    for (auto it : copies) {
        auto const& r = it->second;
        if (!r.first_delivered_ms) continue;
        out.push_back({"delivered", std::string{r.user_id}, *r.first_delivered_ms,
                       json::serialize(json::object{{"node", std::string_view{r.delivered_node}}})});
    }
    if (auto e = events_.find(alert_id); e != events_.end())
        for (auto const& logged : e->second) out.push_back(logged.event);
    // Derived entries first on equal times: a delivery precedes what it caused.
    std::stable_sort(out.begin(), out.end(), [](auto const& a, auto const& b) { return a.at_ms < b.at_ms; });
    return out;
}

std::vector<std::string> memory_alert_store::recipients(std::string_view alert_id) {
    std::lock_guard lock{mutex_};
    std::vector<std::string> out;
    for (auto it : copies_locked(alert_id)) out.emplace_back(it->second.user_id);
    return out;
}

// ---------------------------------------------------------------- escalation

std::vector<escalation_timer> memory_alert_store::claim_due_escalations(std::int64_t now_ms, std::int64_t lease_ms,
                                                                        std::size_t limit) {
    std::lock_guard lock{mutex_};
    std::vector<escalation_timer*> due;
    for (auto& [id, t] : timers_)
        if (t.due_ms <= now_ms) due.push_back(&t);
    std::sort(due.begin(), due.end(), [](auto* a, auto* b) { return a->due_ms < b->due_ms; });
    if (due.size() > limit) due.resize(limit);
    std::vector<escalation_timer> out;
    for (auto* t : due) {
        out.push_back(*t);
        t->due_ms = now_ms + lease_ms;
    }
    return out;
}

escalation_result memory_alert_store::escalate(escalation_fire const& fire) {
    std::lock_guard lock{mutex_};
    escalation_result out;
    auto t = timers_.find(fire.from.alert_id);
    if (t == timers_.end() || t->second.step != fire.from.step || t->second.round != fire.from.round) return out;
    auto copies = copies_locked(fire.from.alert_id);
    if (copies.empty() || fire.level == 0) {  // the alert went, or its policy has no step after: the clock ends
        timers_.erase(t);
        return out;
    }
    out.applied = true;
    allocator const arena{&pool_};
    auto const& first = copies.front()->second;
    std::vector<alert_map::iterator> added;
    for (auto const& user : fire.recipients) {
        auto key = copy_key(fire.from.alert_id, user);
        if (alerts_.contains(std::string_view{key})) continue;
        auto u = users_.find(std::string_view{user});
        if (u == users_.end()) u = users_.emplace(std::pmr::string{user, arena}, user_log{arena}).first;
        record r{arena};
        r.seq = ++u->second.last_seq;
        r.commit_no = ++commits_;
        r.user_id = user;
        r.stream_id = first.stream_id;
        r.detection_json = first.detection_json;
        r.timestamp = first.timestamp;
        r.severity = first.severity;
        r.group_key = first.group_key;
        r.created_ms = fire.now_ms;
        r.frame = first.frame;
        r.acked_ms = first.acked_ms;
        r.acked_by = first.acked_by;
        r.published_by = first.published_by;
        if (first.extra) r.extra = std::make_unique<handling_extra>(*first.extra);
        auto const it = alerts_.emplace(std::pmr::string{key, arena}, std::move(r)).first;
        u->second.by_seq.emplace_hint(u->second.by_seq.end(), it->second.seq, it);
        added.push_back(it);
        copies.push_back(it);
    }
    for (auto it : copies) it->second.escalation_level = fire.level;
    for (auto it : added) out.added.push_back(to_stored(*it, false));
    for (auto it : copies) out.recipients.emplace_back(it->second.user_id);
    out.alert = to_stored(*copies.front(), false);
    if (fire.next)
        t->second = *fire.next;
    else
        timers_.erase(t);
    json::array reached;
    for (auto const& u : fire.recipients) reached.emplace_back(u);
    record_change_locked(fire.from.alert_id, "escalated", "escalation", fire.now_ms,
                         json::serialize(json::object{
                             {"level", fire.level}, {"notify", fire.notify}, {"recipients", std::move(reached)}}),
                         *out.alert, out.recipients);
    return out;
}

std::optional<std::int64_t> memory_alert_store::next_escalation_due() {
    std::lock_guard lock{mutex_};
    std::optional<std::int64_t> out;
    for (auto const& [id, t] : timers_)
        if (!out || t.due_ms < *out) out = t.due_ms;
    return out;
}

// ---------------------------------------------------------------- webhook outbox

void memory_alert_store::set_webhook_urls(std::vector<std::string> urls) {
    std::lock_guard lock{mutex_};
    webhook_urls_ = std::move(urls);
}

std::vector<webhook_delivery> memory_alert_store::claim_webhooks(std::int64_t now_ms, std::int64_t lease_ms,
                                                                 std::size_t limit) {
    std::lock_guard lock{mutex_};
    std::vector<webhook_delivery> out;
    for (auto& [id, row] : outbox_) {
        if (out.size() >= limit) break;
        if (row.due_ms > now_ms) continue;
        row.due_ms = now_ms + lease_ms;
        out.push_back(row.delivery);
    }
    return out;
}

void memory_alert_store::webhook_delivered(std::string_view id) {
    std::lock_guard lock{mutex_};
    if (auto it = outbox_.find(id); it != outbox_.end()) outbox_.erase(it);
}

void memory_alert_store::webhook_failed(std::string_view id, std::int64_t retry_at_ms) {
    std::lock_guard lock{mutex_};
    if (auto it = outbox_.find(id); it != outbox_.end()) {
        ++it->second.delivery.attempts;
        it->second.due_ms = retry_at_ms;
    }
}

std::size_t memory_alert_store::drop_webhooks_before(std::int64_t before_ms) {
    std::lock_guard lock{mutex_};
    return std::erase_if(outbox_, [&](auto const& entry) { return entry.second.delivery.created_ms < before_ms; });
}

std::map<std::string, std::int64_t> memory_alert_store::open_by_severity() {
    std::lock_guard lock{mutex_};
    std::map<std::string, std::int64_t> out;
    std::string_view last_id;
    for (auto const& [key, r] : alerts_) {
        auto const id = std::string_view{key}.substr(0, key.find('\x1f'));
        if (id == last_id) continue;  // another copy of the same alert
        last_id = id;
        if (!r.acked_ms) ++out[std::string{r.severity}];
    }
    return out;
}

}  // namespace vigil
