#pragma once
// One Web Push request (RFC 8030 section 5): a POST to the subscription's
// endpoint whose body is the payload encrypted for that subscription (RFC
// 8291), signed for with VAPID (RFC 8292). Building it is pure, apart from
// the fresh key and salt of the encryption; sending it is push_sender's.
#include "push/ece.hpp"
#include "push/endpoint.hpp"
#include "push/subscription.hpp"
#include "push/vapid.hpp"

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace vigil::push {

// RFC 8030 section 5.3: what the push service may trade against the
// device's battery. vigil maps severity onto it (critical -> high).
enum class urgency { very_low, low, normal, high };
std::string_view to_string(urgency u) noexcept;

// How long a push service keeps a message for an unreachable device; 28
// days is the longest the major services keep one.
inline constexpr std::int64_t max_push_ttl_seconds = 28 * 24 * 3600;
// RFC 8030 section 5.4: a topic is at most 32 characters of the base64url alphabet.
inline constexpr std::size_t max_topic_size = 32;

struct push_message {
    std::string payload;  // plaintext, at most ece_max_plaintext_size bytes (SPEC: JSON)
    std::int64_t ttl_seconds = 24 * 3600;
    urgency priority = urgency::normal;
    std::string topic;  // empty: none. A newer message with the same topic replaces an undelivered one
};

// 1 to 32 characters of [A-Za-z0-9_-].
bool valid_topic(std::string_view topic) noexcept;

// A topic for any key (an alert id, a group key such as stream and detection
// type): the base64url of the first 24 bytes of its SHA-256, 32 characters.
// The same key gives the same topic, so a newer push replaces an older one
// still waiting at the push service; the push service sees the topic, so it
// is opaque there (though not secret: a guessed key can be checked).
std::string topic_for(std::string_view key);

// SPEC section 7's severities onto RFC 8030 urgencies: critical -> high (it
// may wake a device on low battery), high and medium (the default, and any
// unknown name) -> normal, low -> low.
urgency urgency_for_severity(std::string_view severity) noexcept;

enum class push_error {
    bad_endpoint = 1,  /// the endpoint is not one parse_endpoint() accepts under the sender's policy
    bad_topic,         /// not 1-32 characters of the base64url alphabet
    bad_ttl,           /// negative, or over max_push_ttl_seconds
    bad_subject,       /// the VAPID subject is not a mailto: or https: contact
};

boost::system::error_category const& push_category() noexcept;

inline boost::system::error_code make_error_code(push_error e) noexcept {
    return {static_cast<int>(e), push_category()};
}

struct push_request {
    push_endpoint endpoint;
    // TTL, Urgency, Topic (when set), Content-Encoding: aes128gcm,
    // Content-Type: application/octet-stream, Authorization: vapid t=…, k=….
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    // The value of header `name` (case-insensitive), empty when absent.
    std::string_view header(std::string_view name) const noexcept;
};

struct push_signer {
    vapid_key const& key;
    std::string_view subject;      // VAPID `sub`
    std::int64_t now_seconds = 0;  // the JWT's `exp` counts from here
    bool allow_insecure_loopback = false;
};

// The request that delivers `message` to `subscription`. Errors: push_error,
// or ece_error for a payload too large or subscription keys that do not
// work. `fixed` fixes the encryption's salt and key (tests only).
boost::system::result<push_request> build_push_request(push_subscription const& subscription,
                                                       push_message const& message, push_signer const& signer,
                                                       ece_fixed_inputs const& fixed = {});

}  // namespace vigil::push

template <>
struct boost::system::is_error_code_enum<vigil::push::push_error> : std::true_type {};
