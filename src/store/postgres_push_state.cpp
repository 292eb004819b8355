// postgres_alert_store's push_state (store/push_state.hpp): the tables of
// schema 2, one statement (or one pipeline) per call.
#include "common/ids.hpp"
#include "store/postgres_with_connection.ipp"

#include <unordered_map>

namespace vigil {

namespace {

using pg::clock;

pg::statement const save_subscription_sql{
    "vigil_push_save",
    "WITH old AS (SELECT user_id FROM push_subscriptions WHERE endpoint = $1::text), "
    "saved AS (INSERT INTO push_subscriptions (endpoint, user_id, p256dh, auth, created_ms) "
    "VALUES ($1::text, $2::text, $3::bytea, $4::bytea, $5::int8) ON CONFLICT (endpoint) DO UPDATE SET "
    "p256dh = excluded.p256dh, auth = excluded.auth, "
    "created_ms = CASE WHEN push_subscriptions.user_id = excluded.user_id THEN push_subscriptions.created_ms "
    "ELSE excluded.created_ms END, user_id = excluded.user_id RETURNING 1) "
    "SELECT coalesce((SELECT user_id FROM old), ''), (SELECT count(*) FROM saved)"};
pg::statement const delete_subscription_sql{
    "vigil_push_delete", "DELETE FROM push_subscriptions WHERE endpoint = $1::text AND user_id = $2::text RETURNING 1"};
pg::statement const forget_endpoint_sql{"vigil_push_forget",
                                        "DELETE FROM push_subscriptions WHERE endpoint = $1::text RETURNING 1"};
pg::statement const list_subscriptions_sql{
    "vigil_push_list",
    "SELECT endpoint, user_id, p256dh, auth, created_ms FROM push_subscriptions WHERE user_id = $1::text "
    "ORDER BY created_ms, endpoint"};
pg::statement const snooze_sql{"vigil_push_snooze",
                               "INSERT INTO push_snoozes (user_id, stream_id, until_ms) VALUES ($1::text, $2::text, "
                               "$3::int8) ON CONFLICT (user_id, stream_id) DO UPDATE SET until_ms = excluded.until_ms"};
pg::statement const forget_snoozes_over_sql{
    "vigil_push_snoozes_over", "DELETE FROM push_snoozes WHERE user_id = $1::text AND until_ms <= $2::int8"};
pg::statement const unsnooze_sql{"vigil_push_unsnooze",
                                 "DELETE FROM push_snoozes WHERE user_id = $1::text AND stream_id = $2::text"};
pg::statement const snoozes_sql{"vigil_push_snoozes",
                                "SELECT stream_id, until_ms FROM push_snoozes WHERE user_id = $1::text AND until_ms > "
                                "$2::int8 ORDER BY stream_id COLLATE \"C\""};
pg::statement const set_quiet_sql{
    "vigil_push_set_quiet",
    "INSERT INTO push_quiet_hours (user_id, start_minute, end_minute, utc_offset_minutes, severities) "
    "VALUES ($1::text, $2::int4, $3::int4, $4::int4, $5::int4) ON CONFLICT (user_id) DO UPDATE SET "
    "start_minute = excluded.start_minute, end_minute = excluded.end_minute, "
    "utc_offset_minutes = excluded.utc_offset_minutes, severities = excluded.severities"};
pg::statement const clear_quiet_sql{"vigil_push_clear_quiet",
                                    "DELETE FROM push_quiet_hours WHERE user_id = $1::text RETURNING 1"};
pg::statement const get_quiet_sql{
    "vigil_push_get_quiet",
    "SELECT start_minute, end_minute, utc_offset_minutes, severities FROM push_quiet_hours WHERE user_id = $1::text"};
pg::statement const snoozes_of_users_sql{
    "vigil_push_snoozes_of",
    "SELECT user_id, stream_id, until_ms FROM push_snoozes WHERE user_id = ANY($1::text[]) AND until_ms > $2::int8"};
pg::statement const quiet_of_users_sql{
    "vigil_push_quiet_of",
    "SELECT user_id, start_minute, end_minute, utc_offset_minutes, severities FROM push_quiet_hours "
    "WHERE user_id = ANY($1::text[])"};
pg::statement const mark_pushed_sql{"vigil_push_mark",
                                    "UPDATE alerts SET pushed_ms = coalesce(pushed_ms, $1::int8) WHERE id = $2::uuid"};
// An alert's copies are pushed each to its user: pushed when any was.
pg::statement const was_pushed_sql{
    "vigil_push_was", "SELECT coalesce(bool_or(pushed_ms IS NOT NULL), false) FROM alerts WHERE id = $1::uuid"};
pg::statement const count_group_sql{
    "vigil_push_group",
    "INSERT INTO push_groups (user_id, topic, started_ms, count) VALUES ($1::text, $2::text, $3::int8, 1) "
    "ON CONFLICT (user_id, topic) DO UPDATE SET "
    "count = CASE WHEN $3::int8 >= push_groups.started_ms + $4::int8 THEN 1 ELSE push_groups.count + 1 END, "
    "started_ms = CASE WHEN $3::int8 >= push_groups.started_ms + $4::int8 THEN $3::int8 "
    "ELSE push_groups.started_ms END RETURNING count"};
pg::statement const forget_groups_sql{
    "vigil_push_groups_over",
    "DELETE FROM push_groups WHERE user_id = $1::text AND topic <> $2::text AND started_ms + $4::int8 <= $3::int8"};

}  // namespace

bool postgres_alert_store::save_subscription(push_subscription_record const& s) {
    return with_connection(false, [&](pg::connection& c, clock::time_point deadline) {
        auto const r =
            c.run(save_subscription_sql,
                  pg::params{}.text(s.endpoint).text(s.user_id).binary(s.p256dh).binary(s.auth).integer(s.created_ms),
                  deadline);
        return r.rows() == 1 && r.string(0, 0) != s.user_id;
    });
}

bool postgres_alert_store::delete_subscription(std::string_view user_id, std::string_view endpoint) {
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        return c.run(delete_subscription_sql, pg::params{}.text(endpoint).text(user_id), deadline).rows() > 0;
    });
}

