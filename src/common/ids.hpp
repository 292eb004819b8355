#pragma once
#include <cstdint>
#include <string>

namespace vigil {

// A new alert id: a UUIDv7 (RFC 9562), so ids sort by creation time and are
// unique across nodes without coordination. Thread-safe.
std::string new_alert_id();

// A random id for a connection, for logs and tracing (16 hex digits).
std::string new_connection_id();

// A new stream epoch (alert_store::epoch): 16 hex digits from the operating
// system's randomness, so that two stores never draw the same one.
std::string new_epoch();

// A uniformly random number below `bound` (> 0), from a per-thread generator.
std::uint64_t random_below(std::uint64_t bound);

}  // namespace vigil
