#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil {

// A new alert id: a UUIDv7 (RFC 9562), so ids sort by creation time and are
// unique across nodes without coordination. Thread-safe.
std::string new_alert_id();

// Whether `id` has the shape of an alert id: a UUID, 8-4-4-4-12 lowercase hex
// digits (the history cursor `before` must be one).
bool is_alert_id(std::string_view id);

// A random id for a connection, for logs and tracing (16 hex digits).
std::string new_connection_id();

// A uniformly random number below `bound` (> 0), from a per-thread generator.
std::uint64_t random_below(std::uint64_t bound);

}  // namespace vigil
