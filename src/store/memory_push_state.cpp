// memory_alert_store's push_state (store/push_state.hpp).
#include "store/memory_alert_store.hpp"

#include <algorithm>

namespace vigil {

bool memory_alert_store::save_subscription(push_subscription_record const& s) {
    std::lock_guard lock{push_mutex_};
    auto it = subscriptions_.find(s.endpoint);
    if (it == subscriptions_.end()) {
        subscriptions_.emplace(s.endpoint, std::pair{++subscriptions_made_, s});
        return true;
    }
    bool const moved = it->second.second.user_id != s.user_id;
    auto const created = it->second.second.created_ms;
    it->second.second = s;
    if (moved)
        it->second.first = ++subscriptions_made_;
    else
        it->second.second.created_ms = created;
    return moved;
}

bool memory_alert_store::delete_subscription(std::string_view user_id, std::string_view endpoint) {
    std::lock_guard lock{push_mutex_};
    auto it = subscriptions_.find(endpoint);
    if (it == subscriptions_.end() || it->second.second.user_id != user_id) return false;
    subscriptions_.erase(it);
    return true;
}

bool memory_alert_store::forget_endpoint(std::string_view endpoint) {
    std::lock_guard lock{push_mutex_};
    auto it = subscriptions_.find(endpoint);
    if (it == subscriptions_.end()) return false;
    subscriptions_.erase(it);
    return true;
}

std::vector<push_subscription_record> memory_alert_store::subscriptions(std::string_view user_id) {
    std::lock_guard lock{push_mutex_};
    std::vector<std::pair<std::uint64_t, push_subscription_record>> mine;
    for (auto const& [endpoint, entry] : subscriptions_)
        if (entry.second.user_id == user_id) mine.push_back(entry);
    std::sort(mine.begin(), mine.end(), [](auto const& a, auto const& b) { return a.first < b.first; });
    std::vector<push_subscription_record> out;
    out.reserve(mine.size());
    for (auto& [n, s] : mine) out.push_back(std::move(s));
    return out;
}

void memory_alert_store::snooze(std::string_view user_id, std::string_view stream_id, std::int64_t until_ms,
                                std::int64_t now_ms) {
    std::lock_guard lock{push_mutex_};
    for (auto it = snoozes_.lower_bound(std::pair{std::string{user_id}, std::string{}});
         it != snoozes_.end() && it->first.first == user_id;)
        it = it->second <= now_ms ? snoozes_.erase(it) : std::next(it);
    snoozes_[{std::string{user_id}, std::string{stream_id}}] = until_ms;
}

void memory_alert_store::unsnooze(std::string_view user_id, std::string_view stream_id) {
    std::lock_guard lock{push_mutex_};
    snoozes_.erase({std::string{user_id}, std::string{stream_id}});
}

std::vector<stream_snooze> memory_alert_store::snoozes(std::string_view user_id, std::int64_t now_ms) {
    std::lock_guard lock{push_mutex_};
    std::vector<stream_snooze> out;
    auto it = snoozes_.lower_bound(std::pair{std::string{user_id}, std::string{}});
    while (it != snoozes_.end() && it->first.first == user_id) {
        if (it->second <= now_ms) {
            it = snoozes_.erase(it);  // over: forgotten
            continue;
        }
        out.push_back({it->first.second, it->second});
        ++it;
    }
    return out;
}

void memory_alert_store::set_quiet_hours(std::string_view user_id, quiet_hours const& q) {
    std::lock_guard lock{push_mutex_};
    quiet_hours_.insert_or_assign(std::string{user_id}, q);
}

bool memory_alert_store::clear_quiet_hours(std::string_view user_id) {
    std::lock_guard lock{push_mutex_};
    auto it = quiet_hours_.find(user_id);
    if (it == quiet_hours_.end()) return false;
    quiet_hours_.erase(it);
    return true;
}

bool memory_alert_store::any_rules(std::int64_t /*now_ms*/) {
    // Snoozes that are over count until a read forgets them: "maybe" is allowed.
    std::lock_guard lock{push_mutex_};
    return !snoozes_.empty() || !quiet_hours_.empty();
}

std::optional<quiet_hours> memory_alert_store::get_quiet_hours(std::string_view user_id) {
    std::lock_guard lock{push_mutex_};
    auto it = quiet_hours_.find(user_id);
    if (it == quiet_hours_.end()) return std::nullopt;
    return it->second;
}

void memory_alert_store::mark_pushed(std::string_view alert_id, std::int64_t) {
    std::lock_guard lock{mutex_};
    for (auto it : copies_locked(alert_id)) it->second.pushed = true;  // an alert's, whichever copy was pushed
}

bool memory_alert_store::was_pushed(std::string_view alert_id) {
    std::lock_guard lock{mutex_};
    auto const copies = copies_locked(alert_id);
    return !copies.empty() && copies.front()->second.pushed;
}

std::uint32_t memory_alert_store::count_group_push(std::string_view user_id, std::string_view topic,
                                                   std::int64_t now_ms, std::int64_t window_ms) {
    std::lock_guard lock{push_mutex_};
    auto& g = groups_[{std::string{user_id}, std::string{topic}}];
    if (g.count == 0 || now_ms >= g.started_ms + window_ms) {
        g.started_ms = now_ms;
        g.count = 0;
    }
    // Windows over for this user's other groups are forgotten: the map stays
    // as small as the groups still open.
    for (auto it = groups_.lower_bound(std::pair{std::string{user_id}, std::string{}});
         it != groups_.end() && it->first.first == user_id;) {
        if (it->first.second != topic && now_ms >= it->second.started_ms + window_ms)
            it = groups_.erase(it);
        else
            ++it;
    }
    return ++g.count;
}

}  // namespace vigil
