#include "net/push_routes.hpp"

#include "alerts/alert_validation.hpp"
#include "alerts/push_dispatcher.hpp"
#include "common/clock.hpp"
#include "net/json_body.hpp"
#include "net/request_auth.hpp"
#include "net/request_log.hpp"
#include "net/store_work.hpp"
#include "push/subscription.hpp"

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <charconv>

namespace vigil::net {

namespace json = boost::json;

namespace {

// Snooze and quiet-hours bodies are a few dozen bytes.
constexpr std::size_t max_settings_body = 4096;
constexpr std::int64_t max_snooze_minutes = 1440;
// A user's devices: a new one beyond this many replaces the oldest.
constexpr std::size_t max_subscriptions_per_user = 32;
// Snoozes in force per user: enough for every camera of a large site.
constexpr std::size_t max_snoozes_per_user = 1000;

// The caller's user, or the answer refusing them: push settings belong to a
// user, which an API key is not.
std::optional<std::string> caller(server_context& ctx, http_request const& req, responder& respond) {
    auto const who = authenticate(ctx, req);
    if (!who) {
        respond(auth_failure(auth::auth_error(who.error().value()), req));
        return std::nullopt;
    }
    if (who->api_key) {
        respond(json_error(http::status::forbidden, "forbidden",
                           "push settings belong to a user: use that user's token, not an API key", req));
        return std::nullopt;
    }
    return who->subject;
}

std::string two_digits(int n) { return {char('0' + n / 10), char('0' + n % 10)}; }
std::string hh_mm(int minutes) { return two_digits(minutes / 60) + ":" + two_digits(minutes % 60); }

// "HH:MM", 00:00 to 23:59.
std::optional<int> parse_hh_mm(json::value const* v) {
    if (!v || !v->is_string()) return std::nullopt;
    auto const s = std::string_view{v->get_string()};
    auto digit = [&](std::size_t i) { return s[i] >= '0' && s[i] <= '9'; };
    if (s.size() != 5 || s[2] != ':' || !digit(0) || !digit(1) || !digit(3) || !digit(4)) return std::nullopt;
    int const h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23 || m > 59) return std::nullopt;
    return h * 60 + m;
}

constexpr std::array<std::string_view, 3> quiet_severities = {"low", "medium", "high"};

json::object quiet_hours_json(quiet_hours const& q) {
    json::array severities;
    for (auto s : quiet_severities)
        if (q.severities & quiet_severity_bit(s)) severities.emplace_back(s);
    return {{"start", hh_mm(q.start_minute)},
            {"end", hh_mm(q.end_minute)},
            {"utc_offset_minutes", q.utc_offset_minutes},
            {"severities", std::move(severities)}};
}

// The body of PUT /api/v1/push/quiet-hours, or why not.
or_refusal<quiet_hours> parse_quiet_hours(json::object const& o) {
    auto const invalid = [](char const* detail) { return refusal{400, "invalid_quiet_hours", detail}; };
    quiet_hours q;
    auto const start = parse_hh_mm(o.if_contains("start"));
    auto const end = parse_hh_mm(o.if_contains("end"));
    if (!start || !end) return invalid("start and end must be HH:MM (24 h)");
    if (*start == *end) return invalid("start and end must differ (end before start spans midnight)");
    q.start_minute = *start;
    q.end_minute = *end;
    if (auto const* off = o.if_contains("utc_offset_minutes"); off && !off->is_null()) {
        auto const n = off->if_int64();
        if (!n || *n < -840 || *n > 840) return invalid("utc_offset_minutes must be an integer, -840 to 840");
        q.utc_offset_minutes = static_cast<int>(*n);
    }
    auto const* sev = o.if_contains("severities");
    if (!sev || sev->is_null()) {
        for (auto s : quiet_severities) q.severities |= quiet_severity_bit(s);
        return q;
    }
    if (!sev->is_array() || sev->get_array().empty())
        return invalid("severities must be a non-empty list of low, medium, high");
    for (auto const& s : sev->get_array()) {
        if (s.is_string() && s.get_string() == "critical")
            return invalid("critical alerts are never held back: leave critical out of severities");
        auto const bit = s.is_string() ? quiet_severity_bit(s.get_string()) : 0u;
        if (!bit) return invalid("severities must be a non-empty list of low, medium, high");
        q.severities |= bit;
    }
    return q;
}

// ---------------------------------------------------------------- handlers

void vapid_public_key(server_context& ctx, http_request const& req, responder& respond) {
    if (!ctx.push) return respond(json_error(http::status::not_found, "push_disabled", "Web Push is off here", req));
    json::object o{{"public_key", ctx.push->public_key()}};
    auto res = json_response(http::status::ok, json::serialize(o), req);
    res.set(http::field::cache_control, "no-cache");
    respond(std::move(res));
}

void subscribe(server_context& ctx, http_request const& req, std::string user, responder& respond) {
    auto parsed = push::parse_subscription(req.body(), ctx.config.push.allow_insecure_endpoints);
    if (!parsed) return respond(refusal_response(parsed.error(), req));
    auto const& s = *parsed;
    push_subscription_record record{s.endpoint, std::move(user), s.p256dh, s.auth, now_ms()};
    on_store_threads(ctx, req, std::move(respond), [&ctx, record = std::move(record)](http_request const& head) {
        auto& state = ctx.push->state();
        bool const created = state.save_subscription(record);
        if (created) {
            // Every subscription is up to 8 KiB of the store: a user gets a bounded number.
            auto const mine = state.subscriptions(record.user_id);
            for (std::size_t i = 0; i + max_subscriptions_per_user < mine.size(); ++i)
                if (mine[i].endpoint != record.endpoint) state.delete_subscription(record.user_id, mine[i].endpoint);
        }
        return json_response(created ? http::status::created : http::status::ok, R"({"subscribed":true})", head);
    });
}

void unsubscribe(server_context& ctx, http_request const& req, std::string user, responder& respond) {
    if (req.body().size() > push::max_subscription_body)
        return respond(json_error(http::status::payload_too_large, "payload_too_large",
                                  "the body is larger than " + std::to_string(push::max_subscription_body) + " bytes",
                                  req));
    boost::system::error_code ec;
    auto const v = json::parse(req.body(), ec);
    if (ec || !v.is_object())
        return respond(json_error(http::status::bad_request, "invalid_json", "the body must be a JSON object", req));
    auto const* endpoint = v.get_object().if_contains("endpoint");
    if (!endpoint || !endpoint->is_string() || endpoint->get_string().empty())
        return respond(json_error(http::status::bad_request, "invalid_subscription",
                                  "endpoint (the subscription's URL, a string) is required", req));
    on_store_threads(
        ctx, req, std::move(respond),
        [&ctx, user = std::move(user), endpoint = std::string{endpoint->get_string()}](http_request const& head) {
            if (!ctx.push->state().delete_subscription(user, endpoint))
                return json_error(http::status::not_found, "not_found", "no such subscription of yours", head);
            return no_content(head);
        });
}

void test_push(server_context& ctx, http_request const& req, std::string user, responder& respond) {
    on_store_threads(ctx, req, std::move(respond), [&ctx, user = std::move(user)](http_request const& head) {
        auto const n = ctx.push->send_test(user);
        if (n == 0)
            return json_error(http::status::not_found, "no_subscriptions", "no device of yours is subscribed", head);
        return json_response(http::status::accepted, json::serialize(json::object{{"subscriptions", n}}), head);
    });
}

void push_settings_route(server_context& ctx, http_request const& req, std::string user, responder& respond) {
    on_store_threads(ctx, req, std::move(respond), [&ctx, user = std::move(user)](http_request const& head) {
        auto& state = ctx.push->state();
        json::array snoozes;
        for (auto const& s : state.snoozes(user, now_ms()))
            snoozes.push_back(json::object{{"stream_id", s.stream_id}, {"until", s.until_ms}});
        json::object o;
        o["subscriptions"] = state.subscriptions(user).size();
        o["snoozes"] = std::move(snoozes);
        auto const q = state.get_quiet_hours(user);
        o["quiet_hours"] = q ? json::value(quiet_hours_json(*q)) : json::value(nullptr);
        return json_response(http::status::ok, json::serialize(o), head);
    });
}

void snooze(server_context& ctx, http_request const& req, std::string user, std::string const& stream_id,
            responder& respond) {
    if (stream_id.empty() || stream_id.size() > alert_limits{}.max_stream_id_bytes ||
        std::any_of(stream_id.begin(), stream_id.end(), [](char c) { return (unsigned char)c < 0x20 || c == 0x7f; }))
        return respond(json_error(http::status::bad_request, "invalid_stream_id",
                                  "stream_id must be 1-256 characters without control characters", req));
    if (req.method() == http::verb::delete_)
        return on_store_threads(ctx, req, std::move(respond),
                                [&ctx, user = std::move(user), stream_id](http_request const& head) {
                                    ctx.push->state().unsnooze(user, stream_id);
                                    return no_content(head);
                                });
    auto const body = json_object_body(req, max_settings_body);
    if (!body) return respond(refusal_response(body.error(), req));
    auto const* minutes = body->if_contains("minutes");
    auto const n = minutes ? minutes->if_int64() : nullptr;
    if (!n || *n < 1 || *n > max_snooze_minutes)
        return respond(json_error(http::status::bad_request, "invalid_snooze",
                                  "minutes must be an integer, 1 to " + std::to_string(max_snooze_minutes), req));
    auto const until = now_ms() + *n * 60'000;
    on_store_threads(
        ctx, req, std::move(respond), [&ctx, user = std::move(user), stream_id, until](http_request const& head) {
            auto& state = ctx.push->state();
            auto const now = now_ms();
            auto const current = state.snoozes(user, now);
            bool const known = std::any_of(current.begin(), current.end(),
                                           [&](stream_snooze const& s) { return s.stream_id == stream_id; });
            if (!known && current.size() >= max_snoozes_per_user)
                return json_error(http::status::bad_request, "invalid_snooze",
                                  "at most " + std::to_string(max_snoozes_per_user) + " streams may be snoozed at once",
                                  head);
            state.snooze(user, stream_id, until, now);
            return json_response(http::status::ok,
                                 json::serialize(json::object{{"stream_id", stream_id}, {"until", until}}), head);
        });
}

void quiet_hours_route(server_context& ctx, http_request const& req, std::string user, responder& respond) {
    auto const method = req.method();
    if (method == http::verb::get)
        return on_store_threads(ctx, req, std::move(respond), [&ctx, user = std::move(user)](http_request const& head) {
            auto const q = ctx.push->state().get_quiet_hours(user);
            if (!q) return json_error(http::status::not_found, "not_found", "no quiet hours are set", head);
            return json_response(http::status::ok, json::serialize(quiet_hours_json(*q)), head);
        });
    if (method == http::verb::delete_)
        return on_store_threads(ctx, req, std::move(respond), [&ctx, user = std::move(user)](http_request const& head) {
            ctx.push->state().clear_quiet_hours(user);
            return no_content(head);
        });
    auto const body = json_object_body(req, max_settings_body);
    if (!body) return respond(refusal_response(body.error(), req));
    auto parsed = parse_quiet_hours(*body);
    if (!parsed) return respond(refusal_response(parsed.error(), req));
    on_store_threads(ctx, req, std::move(respond),
                     [&ctx, user = std::move(user), q = *parsed](http_request const& head) {
                         ctx.push->state().set_quiet_hours(user, q);
                         return json_response(http::status::ok, json::serialize(quiet_hours_json(q)), head);
                     });
}

}  // namespace

