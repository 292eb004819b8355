#pragma once
// Wall-clock helpers. Times cross the wire as ISO-8601 UTC text and are kept
// internally as milliseconds since the Unix epoch.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil {

// Milliseconds since the Unix epoch (system clock).
std::int64_t now_ms();

// "2026-11-26T07:43:05.123Z"
std::string iso8601(std::int64_t epoch_ms);

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction][Z|+hh:mm|-hh:mm]" (a space may stand for
// the T; no offset means UTC). Returns epoch milliseconds, or nothing if malformed.
std::optional<std::int64_t> parse_iso8601(std::string_view text);

}  // namespace vigil
