#pragma once
// How the SQLite engine reads a copy of an alert from a row of `alerts`
// (schema v5): shared by the alert reads (sqlite_alert_store.cpp) and
// handling (sqlite_handling.cpp).
#include "store/sqlite_connection.hpp"

#include <string>
#include <string_view>

namespace vigil::detail {

inline constexpr char alert_columns[] =
    "id, user_id, seq, stream_id, detection, timestamp, created_ms, frame_type, "
    "first_delivered_ms, delivery_count, acked_ms, acked_by, severity, group_key, suppressed, "
    "resolved_ms, resolved_by, outcome, note, team, escalation, escalation_level, published_by, delivered_node";

// Reads the columns listed in alert_columns, in that order, from column `first` on.
inline stored_alert read_alert(sqlite_connection::statement const& s, int first = 0) {
    stored_alert a;
    a.alert_id = s.text(first + 0);
    a.user_id = s.text(first + 1);
    a.seq = static_cast<std::uint64_t>(s.integer(first + 2));
    a.stream_id = s.text(first + 3);
    a.detection_json = s.text(first + 4);
    a.timestamp = s.text(first + 5);
    a.created_ms = s.integer(first + 6);
    a.frame_content_type = s.text(first + 7);
    if (!s.is_null(first + 8)) a.first_delivered_ms = s.integer(first + 8);
    a.delivery_count = s.integer(first + 9);
    if (!s.is_null(first + 10)) a.acked_ms = s.integer(first + 10);
    a.acked_by = s.text(first + 11);
    a.severity = s.text(first + 12);
    a.group_key = s.text(first + 13);
    a.suppressed = s.integer(first + 14) != 0;
    if (!s.is_null(first + 15)) a.resolved_ms = s.integer(first + 15);
    a.resolved_by = s.text(first + 16);
    a.outcome = s.text(first + 17);
    a.note = s.text(first + 18);
    a.team = s.text(first + 19);
    a.escalation = s.text(first + 20);
    a.escalation_level = static_cast<int>(s.integer(first + 21));
    a.published_by = s.text(first + 22);
    a.delivered_node = s.text(first + 23);
    return a;
}

inline std::string select_alerts(std::string_view where_and_rest) {
    return std::string{"SELECT "} + alert_columns + " FROM alerts " + std::string{where_and_rest};
}

}  // namespace vigil::detail
