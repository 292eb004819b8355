// POST /api/v1/push/subscriptions bodies: JSON, endpoint URLs, base64url keys.
// The first byte's low bit picks the insecure-loopback policy.
#include "common/base64.hpp"
#include "push/subscription.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view const in{reinterpret_cast<char const*>(data), size};
    bool const insecure = size > 0 && (data[0] & 1) != 0;
    auto const r = vigil::push::parse_subscription(in, insecure);
    if (auto const* s = r ? &*r : nullptr) {
        if (s->p256dh.size() != 65 || s->p256dh[0] != 0x04 || s->auth.size() != 16) __builtin_trap();
        // What was accepted, the sender can connect to: the same policy accepts it again.
        auto const e = vigil::push::parse_endpoint(s->endpoint, insecure);
        auto const* endpoint = e ? &*e : nullptr;
        if (!endpoint || endpoint->target.empty() || endpoint->target[0] != '/') __builtin_trap();
        if (!endpoint->tls && !insecure) __builtin_trap();
        auto const scheme_end = endpoint->origin.find("://");
        if (scheme_end == std::string::npos ||
            endpoint->origin.find_first_of("\r\n /?#@", scheme_end + 3) != std::string::npos)
            __builtin_trap();
    } else if (r.error().detail.empty()) {
        __builtin_trap();
    }
    // Base64url: what decodes re-encodes to the same text, padding aside.
    if (auto const bytes = vigil::base64url_decode(in)) {
        std::string_view text = in;
        while (!text.empty() && text.back() == '=') text.remove_suffix(1);
        if (vigil::base64url_encode(*bytes) != text) __builtin_trap();
    }
    return 0;
}