bool postgres_alert_store::forget_endpoint(std::string_view endpoint) {
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        return c.run(forget_endpoint_sql, pg::params{}.text(endpoint), deadline).rows() > 0;
    });
}

std::vector<push_subscription_record> postgres_alert_store::subscriptions(std::string_view user_id) {
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        auto const r = c.run(list_subscriptions_sql, pg::params{}.text(user_id), deadline);
        std::vector<push_subscription_record> out;
        out.reserve(std::size_t(r.rows()));
        for (int row = 0; row < r.rows(); ++row)
            out.push_back({r.string(row, 0), r.string(row, 1), r.bytea(row, 2), r.bytea(row, 3), r.integer(row, 4)});
        return out;
    });
}

void postgres_alert_store::snooze(std::string_view user_id, std::string_view stream_id, std::int64_t until_ms,
                                  std::int64_t now_ms) {
    with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        std::vector<pg::step> steps;
        steps.push_back({&forget_snoozes_over_sql, pg::params{}.text(user_id).integer(now_ms)});
        steps.push_back({&snooze_sql, pg::params{}.text(user_id).text(stream_id).integer(until_ms)});
        c.run(steps, deadline);
        return true;
    });
}

void postgres_alert_store::unsnooze(std::string_view user_id, std::string_view stream_id) {
    with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        c.run(unsnooze_sql, pg::params{}.text(user_id).text(stream_id), deadline);
        return true;
    });
}

std::vector<stream_snooze> postgres_alert_store::snoozes(std::string_view user_id, std::int64_t now_ms) {
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        auto const r = c.run(snoozes_sql, pg::params{}.text(user_id).integer(now_ms), deadline);
        std::vector<stream_snooze> out;
        out.reserve(std::size_t(r.rows()));
        for (int row = 0; row < r.rows(); ++row) out.push_back({r.string(row, 0), r.integer(row, 1)});
        return out;
    });
}

