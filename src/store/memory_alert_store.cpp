#include "store/memory_alert_store.hpp"

#include "common/ids.hpp"

namespace vigil {

namespace {

bool matches(stored_alert const& a, ack_filter f) {
    return f == ack_filter::all || (f == ack_filter::acked) == a.acked_ms.has_value();
}

}  // namespace

memory_alert_store::memory_alert_store(retention_policy retention) : retention_(retention) {}

void memory_alert_store::erase_locked(std::string const& alert_id) {
    auto it = alerts_.find(alert_id);
    if (it == alerts_.end()) return;
    users_[it->second.alert.user_id].by_seq.erase(it->second.alert.seq);
    alerts_.erase(it);
}

write_result memory_alert_store::write(write_batch const& batch, std::int64_t now_ms) {
    std::lock_guard lock{mutex_};
    write_result out;
    out.appended.reserve(batch.alerts.size());
    for (auto const& in : batch.alerts) {
        auto& log = users_[in.user_id];
        if (!in.idempotency_key.empty()) {
            // Linear in the user's retained alerts; this engine is for small loads.
            bool found = false;
            for (auto const& [seq, id] : log.by_seq) {
                auto const& r = alerts_.at(id);
                if (r.idempotency_key == in.idempotency_key) {
                    out.appended.push_back({r.alert, true});
                    found = true;
                    break;
                }
            }
            if (found) continue;
        }
        record r;
        r.alert.alert_id = new_alert_id();
        r.alert.seq = ++log.last_seq;
        r.alert.user_id = in.user_id;
        r.alert.stream_id = in.stream_id;
        r.alert.detection_json = in.detection_json;
        r.alert.timestamp = in.timestamp;
        r.alert.created_ms = now_ms;
        if (in.delivered_on_commit) {
            r.alert.first_delivered_ms = now_ms;
            r.alert.delivery_count = 1;
        }
        if (in.frame) r.alert.frame_content_type = in.frame->content_type;
        r.frame = in.frame;
        r.idempotency_key = in.idempotency_key;
        log.by_seq.emplace(r.alert.seq, r.alert.alert_id);
        out.appended.push_back({r.alert, false});
        auto const id = r.alert.alert_id;
        auto const seq = r.alert.seq;
        alerts_.emplace(id, std::move(r));
        if (retention_.per_user && seq > retention_.per_user) {
            while (!log.by_seq.empty() && log.by_seq.begin()->first <= seq - retention_.per_user)
                erase_locked(std::string{log.by_seq.begin()->second});
        }
    }
    for (auto const& ack : batch.acks) {
        auto it = alerts_.find(ack.alert_id);
        if (it == alerts_.end() || (!ack.owner.empty() && it->second.alert.user_id != ack.owner)) {
            out.acks.push_back({ack_outcome::not_found, {}});
            continue;
        }
        auto& a = it->second.alert;
        if (a.acked_ms) {
            out.acks.push_back({ack_outcome::already_acked, a.user_id});
        } else {
            a.acked_ms = now_ms;
            a.acked_by = ack.acked_by;
            out.acks.push_back({ack_outcome::acked, a.user_id});
        }
    }
    for (auto const& id : batch.delivered) {
        auto it = alerts_.find(id);
        if (it == alerts_.end()) continue;
        auto& a = it->second.alert;
        if (!a.first_delivered_ms) a.first_delivered_ms = now_ms;
        ++a.delivery_count;
    }
    return out;
}

std::vector<stored_alert> memory_alert_store::after(std::string_view user_id, std::uint64_t after_seq,
                                                    bool unacked_only, std::size_t limit,
                                                    bool with_frames) {
    std::lock_guard lock{mutex_};
    std::vector<stored_alert> out;
    auto u = users_.find(std::string{user_id});
    if (u == users_.end()) return out;
    for (auto it = u->second.by_seq.upper_bound(after_seq); it != u->second.by_seq.end() && out.size() < limit;
         ++it) {
        auto const& r = alerts_.at(it->second);
        if (unacked_only && r.alert.acked_ms) continue;
        out.push_back(r.alert);
        if (with_frames && r.frame) out.back().frame_bytes = r.frame->bytes;
    }
    return out;
}

std::optional<stored_alert> memory_alert_store::get(std::string_view alert_id) {
    std::lock_guard lock{mutex_};
    auto it = alerts_.find(alert_id);
    if (it == alerts_.end()) return std::nullopt;
    return it->second.alert;
}

std::optional<annotated_frame> memory_alert_store::frame(std::string_view alert_id) {
    std::lock_guard lock{mutex_};
    auto it = alerts_.find(alert_id);
    if (it == alerts_.end()) return std::nullopt;
    return it->second.frame;
}

std::vector<stored_alert> memory_alert_store::history(history_query const& q) {
    std::lock_guard lock{mutex_};
    std::vector<stored_alert> out;
    auto it = q.before.empty() ? alerts_.end() : alerts_.lower_bound(q.before);
    while (it != alerts_.begin() && out.size() < q.limit) {
        --it;
        auto const& a = it->second.alert;
        if ((q.user_id.empty() || a.user_id == q.user_id) && matches(a, q.status)) out.push_back(a);
    }
    return out;
}

std::size_t memory_alert_store::prune_expired(std::int64_t now_ms, std::size_t max_rows) {
    if (retention_.max_age_ms <= 0) return 0;
    std::lock_guard lock{mutex_};
    std::size_t removed = 0;
    // Ids are time-ordered, but creation time is what counts: scan from the oldest.
    while (!alerts_.empty() && removed < max_rows &&
           alerts_.begin()->second.alert.created_ms < now_ms - retention_.max_age_ms) {
        erase_locked(std::string{alerts_.begin()->first});
        ++removed;
    }
    return removed;
}

std::uint64_t memory_alert_store::last_seq(std::string_view user_id) {
    std::lock_guard lock{mutex_};
    auto u = users_.find(std::string{user_id});
    return u == users_.end() ? 0 : u->second.last_seq;
}

}  // namespace vigil
