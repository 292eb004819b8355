#pragma once
// A browser's push subscription, as `PushSubscription.toJSON()` gives it:
//   {"endpoint":"https://…","expirationTime":null,"keys":{"p256dh":"<base64url>","auth":"<base64url>"}}
// Pure; every refusal has an HTTP status, a stable code and a detail that
// never repeats the endpoint (a capability URL).
#include "common/refusal.hpp"
#include "push/endpoint.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::push {

// Far above what browsers send (~250-500 bytes); the endpoint alone is at most 2 KiB.
inline constexpr std::size_t max_subscription_body = 8 * 1024;

struct push_subscription {
    std::string endpoint;  // as given; parse_endpoint() accepts it under the policy it was parsed with
    std::string p256dh;    // 65 bytes: the browser's uncompressed P-256 point, checked on the curve
    std::string auth;      // 16 bytes: the browser's authentication secret
    std::optional<std::int64_t> expiration_time;  // milliseconds since 1970, when the browser gave one
};

// `endpoint` must pass parse_endpoint(…, allow_insecure_loopback) (an
// http:// endpoint it refuses is "insecure_endpoint"); `keys.p256dh` and
// `keys.auth` are base64url (padding tolerated) of a P-256 point and of 16
// bytes; `expirationTime` is absent, null or a non-negative number. Other
// members are ignored.
// Refusals: "payload_too_large" (413), "invalid_json", "invalid_subscription",
// "insecure_endpoint" (400).
or_refusal<push_subscription> parse_subscription(std::string_view body, bool allow_insecure_loopback);

}  // namespace vigil::push
