#pragma once
#include <string>

namespace vigil {

// A new alert id: a UUIDv7 (RFC 9562), so ids sort by creation time and are
// unique across nodes without coordination. Thread-safe.
std::string new_alert_id();

// A random id for a connection, for logs and tracing (16 hex digits).
std::string new_connection_id();

}  // namespace vigil
