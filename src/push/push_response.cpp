#include "push/push_response.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <string>

namespace vigil::push {

answer_class classify_status(int status) noexcept {
    if (status >= 200 && status < 300) return answer_class::delivered;
    if (status == 404 || status == 410) return answer_class::gone;
    if (status == 429 || (status >= 500 && status < 600)) return answer_class::retry;
    return answer_class::failed;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::int64_t now_seconds) {
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (value.empty() || value.size() > 64) return std::nullopt;
    if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        if (value.size() > 9) return std::chrono::seconds{999'999'999};  // longer than any policy waits
        return std::chrono::seconds{std::stoll(std::string{value})};
    }
    // IMF-fixdate, the obsolete RFC 850 form and asctime's (RFC 9110 section
    // 5.6.7). strptime reads English names: vigil never changes LC_TIME from "C".
    static constexpr char const* formats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                              "%a %b %e %H:%M:%S %Y"};
    std::string const text{value};
    for (char const* format : formats) {
        struct tm tm {};
        char const* end = ::strptime(text.c_str(), format, &tm);
        if (!end || *end != '\0') continue;
        std::int64_t const at = ::timegm(&tm);
        if (at == -1) return std::nullopt;
        return std::chrono::seconds{std::max<std::int64_t>(0, at - now_seconds)};
    }
    return std::nullopt;
}

std::optional<std::chrono::milliseconds> retry_delay(int next_attempt, std::optional<std::chrono::seconds> retry_after,
                                                     retry_policy const& policy, double u) {
    if (next_attempt > policy.max_attempts || next_attempt < 2) return std::nullopt;
    if (retry_after) {
        if (*retry_after > policy.max_retry_after) return std::nullopt;
        return std::chrono::duration_cast<std::chrono::milliseconds>(*retry_after);
    }
    double const cap = double(policy.max_backoff.count());
    double base = double(policy.initial_backoff.count());
    for (int i = 2; i < next_attempt && base < cap; ++i) base *= 2;
    base = std::min(base, cap);
    double const d = base * (1.0 - policy.jitter + 2.0 * policy.jitter * u);
    return std::chrono::milliseconds{std::int64_t(std::clamp(d, 0.0, cap))};
}

}  // namespace vigil::push
