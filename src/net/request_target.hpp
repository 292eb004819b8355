#pragma once
// Request targets as the API reads them: percent-decoded path segments and
// query parameters, bounded in count. Pure (Boost.URL); fuzzed in fuzz/.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::net {

struct request_target {
    std::vector<std::string> path;  // segments
    std::vector<std::pair<std::string, std::string>> query;

    std::optional<std::string> param(std::string_view key) const;
};

// Nothing when the target is not origin-form, or has more than 8 segments or
// 32 parameters.
std::optional<request_target> parse_request_target(std::string_view raw);

// Whether the path is exactly `expected`, segment by segment; an empty
// expected segment matches any one segment ({"ws", "alerts", ""}).
bool is_path(request_target const& t, std::initializer_list<std::string_view> expected);

// A decimal number that fits in 64 bits, nothing else.
std::optional<std::uint64_t> parse_uint(std::string_view s);

// RFC 6455 4.2.1 (5): base64 of 16 bytes, i.e. 22 alphabet characters and "==".
bool valid_websocket_key(std::string_view key);

}  // namespace vigil::net
