#include "net/http_types.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>
#include <ctime>

namespace vigil::net {

namespace json = boost::json;

namespace {

// RFC 9110 §6.6.1: an origin server with a clock sends Date, in IMF-fixdate.
// Clients read clock skew from it (`vigil doctor`). Formatted once a second
// per thread.
std::string const& http_date_now() {
    thread_local std::time_t cached_second = -1;
    thread_local std::string cached;
    std::time_t const now = std::time(nullptr);
    if (now != cached_second) {
        std::tm tm{};
        gmtime_r(&now, &tm);
        static constexpr char const* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static constexpr char const* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        char buf[32];
        std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                      months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached = buf;
        cached_second = now;
    }
    return cached;
}

}  // namespace

void set_common_fields(http_response& res) {
    res.set(http::field::server, "vigil");
    res.set(http::field::date, http_date_now());
}

http_response json_response(http::status status, std::string body, http_request const& req) {
    http_response res{status, req.version()};
    set_common_fields(res);
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

std::string to_wire(http_response const& res) {
    std::string_view const version = res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    auto const status = std::to_string(res.result_int());
    auto const reason = res.reason();
    // Status line, "name: value\r\n" per field, a blank line, the body.
    std::size_t size = version.size() + status.size() + 1 + reason.size() + 2 + 2 + res.body().size();
    for (auto const& f : res) size += f.name_string().size() + 2 + f.value().size() + 2;
    std::string out;
    out.reserve(size);
    out += version;
    out += status;
    out += ' ';
    out += reason;
    out += "\r\n";
    for (auto const& f : res) {
        out += f.name_string();
        out += ": ";
        out += f.value();
        out += "\r\n";
    }
    out += "\r\n";
    out += res.body();
    return out;
}

http_response json_error(http::status status, std::string_view code, std::string_view detail, http_request const& req) {
    json::object o;
    o["error"] = code;
    o["detail"] = detail;
    return json_response(status, json::serialize(o), req);
}

http_request reply_head(http_request const& req) {
    http_request head{req.method(), req.target(), req.version()};
    head.keep_alive(req.keep_alive());
    return head;
}

http_response refusal_response(refusal const& r, http_request const& req) {
    json::object o;
    o["error"] = r.code;
    o["detail"] = r.detail;
    if (r.index) o["index"] = *r.index;
    auto res = json_response(static_cast<http::status>(r.status), json::serialize(o), req);
    if (r.status == 503) res.set(http::field::retry_after, "1");
    return res;
}

http_response method_not_allowed(http_request const& req, std::string_view allow) {
    auto res = json_error(http::status::method_not_allowed, "method_not_allowed",
                          "this resource allows " + std::string{allow}, req);
    res.set(http::field::allow, allow);
    return res;
}

http_response no_content(http_request const& req) {
    http_response res{http::status::no_content, req.version()};
    set_common_fields(res);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

}  // namespace vigil::net
