#include "store/memory_alert_store.hpp"

#include "common/ids.hpp"

#include <algorithm>

namespace vigil {

namespace {

bool matches(alert_state s, state_filter f) {
    switch (f) {
        case state_filter::all: return true;
        case state_filter::open: return s == alert_state::open;
        case state_filter::acknowledged: return s == alert_state::acknowledged;
        case state_filter::resolved: return s == alert_state::resolved;
        case state_filter::acked: return s != alert_state::open;
    }
    return true;
}

// Between an alert id and a user id in a copy's key: below every character
// either may hold, so an alert's copies sort together, right after its id.
constexpr char copy_separator = '\x1f';

// The pool hands blocks up to this size out of its own chunks; anything larger
// (a detection of more than 1 MiB) goes through to the arena and back.
constexpr std::size_t largest_pooled_block = std::size_t{1} << 20;

}  // namespace

std::string memory_alert_store::copy_key(std::string_view alert_id, std::string_view user_id) {
    std::string key;
    key.reserve(alert_id.size() + 1 + user_id.size());
    key += alert_id;
    key += copy_separator;
    key += user_id;
    return key;
}

memory_alert_store::memory_alert_store(retention_policy retention)
    : retention_(retention),
      epoch_(new_epoch()),
      pool_(std::pmr::pool_options{0, largest_pooled_block}, &arena_),
      alerts_(&pool_),
      users_(&pool_) {
    // The pool may round its limit; what it passes through must be freed for real.
    arena_.separate_above(pool_.options().largest_required_pool_block);
}

stored_alert memory_alert_store::to_stored(alert_map::value_type const& entry, bool with_frame_bytes) {
    auto const& [key, r] = entry;
    stored_alert a;
    a.alert_id = std::string_view{key}.substr(0, key.find(copy_separator));
    a.seq = r.seq;
    a.user_id = r.user_id;
    a.stream_id = r.stream_id;
    a.detection_json = r.detection_json;
    a.timestamp = r.timestamp;
    a.severity = r.severity;
    a.group_key = r.group_key;
    a.suppressed = r.suppressed;
    a.created_ms = r.created_ms;
    if (r.frame) {
        a.frame_content_type = r.frame->content_type;
        if (with_frame_bytes) a.frame_bytes = r.frame->bytes;
    }
    a.first_delivered_ms = r.first_delivered_ms;
    a.delivery_count = r.delivery_count;
    a.acked_ms = r.acked_ms;
    a.acked_by = r.acked_by;
    a.published_by = r.published_by;
    a.delivered_node = r.delivered_node;
    a.escalation_level = r.escalation_level;
    if (r.extra) {
        a.team = r.extra->team;
        a.escalation = r.extra->escalation;
        a.resolved_ms = r.extra->resolved_ms;
        a.resolved_by = r.extra->resolved_by;
        a.outcome = r.extra->outcome;
        a.note = r.extra->note;
    }
    return a;
}

void memory_alert_store::erase_locked(alert_map::iterator it) {
    if (auto u = users_.find(std::string_view{it->second.user_id}); u != users_.end())
        u->second.by_seq.erase(it->second.seq);
    std::string const id{std::string_view{it->first}.substr(0, it->first.find(copy_separator))};
    alerts_.erase(it);
    if (copies_locked(id).empty()) {  // the last copy: its trail and clock go with it
        if (auto e = events_.find(id); e != events_.end()) events_.erase(e);
        if (auto t = timers_.find(id); t != timers_.end()) timers_.erase(t);
    }
}

std::vector<memory_alert_store::alert_map::iterator> memory_alert_store::copies_locked(std::string_view alert_id) {
    std::vector<alert_map::iterator> out;
    std::string prefix{alert_id};
    prefix += copy_separator;
    for (auto it = alerts_.lower_bound(std::string_view{prefix});
         it != alerts_.end() && std::string_view{it->first}.starts_with(prefix); ++it)
        out.push_back(it);
    std::sort(out.begin(), out.end(), [](auto a, auto b) { return a->second.commit_no < b->second.commit_no; });
    return out;
}

write_result memory_alert_store::write(write_batch const& batch, std::int64_t now_ms) {
    std::lock_guard lock{mutex_};
    allocator const arena{&pool_};
    write_result out;
    out.appended.reserve(batch.alerts.size());
    for (auto const& in : batch.alerts) {
        auto u = users_.find(std::string_view{in.user_id});
        if (u == users_.end()) u = users_.emplace(std::pmr::string{in.user_id, arena}, user_log{arena}).first;
        auto& log = u->second;
        if (!in.idempotency_key.empty()) {
            // Linear in the user's retained alerts; this engine is for small loads.
            bool found = false;
            for (auto const& [seq, it] : log.by_seq) {
                if (std::string_view{it->second.idempotency_key} == in.idempotency_key) {
                    out.appended.push_back({to_stored(*it, false), true});
                    found = true;
                    break;
                }
            }
            if (found) continue;
        }
        std::string const id = in.alert_id.empty() ? new_alert_id() : in.alert_id;
        auto key = copy_key(id, in.user_id);
        // Only a given id can be one this user already holds: a new one is unique.
        if (!in.alert_id.empty()) {
            if (auto held = alerts_.find(std::string_view{key}); held != alerts_.end()) {
                out.appended.push_back({to_stored(*held, false), true});
                continue;
            }
        }
        auto const siblings = in.alert_id.empty() ? std::vector<alert_map::iterator>{} : copies_locked(id);
        record r{arena};
        r.seq = ++log.last_seq;
        r.commit_no = ++commits_;
        r.user_id = in.user_id;
        r.stream_id = in.stream_id;
        r.detection_json = in.detection_json;
        r.timestamp = in.timestamp;
        r.severity = in.severity;
        r.group_key = in.group_key;
        r.suppressed = in.suppressed;
        r.created_ms = now_ms;
        if (in.delivered_on_commit) {
            r.first_delivered_ms = now_ms;
            r.delivery_count = 1;
            r.delivered_node = batch.node;
        }
        r.published_by = in.published_by;
        r.escalation_level = in.escalation_level;
        if (!in.team.empty() || !in.escalation.empty()) {
            r.extra = std::make_unique<handling_extra>();
            r.extra->team = in.team;
            r.extra->escalation = in.escalation;
        }
        if (!siblings.empty()) {  // another copy of the alert: one frame, one state
            auto const& first = siblings.front()->second;
            r.frame = first.frame;
            r.acked_ms = first.acked_ms;
            r.acked_by = first.acked_by;
            r.escalation_level = first.escalation_level;
            if (first.extra) r.extra = std::make_unique<handling_extra>(*first.extra);
        } else if (in.frame) {
            r.frame = std::make_shared<annotated_frame const>(*in.frame);
        }
        r.idempotency_key = in.idempotency_key;
        if (in.escalation_due_ms && !timers_.contains(id))
            timers_.emplace(id, escalation_timer{id, in.escalation, 0, 0, *in.escalation_due_ms});
        // Ids and seqs mostly grow, so both inserts go at the end: the hint makes them O(1).
        auto const it = alerts_.emplace_hint(alerts_.end(), std::pmr::string{key, arena}, std::move(r));
        log.by_seq.emplace_hint(log.by_seq.end(), it->second.seq, it);
        out.appended.push_back({to_stored(*it, false), false});
        if (auto const seq = it->second.seq; retention_.per_user && seq > retention_.per_user) {
            while (!log.by_seq.empty() && log.by_seq.begin()->first <= seq - retention_.per_user)
                erase_locked(log.by_seq.begin()->second);
        }
    }
    for (auto const& t : batch.transitions) out.transitions.push_back(transition_locked(t, now_ms));
    for (auto const& d : batch.delivered) {
        auto it = alerts_.find(std::string_view{copy_key(d.alert_id, d.user_id)});
        if (it == alerts_.end()) continue;
        auto& r = it->second;
        if (!r.first_delivered_ms) {
            r.first_delivered_ms = now_ms;
            r.delivered_node = batch.node;
        }
        ++r.delivery_count;
    }
    return out;
}

replay_page memory_alert_store::after(std::string_view user_id, std::uint64_t after_seq, bool unacked_only,
                                      std::size_t limit, bool with_frames) {
    std::lock_guard lock{mutex_};
    replay_page out;
    auto u = users_.find(user_id);
    if (u == users_.end()) return out;
    out.head = u->second.last_seq;
    for (auto it = u->second.by_seq.upper_bound(after_seq); it != u->second.by_seq.end() && out.alerts.size() < limit;
         ++it) {
        if (unacked_only && it->second->second.acked_ms) continue;  // acknowledged or resolved
        out.alerts.push_back(to_stored(*it->second, with_frames));
    }
    return out;
}

std::optional<stored_alert> memory_alert_store::get(std::string_view alert_id, std::string_view user_id) {
    std::lock_guard lock{mutex_};
    if (!user_id.empty()) {
        auto it = alerts_.find(std::string_view{copy_key(alert_id, user_id)});
        if (it == alerts_.end()) return std::nullopt;
        return to_stored(*it, false);
    }
    auto const copies = copies_locked(alert_id);
    if (copies.empty()) return std::nullopt;
    return to_stored(*copies.front(), false);
}

std::optional<annotated_frame> memory_alert_store::frame(std::string_view alert_id) {
    std::lock_guard lock{mutex_};
    auto const copies = copies_locked(alert_id);
    if (copies.empty() || !copies.front()->second.frame) return std::nullopt;
    return *copies.front()->second.frame;
}

std::vector<stored_alert> memory_alert_store::history(history_query const& q) {
    std::lock_guard lock{mutex_};
    std::vector<stored_alert> out;
    auto it = q.before.empty() ? alerts_.end() : alerts_.lower_bound(std::string_view{q.before});
    while (it != alerts_.begin() && out.size() < q.limit) {
        --it;
        auto const& r = it->second;
        if ((q.user_id.empty() || std::string_view{r.user_id} == q.user_id) &&
            (q.team.empty() || (r.extra && r.extra->team == q.team)) &&
            matches(r.extra && r.extra->resolved_ms ? alert_state::resolved
                    : r.acked_ms                    ? alert_state::acknowledged
                                                    : alert_state::open,
                    q.status))
            out.push_back(to_stored(*it, false));
    }
    return out;
}

feed_page memory_alert_store::feed(std::string const& cursor, std::size_t limit) {
    std::lock_guard lock{mutex_};
    feed_page out;
    if (cursor.empty()) {
        out.cursor = std::to_string(commits_);
        return out;
    }
    std::uint64_t after = 0;
    try {
        after = std::stoull(cursor);
    } catch (std::exception const&) {
        throw store_error("not a feed cursor of this store: " + cursor);
    }
    std::vector<alert_map::const_iterator> found;
    for (auto it = alerts_.cbegin(); it != alerts_.cend(); ++it)
        if (it->second.commit_no > after) found.push_back(it);
    std::sort(found.begin(), found.end(), [](auto a, auto b) { return a->second.commit_no < b->second.commit_no; });
    if (found.size() > limit) found.resize(limit);
    for (auto it : found) out.alerts.push_back(to_stored(*it, false));
    out.cursor = std::to_string(found.empty() ? after : found.back()->second.commit_no);
    return out;
}

std::size_t memory_alert_store::prune_expired(std::int64_t now_ms, std::size_t max_rows) {
    if (retention_.max_age_ms <= 0) return 0;
    std::lock_guard lock{mutex_};
    std::size_t removed = 0;
    // Ids are time-ordered, but creation time is what counts: scan from the oldest.
    while (!alerts_.empty() && removed < max_rows &&
           alerts_.begin()->second.created_ms < now_ms - retention_.max_age_ms) {
        erase_locked(alerts_.begin());
        ++removed;
    }
    return removed;
}

std::uint64_t memory_alert_store::last_seq(std::string_view user_id) {
    std::lock_guard lock{mutex_};
    auto u = users_.find(user_id);
    return u == users_.end() ? 0 : u->second.last_seq;
}

}  // namespace vigil
