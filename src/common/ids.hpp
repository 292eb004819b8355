#pragma once
#include <cstdint>
#include <string>

namespace vigil {

// A new alert id: a UUIDv7 (RFC 9562), so ids sort by creation time and are
// unique across nodes without coordination. Thread-safe.
std::string new_alert_id();

// An alert id whose time is `ms` (ms since 1970, clamped to 0..2^48-1) rather
// than the clock's: for an engine whose partitions and retention follow the
// creation time it is given (store/postgres_alert_store.hpp). Ids made by one
// thread for the same or a growing `ms` sort in the order made; when more than
// the 12-bit counter allows share one ms, the id's time moves to the next ms
// (never earlier than `ms`). Thread-safe.
std::string new_alert_id(std::int64_t ms);

// A random id for a connection, for logs and tracing (16 hex digits).
std::string new_connection_id();

// A new stream epoch (alert_store::epoch): 16 hex digits from the operating
// system's randomness, so that two stores never draw the same one.
std::string new_epoch();

// A uniformly random number below `bound` (> 0), from a per-thread generator.
std::uint64_t random_below(std::uint64_t bound);

}  // namespace vigil
