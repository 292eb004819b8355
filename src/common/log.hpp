#pragma once
// Structured logging: one JSON object per line on stderr,
//   {"ts":"...","level":"info","event":"ws.open","user_id":"u1","conn":"..."}
// Events are dotted names; fields are flat key/values. Never pass a token here:
// use redact_target() for request targets, which may carry ?token=.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace vigil::log {

enum class level { debug, info, warn, error, off };

struct field {
    std::string_view key;
    std::variant<std::string_view, std::int64_t, double, bool> value;

    field(std::string_view k, std::string_view v) : key(k), value(v) {}
    field(std::string_view k, std::string const& v) : key(k), value(std::string_view{v}) {}
    field(std::string_view k, char const* v) : key(k), value(std::string_view{v}) {}
    field(std::string_view k, bool v) : key(k), value(v) {}
    field(std::string_view k, double v) : key(k), value(v) {}
    template <class I>
    requires std::is_integral_v<I> field(std::string_view k, I v) : key(k), value(static_cast<std::int64_t>(v)) {}
};

// Sets the threshold; "debug", "info", "warn", "error" or "off". Thread-safe.
void set_level(level l);
std::optional<level> parse_level(std::string_view name);
bool enabled(level l);

void write(level l, std::string_view event, std::initializer_list<field> fields);

inline void debug(std::string_view e, std::initializer_list<field> f = {}) {
    if (enabled(level::debug)) write(level::debug, e, f);
}
inline void info(std::string_view e, std::initializer_list<field> f = {}) {
    if (enabled(level::info)) write(level::info, e, f);
}
inline void warn(std::string_view e, std::initializer_list<field> f = {}) {
    if (enabled(level::warn)) write(level::warn, e, f);
}
inline void error(std::string_view e, std::initializer_list<field> f = {}) {
    if (enabled(level::error)) write(level::error, e, f);
}

// A request target with the values of credential-bearing query parameters
// (token, ticket, api_key, access_token; keys compared percent-decoded)
// replaced by "REDACTED". An unparseable query is redacted whole.
std::string redact_target(std::string_view target);
bool is_credential_parameter(std::string_view decoded_key);

}  // namespace vigil::log
