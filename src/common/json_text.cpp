#include "common/json_text.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>

namespace vigil::json_text {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view t, std::size_t i) {
    while (i < t.size() && is_space(t[i])) ++i;
    return i;
}

// `i` is at an opening quote; returns the index just past the closing one.
std::size_t skip_string(std::string_view t, std::size_t i) {
    for (++i; i < t.size(); ++i) {
        if (t[i] == '\\')
            ++i;
        else if (t[i] == '"')
            return i + 1;
    }
    return t.size();
}

// `i` is at the first character of a value; returns the index just past it.
std::size_t skip_value(std::string_view t, std::size_t i) {
    if (i >= t.size()) return t.size();
    if (t[i] == '"') return skip_string(t, i);
    if (t[i] == '{' || t[i] == '[') {
        int depth = 0;
        while (i < t.size()) {
            char const c = t[i];
            if (c == '"') {
                i = skip_string(t, i);
                continue;
            }
            if (c == '{' || c == '[') ++depth;
            if (c == '}' || c == ']') {
                if (--depth == 0) return i + 1;
            }
            ++i;
        }
        return t.size();
    }
    // A number, true, false or null: up to the next delimiter.
    while (i < t.size() && !is_space(t[i]) && t[i] != ',' && t[i] != '}' && t[i] != ']') ++i;
    return i;
}

bool key_equals(std::string_view quoted_key, std::string_view key) {
    auto const inner = quoted_key.substr(1, quoted_key.size() - 2);
    if (inner.find('\\') == std::string_view::npos) return inner == key;
    boost::system::error_code ec;
    auto const decoded = boost::json::parse(quoted_key, ec);
    return !ec && decoded.is_string() && decoded.get_string() == key;
}

// Calls f(index after the value) for each value of a container whose opening
// bracket is at `i`; member texts start at `key` for objects.
template <class F>
void for_each_item(std::string_view t, char open, F&& f) {
    std::size_t i = skip_space(t, 0);
    if (i >= t.size() || t[i] != open) return;
    char const close = open == '{' ? '}' : ']';
    i = skip_space(t, i + 1);
    while (i < t.size() && t[i] != close) {
        std::string_view key;
        if (open == '{') {
            auto const key_end = skip_string(t, i);
            key = t.substr(i, key_end - i);
            i = skip_space(t, key_end);
            if (i >= t.size() || t[i] != ':') return;
            i = skip_space(t, i + 1);
        }
        auto const value_end = skip_value(t, i);
        f(key, t.substr(i, value_end - i));
        i = skip_space(t, value_end);
        if (i < t.size() && t[i] == ',') i = skip_space(t, i + 1);
    }
}

void write(std::string& out, boost::json::value const& v) {
    switch (v.kind()) {
        case boost::json::kind::object: {
            out.push_back('{');
            bool first = true;
            for (auto const& [k, item] : v.get_object()) {
                if (!first) out.push_back(',');
                first = false;
                out += boost::json::serialize(boost::json::string_view{k});
                out.push_back(':');
                write(out, item);
            }
            out.push_back('}');
            return;
        }
        case boost::json::kind::array: {
            out.push_back('[');
            bool first = true;
            for (auto const& item : v.get_array()) {
                if (!first) out.push_back(',');
                first = false;
                write(out, item);
            }
            out.push_back(']');
            return;
        }
        case boost::json::kind::double_: {
            double const d = v.get_double();
            char buf[32];
            if (std::isfinite(d)) {
                auto const r = std::to_chars(buf, buf + sizeof buf, d);
                out.append(buf, r.ptr);
                return;
            }
            break;  // Boost.JSON's spelling for what JSON cannot say
        }
        default: break;
    }
    out += boost::json::serialize(v);
}

}  // namespace

std::optional<std::string_view> member(std::string_view object_text, std::string_view key) {
    std::optional<std::string_view> found;
    for_each_item(object_text, '{', [&](std::string_view k, std::string_view value) {
        if (key_equals(k, key)) found = value;
    });
    return found;
}

std::vector<std::string_view> elements(std::string_view array_text) {
    std::vector<std::string_view> out;
    for_each_item(array_text, '[', [&](std::string_view, std::string_view value) { out.push_back(value); });
    return out;
}

std::string compact(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        char const c = text[i];
        if (c == '"') {
            auto const end = skip_string(text, i);
            out.append(text.substr(i, end - i));
            i = end;
        } else {
            if (!is_space(c)) out.push_back(c);
            ++i;
        }
    }
    return out;
}

std::string serialize(boost::json::value const& v) {
    std::string out;
    write(out, v);
    return out;
}

}  // namespace vigil::json_text
