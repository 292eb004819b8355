#pragma once
// A push subscription's endpoint URL, parsed once for the two things vigil
// does with it: connect to it, and name its origin as the VAPID audience.
// The endpoint is a capability (whoever knows it can push to that browser),
// so nothing here echoes it in an error, and callers log only the origin.
#include "common/refusal.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::push {

inline constexpr std::size_t max_endpoint_size = 2048;

struct push_endpoint {
    bool tls = true;   // https://; http:// only to loopback, when allowed
    std::string host;  // lowercase name or IP address, without IPv6 brackets
    bool host_is_ip = false;
    std::uint16_t port = 443;
    std::string target;  // path and query, at least "/"
    std::string origin;  // scheme://host[:port], lowercase, default port left out
};

// Accepts an absolute https:// URL with a host (a DNS name or an IP address),
// an optional port, no user information and no fragment, at most
// max_endpoint_size bytes. With `allow_insecure_loopback`, also http:// to a
// loopback address (127.0.0.0/8 or [::1], not a name). Otherwise a refusal,
// in words that do not repeat the URL: `insecure_endpoint` for a plain
// http:// one that is not allowed, `invalid_subscription` for the rest.
or_refusal<push_endpoint> parse_endpoint(std::string_view url, bool allow_insecure_loopback);

// The same rules for a URL an administrator configured (a webhook), which
// may also be plain http:// to any host. Refusals say "the URL".
or_refusal<push_endpoint> parse_configured_url(std::string_view url);

}  // namespace vigil::push