bool handle_push_request(server_context& ctx, http_request& req, request_target const& t, responder& respond) {
    auto const method = req.method();
    bool const get = method == http::verb::get, post = method == http::verb::post, del = method == http::verb::delete_,
               put = method == http::verb::put;

    if (is_path(t, {"api", "v1", "push", "vapid-public-key"})) {
        note_route(route::push_vapid_key);
        if (!get)
            respond(method_not_allowed(req, "GET"));
        else
            vapid_public_key(ctx, req, respond);
        return true;
    }

    // The rest act for the caller's user.
    std::string_view allow;
    route matched = route::unmatched;
    if (is_path(t, {"api", "v1", "push", "subscriptions"}))
        matched = route::push_subscriptions, allow = "POST, DELETE";
    else if (is_path(t, {"api", "v1", "push", "test"}))
        matched = route::push_test, allow = "POST";
    else if (is_path(t, {"api", "v1", "push", "settings"}))
        matched = route::push_settings, allow = "GET";
    else if (is_path(t, {"api", "v1", "push", "quiet-hours"}))
        matched = route::push_quiet_hours, allow = "GET, PUT, DELETE";
    else if (is_path(t, {"api", "v1", "streams", "", "snooze"}))
        matched = route::stream_snooze, allow = "POST, DELETE";
    else
        return false;
    note_route(matched);

    bool const allowed = matched == route::push_subscriptions ? post || del
                         : matched == route::push_test        ? post
                         : matched == route::push_settings    ? get
                         : matched == route::push_quiet_hours ? get || put || del
                                                              : post || del;
    if (!allowed) {
        respond(method_not_allowed(req, allow));
        return true;
    }
    if (!ctx.push) {
        respond(json_error(http::status::not_found, "push_disabled", "Web Push is off here", req));
        return true;
    }
    auto user = caller(ctx, req, respond);
    if (!user) return true;
    switch (matched) {
        case route::push_subscriptions:
            if (post)
                subscribe(ctx, req, std::move(*user), respond);
            else
                unsubscribe(ctx, req, std::move(*user), respond);
            break;
        case route::push_test: test_push(ctx, req, std::move(*user), respond); break;
        case route::push_settings: push_settings_route(ctx, req, std::move(*user), respond); break;
        case route::push_quiet_hours: quiet_hours_route(ctx, req, std::move(*user), respond); break;
        default: snooze(ctx, req, std::move(*user), t.path[3], respond); break;
    }
    return true;
}

}  // namespace vigil::net
