#include "push/push_request.hpp"

#include "common/base64.hpp"

#include <boost/algorithm/string/predicate.hpp>

#include <openssl/evp.h>

#include <stdexcept>

namespace vigil::push {

namespace {

struct push_category_impl final : boost::system::error_category {
    char const* name() const noexcept override { return "vigil.push"; }
    std::string message(int ev) const override {
        switch (push_error(ev)) {
            case push_error::bad_endpoint: return "the subscription's endpoint is not allowed";
            case push_error::bad_topic: return "a Topic is 1 to 32 characters of the base64url alphabet";
            case push_error::bad_ttl: return "the TTL is negative or longer than 28 days";
            case push_error::bad_subject: return "the VAPID subject is not a mailto: or https: contact";
        }
        return "unknown push error";
    }
};

}  // namespace

boost::system::error_category const& push_category() noexcept {
    static push_category_impl const instance;
    return instance;
}

std::string_view to_string(urgency u) noexcept {
    switch (u) {
        case urgency::very_low: return "very-low";
        case urgency::low: return "low";
        case urgency::normal: return "normal";
        case urgency::high: return "high";
    }
    return "normal";
}

bool valid_topic(std::string_view topic) noexcept {
    if (topic.empty() || topic.size() > max_topic_size) return false;
    for (char c : topic) {
        bool const ok =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return false;
    }
    return true;
}

std::string topic_for(std::string_view key) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(key.data(), key.size(), digest, &size, EVP_sha256(), nullptr) != 1 || size < 24)
        throw std::runtime_error("OpenSSL could not hash a topic");
    return base64url_encode({reinterpret_cast<char const*>(digest), 24});
}

urgency urgency_for_severity(std::string_view severity) noexcept {
    if (severity == "critical") return urgency::high;
    if (severity == "low") return urgency::low;
    return urgency::normal;
}

std::string_view push_request::header(std::string_view name) const noexcept {
    for (auto const& [k, v] : headers)
        if (boost::algorithm::iequals(k, name)) return v;
    return {};
}

boost::system::result<push_request> build_push_request(push_subscription const& subscription,
                                                       push_message const& message, push_signer const& signer,
                                                       ece_fixed_inputs const& fixed) {
    if (!message.topic.empty() && !valid_topic(message.topic)) return push_error::bad_topic;
    if (message.ttl_seconds < 0 || message.ttl_seconds > max_push_ttl_seconds) return push_error::bad_ttl;
    if (!valid_vapid_subject(signer.subject)) return push_error::bad_subject;
    auto endpoint = parse_endpoint(subscription.endpoint, signer.allow_insecure_loopback);
    if (!endpoint) return push_error::bad_endpoint;
    auto* e = &*endpoint;

    auto body = ece_encrypt(message.payload, subscription.p256dh, subscription.auth, fixed);
    if (!body) return body.error();

    push_request r;
    r.headers = {
        {"TTL", std::to_string(message.ttl_seconds)},
        {"Urgency", std::string{to_string(message.priority)}},
        {"Content-Encoding", "aes128gcm"},
        {"Content-Type", "application/octet-stream"},
        // RFC 8292 section 2: the audience is the push resource's origin.
        {"Authorization", signer.key.authorization(e->origin, signer.subject, signer.now_seconds)},
    };
    if (!message.topic.empty()) r.headers.emplace_back("Topic", message.topic);
    r.endpoint = std::move(*e);
    r.body = std::move(*body);
    return r;
}

}  // namespace vigil::push