void postgres_alert_store::set_quiet_hours(std::string_view user_id, quiet_hours const& q) {
    with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        c.run(set_quiet_sql,
              pg::params{}
                  .text(user_id)
                  .integer(q.start_minute)
                  .integer(q.end_minute)
                  .integer(q.utc_offset_minutes)
                  .integer(q.severities),
              deadline);
        return true;
    });
}

bool postgres_alert_store::clear_quiet_hours(std::string_view user_id) {
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        return c.run(clear_quiet_sql, pg::params{}.text(user_id), deadline).rows() > 0;
    });
}

std::optional<quiet_hours> postgres_alert_store::get_quiet_hours(std::string_view user_id) {
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) -> std::optional<quiet_hours> {
        auto const r = c.run(get_quiet_sql, pg::params{}.text(user_id), deadline);
        if (!r.rows()) return std::nullopt;
        return quiet_hours{int(r.integer(0, 0)), int(r.integer(0, 1)), int(r.integer(0, 2)), unsigned(r.integer(0, 3))};
    });
}

// One round trip for a commit's users, not two per user.
std::vector<push_rules> postgres_alert_store::rules_of_users(std::vector<std::string_view> const& user_ids,
                                                             std::int64_t now_ms) {
    std::vector<push_rules> out(user_ids.size());
    if (user_ids.empty()) return out;
    auto users = [&] {
        pg::array a{pg::array::type::text};
        for (auto u : user_ids) a.add(u);
        return std::move(a).finish();
    };
    auto const results = with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        std::vector<pg::step> steps;
        steps.push_back({&snoozes_of_users_sql, pg::params{}.binary(users()).integer(now_ms)});
        steps.push_back({&quiet_of_users_sql, pg::params{}.binary(users())});
        return c.run(steps, deadline);
    });
    std::unordered_map<std::string_view, std::size_t> index;
    for (std::size_t i = 0; i < user_ids.size(); ++i) index.try_emplace(user_ids[i], i);
    auto const index_of = [&](std::string_view user) {
        auto const it = index.find(user);
        return it == index.end() ? out.size() : it->second;
    };
    auto const& snoozes = results[0];
    for (int row = 0; row < snoozes.rows(); ++row)
        if (auto const i = index_of(snoozes.text(row, 0)); i < out.size())
            out[i].snoozes.push_back({snoozes.string(row, 1), snoozes.integer(row, 2)});
    auto const& quiet = results[1];
    for (int row = 0; row < quiet.rows(); ++row)
        if (auto const i = index_of(quiet.text(row, 0)); i < out.size())
            out[i].quiet = quiet_hours{int(quiet.integer(row, 1)), int(quiet.integer(row, 2)),
                                       int(quiet.integer(row, 3)), unsigned(quiet.integer(row, 4))};
    return out;
}

void postgres_alert_store::mark_pushed(std::string_view alert_id, std::int64_t now_ms) {
    if (!is_alert_id(alert_id)) return;
    with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        c.run(mark_pushed_sql, pg::params{}.integer(now_ms).text(alert_id), deadline);
        return true;
    });
}

bool postgres_alert_store::was_pushed(std::string_view alert_id) {
    if (!is_alert_id(alert_id)) return false;
    return with_connection(true, [&](pg::connection& c, clock::time_point deadline) {
        auto const r = c.run(was_pushed_sql, pg::params{}.text(alert_id), deadline);
        return r.rows() == 1 && r.boolean(0, 0);
    });
}

std::uint32_t postgres_alert_store::count_group_push(std::string_view user_id, std::string_view topic,
                                                     std::int64_t now_ms, std::int64_t window_ms) {
    // Not tried again on a new connection: the count may have been taken.
    return with_connection(false, [&](pg::connection& c, clock::time_point deadline) {
        std::vector<pg::step> steps;
        steps.push_back({&count_group_sql, pg::params{}.text(user_id).text(topic).integer(now_ms).integer(window_ms)});
        steps.push_back(
            {&forget_groups_sql, pg::params{}.text(user_id).text(topic).integer(now_ms).integer(window_ms)});
        auto const results = c.run(steps, deadline);
        return results[0].rows() == 1 ? static_cast<std::uint32_t>(results[0].integer(0, 0)) : 1u;
    });
}

}  // namespace vigil
