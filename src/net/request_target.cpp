#include "net/request_target.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>

namespace vigil::net {

std::optional<std::string> request_target::param(std::string_view key) const {
    for (auto const& [k, v] : query)
        if (k == key) return v;
    return std::nullopt;
}

std::optional<request_target> parse_request_target(std::string_view raw) {
    auto const url = boost::urls::parse_origin_form(raw);
    if (!url) return std::nullopt;
    request_target t;
    for (auto const& seg : url->segments()) {
        if (t.path.size() >= 8) return std::nullopt;
        t.path.push_back(seg);
    }
    for (auto const& p : url->params()) {
        if (t.query.size() >= 32) return std::nullopt;
        t.query.emplace_back(p.key, p.value);
    }
    return t;
}

bool is_path(request_target const& t, std::initializer_list<std::string_view> expected) {
    if (t.path.size() != expected.size()) return false;
    std::size_t i = 0;
    for (auto e : expected) {
        if (!e.empty() && t.path[i] != e) return false;  // "" matches any one segment
        ++i;
    }
    return true;
}

std::optional<std::uint64_t> parse_uint(std::string_view s) {
    std::uint64_t v = 0;
    auto const [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

bool valid_websocket_key(std::string_view key) {
    if (key.size() != 24 || key.substr(22) != "==") return false;
    return std::all_of(key.begin(), key.begin() + 22, [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    });
}

}  // namespace vigil::net
