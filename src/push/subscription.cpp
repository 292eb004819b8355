#include "push/subscription.hpp"

#include "common/base64.hpp"
#include "push/ece.hpp"
#include "push/p256_key.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include <cmath>

namespace vigil::push {

namespace {

// Base64url of 65 bytes is 87 characters (88 padded); room for nothing else.
constexpr std::size_t max_key_text = 128;

refusal invalid(std::string detail) { return {400, "invalid_subscription", std::move(detail)}; }

}  // namespace

or_refusal<push_subscription> parse_subscription(std::string_view body, bool allow_insecure_loopback) {
    if (body.size() > max_subscription_body)
        return refusal{413, "payload_too_large",
                       "a subscription is at most " + std::to_string(max_subscription_body) + " bytes"};
    // The tree lives only for this call; the body's size bounds its memory.
    unsigned char buffer[4096];
    boost::json::monotonic_resource memory{buffer, sizeof buffer};
    boost::system::error_code ec;
    boost::json::value const v = boost::json::parse(body, ec, &memory);
    if (ec) return refusal{400, "invalid_json", "the body is not JSON"};
    auto const* o = v.if_object();
    if (!o) return invalid("a subscription is a JSON object");

    push_subscription s;
    auto const* endpoint = o->if_contains("endpoint");
    if (!endpoint || !endpoint->is_string()) return invalid("endpoint must be a string");
    if (auto const parsed = parse_endpoint(endpoint->get_string(), allow_insecure_loopback); !parsed)
        return parsed.error();
    s.endpoint = endpoint->get_string();

    if (auto const* exp = o->if_contains("expirationTime"); exp && !exp->is_null()) {
        if (exp->is_int64() && exp->get_int64() >= 0)
            s.expiration_time = exp->get_int64();
        else if (exp->is_uint64() && exp->get_uint64() <= std::uint64_t(INT64_MAX))
            s.expiration_time = std::int64_t(exp->get_uint64());
        else if (exp->is_double() && std::isfinite(exp->get_double()) && exp->get_double() >= 0 &&
                 exp->get_double() < 9.2e18)
            s.expiration_time = std::int64_t(exp->get_double());
        else
            return invalid("expirationTime must be null or a non-negative number of milliseconds");
    }

    auto const* keys = o->if_contains("keys");
    if (!keys || !keys->is_object()) return invalid("keys must be an object with p256dh and auth");
    auto const* p256dh = keys->get_object().if_contains("p256dh");
    auto const* auth = keys->get_object().if_contains("auth");
    if (!p256dh || !p256dh->is_string() || !auth || !auth->is_string())
        return invalid("keys.p256dh and keys.auth must be strings");

    std::optional<std::string> point;
    if (p256dh->get_string().size() <= max_key_text) point = base64url_decode(p256dh->get_string());
    if (!point || point->size() != p256_point_size || !p256_key::from_public_point(*point))
        return invalid("keys.p256dh must be the base64url of a 65-byte uncompressed P-256 point");
    std::optional<std::string> secret;
    if (auth->get_string().size() <= max_key_text) secret = base64url_decode(auth->get_string());
    if (!secret || secret->size() != ece_auth_secret_size)
        return invalid("keys.auth must be the base64url of 16 bytes");
    s.p256dh = std::move(*point);
    s.auth = std::move(*secret);
    return s;
}

}  // namespace vigil::push
