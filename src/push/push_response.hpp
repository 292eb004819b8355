#pragma once
// What a push service's answer means, and when to ask again. Pure.
//
//   2xx (201 Created, 202 Accepted)  delivered to the push service
//   404, 410                         the subscription is gone: forget it
//   429, 5xx, no answer at all       try again: after Retry-After when given,
//                                    else exponential backoff with jitter, bounded
//   any other status                 failed; not retried (400 malformed,
//                                    401/403 VAPID refused, 413 too large...)
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace vigil::push {

enum class answer_class { delivered, gone, retry, failed };

answer_class classify_status(int status) noexcept;

// Retry-After (RFC 9110 section 10.2.3): delay-seconds, or an HTTP-date in
// any of its three forms, taken relative to `now_seconds` (Unix time; a date
// in the past is 0). Nothing when absent or unreadable.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::int64_t now_seconds);

struct retry_policy {
    int max_attempts = 5;  // including the first; 1 never retries
    std::chrono::milliseconds initial_backoff{1000};
    std::chrono::milliseconds max_backoff{60'000};
    double jitter = 0.5;  // each backoff is drawn in [base*(1-j), base*(1+j)], then capped at max_backoff
    // A Retry-After longer than this gives the push up rather than hold it
    // (an alert pushed an hour late helps nobody; it waits in the store).
    std::chrono::seconds max_retry_after{600};
};

// The wait before attempt `next_attempt` (2 for the first retry), or
// nothing when the policy says to give up: attempts exhausted, or the
// server's Retry-After beyond max_retry_after. `u` is uniform in [0, 1).
std::optional<std::chrono::milliseconds> retry_delay(int next_attempt, std::optional<std::chrono::seconds> retry_after,
                                                     retry_policy const& policy, double u);

}  // namespace vigil::push
