// sqlite_alert_store's push_state (store/push_state.hpp): the tables of
// schema v4. Writes take the writer (and its lock) for a statement or two;
// reads use the reader, as the alert reads do.
#include "store/sqlite_alert_store.hpp"
#include "store/sqlite_connection.hpp"

namespace vigil {

using detail::transaction;

bool sqlite_alert_store::save_subscription(push_subscription_record const& s) {
    std::lock_guard lock{write_mutex_};
    transaction tx{*writer_};
    bool already_mine = false;
    {
        auto q = writer_->prepare("SELECT user_id FROM push_subscriptions WHERE endpoint = ?1");
        q.bind(1, s.endpoint);
        already_mine = q.step() && q.text(0) == s.user_id;
    }
    {
        // A device that moves to another user counts from now.
        auto u = writer_->prepare(
            "INSERT INTO push_subscriptions (endpoint, user_id, p256dh, auth, created_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
            "ON CONFLICT (endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth, "
            "created_ms = CASE WHEN user_id = excluded.user_id THEN created_ms ELSE excluded.created_ms END, "
            "user_id = excluded.user_id");
        u.bind(1, s.endpoint).bind(2, s.user_id).bind_blob(3, s.p256dh).bind_blob(4, s.auth).bind(5, s.created_ms);
        u.step();
    }
    tx.commit();
    return !already_mine;
}

bool sqlite_alert_store::delete_subscription(std::string_view user_id, std::string_view endpoint) {
    std::lock_guard lock{write_mutex_};
    auto s = writer_->prepare("DELETE FROM push_subscriptions WHERE endpoint = ?1 AND user_id = ?2");
    s.bind(1, endpoint).bind(2, user_id);
    s.step();
    return writer_->changes() > 0;
}

bool sqlite_alert_store::forget_endpoint(std::string_view endpoint) {
    std::lock_guard lock{write_mutex_};
    auto s = writer_->prepare("DELETE FROM push_subscriptions WHERE endpoint = ?1");
    s.bind(1, endpoint);
    s.step();
    return writer_->changes() > 0;
}

std::vector<push_subscription_record> sqlite_alert_store::subscriptions(std::string_view user_id) {
    std::lock_guard lock{read_mutex_};
    auto s = reader_->prepare(
        "SELECT endpoint, user_id, p256dh, auth, created_ms FROM push_subscriptions WHERE user_id = ?1 "
        "ORDER BY created_ms, endpoint");
    s.bind(1, user_id);
    std::vector<push_subscription_record> out;
    while (s.step()) out.push_back({s.text(0), s.text(1), s.blob(2), s.blob(3), s.integer(4)});
    return out;
}

void sqlite_alert_store::snooze(std::string_view user_id, std::string_view stream_id, std::int64_t until_ms,
                                std::int64_t now_ms) {
    std::lock_guard lock{write_mutex_};
    transaction tx{*writer_};
    {
        auto s = writer_->prepare("DELETE FROM push_snoozes WHERE user_id = ?1 AND until_ms <= ?2");
        s.bind(1, user_id).bind(2, now_ms);
        s.step();
    }
    {
        auto s = writer_->prepare(
            "INSERT INTO push_snoozes (user_id, stream_id, until_ms) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (user_id, stream_id) DO UPDATE SET until_ms = excluded.until_ms");
        s.bind(1, user_id).bind(2, stream_id).bind(3, until_ms);
        s.step();
    }
    tx.commit();
}

void sqlite_alert_store::unsnooze(std::string_view user_id, std::string_view stream_id) {
    std::lock_guard lock{write_mutex_};
    auto s = writer_->prepare("DELETE FROM push_snoozes WHERE user_id = ?1 AND stream_id = ?2");
    s.bind(1, user_id).bind(2, stream_id);
    s.step();
}

std::vector<stream_snooze> sqlite_alert_store::snoozes(std::string_view user_id, std::int64_t now_ms) {
    // Snoozes that are over stay until the user sets another (snooze() forgets them).
    std::lock_guard lock{read_mutex_};
    auto s = reader_->prepare(
        "SELECT stream_id, until_ms FROM push_snoozes WHERE user_id = ?1 AND until_ms > ?2 ORDER BY stream_id");
    s.bind(1, user_id).bind(2, now_ms);
    std::vector<stream_snooze> out;
    while (s.step()) out.push_back({s.text(0), s.integer(1)});
    return out;
}

void sqlite_alert_store::set_quiet_hours(std::string_view user_id, quiet_hours const& q) {
    std::lock_guard lock{write_mutex_};
    auto s = writer_->prepare(
        "INSERT INTO push_quiet_hours (user_id, start_minute, end_minute, utc_offset_minutes, severities) "
        "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_id) DO UPDATE SET start_minute = excluded.start_minute, "
        "end_minute = excluded.end_minute, utc_offset_minutes = excluded.utc_offset_minutes, "
        "severities = excluded.severities");
    s.bind(1, user_id).bind(2, std::int64_t{q.start_minute}).bind(3, std::int64_t{q.end_minute});
    s.bind(4, std::int64_t{q.utc_offset_minutes}).bind(5, std::int64_t{q.severities});
    s.step();
}

bool sqlite_alert_store::clear_quiet_hours(std::string_view user_id) {
    std::lock_guard lock{write_mutex_};
    auto s = writer_->prepare("DELETE FROM push_quiet_hours WHERE user_id = ?1");
    s.bind(1, user_id);
    s.step();
    return writer_->changes() > 0;
}

std::optional<quiet_hours> sqlite_alert_store::get_quiet_hours(std::string_view user_id) {
    std::lock_guard lock{read_mutex_};
    auto s = reader_->prepare(
        "SELECT start_minute, end_minute, utc_offset_minutes, severities FROM push_quiet_hours WHERE user_id = ?1");
    s.bind(1, user_id);
    if (!s.step()) return std::nullopt;
    return quiet_hours{int(s.integer(0)), int(s.integer(1)), int(s.integer(2)), unsigned(s.integer(3))};
}

bool sqlite_alert_store::any_rules(std::int64_t now_ms) {
    // One row of quiet hours, or a scan of the snoozes, instead of two reads
    // per user of every commit.
    std::lock_guard lock{read_mutex_};
    auto s = reader_->prepare(
        "SELECT EXISTS (SELECT 1 FROM push_quiet_hours) OR EXISTS (SELECT 1 FROM push_snoozes WHERE until_ms > ?1)");
    s.bind(1, now_ms);
    return !s.step() || s.integer(0) != 0;
}

void sqlite_alert_store::mark_pushed(std::string_view alert_id, std::int64_t now_ms) {
    std::lock_guard lock{write_mutex_};
    auto s = writer_->prepare("UPDATE alerts SET pushed_ms = coalesce(pushed_ms, ?1) WHERE id = ?2");
    s.bind(1, now_ms).bind(2, alert_id);
    s.step();
}

bool sqlite_alert_store::was_pushed(std::string_view alert_id) {
    std::lock_guard lock{read_mutex_};
    auto s = reader_->prepare("SELECT pushed_ms IS NOT NULL FROM alerts WHERE id = ?1");
    s.bind(1, alert_id);
    return s.step() && s.integer(0) != 0;
}

std::uint32_t sqlite_alert_store::count_group_push(std::string_view user_id, std::string_view topic,
                                                   std::int64_t now_ms, std::int64_t window_ms) {
    std::lock_guard lock{write_mutex_};
    transaction tx{*writer_};
    std::uint32_t count = 0;
    {
        auto s = writer_->prepare(
            "INSERT INTO push_groups (user_id, topic, started_ms, count) VALUES (?1, ?2, ?3, 1) "
            "ON CONFLICT (user_id, topic) DO UPDATE SET "
            "count = CASE WHEN ?3 >= started_ms + ?4 THEN 1 ELSE count + 1 END, "
            "started_ms = CASE WHEN ?3 >= started_ms + ?4 THEN ?3 ELSE started_ms END RETURNING count");
        s.bind(1, user_id).bind(2, topic).bind(3, now_ms).bind(4, window_ms);
        if (s.step()) count = static_cast<std::uint32_t>(s.integer(0));
        while (s.step()) {}
    }
    {
        // The user's other groups whose window is over are forgotten.
        auto s =
            writer_->prepare("DELETE FROM push_groups WHERE user_id = ?1 AND topic <> ?2 AND started_ms + ?4 <= ?3");
        s.bind(1, user_id).bind(2, topic).bind(3, now_ms).bind(4, window_ms);
        s.step();
    }
    tx.commit();
    return count;
}

}  // namespace vigil
