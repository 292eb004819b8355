#include "common/log.hpp"

#include "common/clock.hpp"

#include <boost/url/parse.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>

namespace vigil::log {

namespace {

std::atomic<level> threshold{level::info};
// spdlog carries the lines (sinks, thread safety); the JSON shape is ours.
spdlog::logger& sink() {
    static auto const logger = [] {
        auto l = spdlog::stderr_logger_mt("vigil");
        l->set_pattern("%v");
        l->set_level(spdlog::level::trace);
        l->flush_on(spdlog::level::trace);
        return l;
    }();
    return *logger;
}

void append_escaped(std::string& out, std::string_view s) {
    out.push_back('"');
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out.push_back(static_cast<char>(c));
                }
        }
    }
    out.push_back('"');
}

constexpr std::string_view names[] = {"debug", "info", "warn", "error", "off"};

}  // namespace

void set_level(level l) { threshold.store(l, std::memory_order_relaxed); }

std::optional<level> parse_level(std::string_view name) {
    for (int i = 0; i < 5; ++i)
        if (names[i] == name) return static_cast<level>(i);
    return std::nullopt;
}

bool enabled(level l) { return l >= threshold.load(std::memory_order_relaxed) && l != level::off; }

void write(level l, std::string_view event, std::initializer_list<field> fields) {
    std::string line;
    line.reserve(128);
    line += "{\"ts\":\"";
    line += iso8601(now_ms());
    line += "\",\"level\":\"";
    line += names[static_cast<int>(l)];
    line += "\",\"event\":";
    append_escaped(line, event);
    for (auto const& f : fields) {
        line.push_back(',');
        append_escaped(line, f.key);
        line.push_back(':');
        std::visit(
            [&](auto const& v) {
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, std::string_view>)
                    append_escaped(line, v);
                else if constexpr (std::is_same_v<T, bool>)
                    line += v ? "true" : "false";
                else
                    line += std::to_string(v);
            },
            f.value);
    }
    line.push_back('}');
    sink().log(spdlog::level::info, line);
}

bool is_credential_parameter(std::string_view decoded_key) {
    return decoded_key == "token" || decoded_key == "ticket" || decoded_key == "api_key" ||
           decoded_key == "access_token";
}

std::string redact_target(std::string_view target) {
    auto const q = target.find('?');
    if (q == std::string_view::npos) return std::string{target};
    // Keys are compared decoded, as the API reads them: "%74oken=" is a token too.
    auto const url = boost::urls::parse_origin_form(target);
    if (!url) return std::string{target.substr(0, q)} + "?REDACTED";
    std::string out{target.substr(0, q + 1)};
    bool first = true;
    for (auto const& p : url->encoded_params()) {
        if (!first) out.push_back('&');
        first = false;
        out += std::string_view{p.key};
        if (!p.has_value) continue;
        out.push_back('=');
        if (is_credential_parameter(p.key.decode()))
            out += "REDACTED";
        else
            out += std::string_view{p.value};
    }
    return out;
}

}  // namespace vigil::log
