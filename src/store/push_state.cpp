#include "store/push_state.hpp"

namespace vigil {

unsigned quiet_severity_bit(std::string_view severity) noexcept {
    if (severity == "low") return 1;
    if (severity == "medium") return 2;
    if (severity == "high") return 4;
    return 0;  // critical is never held back
}

bool quiet_hours_cover(quiet_hours const& q, std::string_view severity, std::int64_t now_ms) noexcept {
    if ((q.severities & quiet_severity_bit(severity)) == 0) return false;
    constexpr std::int64_t day = 24 * 60;
    auto const minutes = (now_ms >= 0 ? now_ms : now_ms - 59'999) / 60'000 + q.utc_offset_minutes;
    auto const local = static_cast<int>(((minutes % day) + day) % day);
    if (q.start_minute < q.end_minute) return local >= q.start_minute && local < q.end_minute;
    return local >= q.start_minute || local < q.end_minute;  // across midnight
}

bool push_rules::suppresses(std::string_view stream_id, std::string_view severity, std::int64_t now_ms) const noexcept {
    if (severity == "critical") return false;
    for (auto const& s : snoozes)
        if (s.stream_id == stream_id && s.until_ms > now_ms) return true;
    return quiet && quiet_hours_cover(*quiet, severity, now_ms);
}

}  // namespace vigil
