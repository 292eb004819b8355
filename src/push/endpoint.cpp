#include "push/endpoint.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>

#include <cctype>

namespace vigil::push {

namespace {

refusal invalid(std::string detail) { return {400, "invalid_subscription", std::move(detail)}; }

enum class plain_http { refused, loopback, anywhere };

// `noun` names the URL in refusals ("the endpoint", "the URL").
or_refusal<push_endpoint> parse(std::string_view url, plain_http plain, std::string const& noun) {
    if (url.empty()) return invalid(noun + " is empty");
    if (url.size() > max_endpoint_size)
        return invalid(noun + " is longer than " + std::to_string(max_endpoint_size) + " bytes");
    auto const parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) return invalid(noun + " is not an absolute URL");
    auto const& u = *parsed;

    push_endpoint e;
    if (u.scheme_id() == boost::urls::scheme::https)
        e.tls = true;
    else if (u.scheme_id() == boost::urls::scheme::http)
        e.tls = false;
    else
        return invalid(
            noun + (plain == plain_http::anywhere ? " is not an http:// or https:// URL" : " is not an https:// URL"));
    if (!u.has_authority() || u.has_userinfo()) return invalid(noun + " has no host, or has user information");
    if (u.has_fragment()) return invalid(noun + " has a fragment");

    bool loopback = false;
    switch (u.host_type()) {
        case boost::urls::host_type::name: {
            auto const host = u.encoded_host();
            if (host.empty()) return invalid(noun + " has no host");
            // A DNS name, as push services have: letters, digits, '-', '_' and dots.
            for (char c : host) {
                if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
                    return invalid(noun + "'s host is not a DNS name");
                e.host.push_back(char(std::tolower(static_cast<unsigned char>(c))));
            }
            break;
        }
        case boost::urls::host_type::ipv4:
            e.host = u.host_ipv4_address().to_string();
            e.host_is_ip = true;
            loopback = u.host_ipv4_address().is_loopback();
            break;
        case boost::urls::host_type::ipv6:
            e.host = u.host_ipv6_address().to_string();
            e.host_is_ip = true;
            loopback = u.host_ipv6_address().is_loopback();
            break;
        default: return invalid(noun + " has no usable host");
    }
    if (!e.tls && plain != plain_http::anywhere && !(plain == plain_http::loopback && loopback))
        return refusal{400, "insecure_endpoint",
                       plain == plain_http::loopback ? "a plain http:// endpoint must be a loopback address"
                                                     : noun + " is not an https:// URL"};

    std::uint16_t const default_port = e.tls ? 443 : 80;
    e.port = default_port;
    if (u.has_port()) {
        // Read here: Boost.URL 1.81's port_number() wraps numbers past 65535.
        std::uint32_t port = 0;
        auto const digits = u.port();
        for (char c : digits) {
            if (c < '0' || c > '9' || port > 65535) break;
            port = port * 10 + std::uint32_t(c - '0');
        }
        if (digits.empty() || digits.size() > 5 || port == 0 || port > 65535 ||
            digits.find_first_not_of("0123456789") != std::string_view::npos)
            return invalid(noun + "'s port is not a number from 1 to 65535");
        e.port = std::uint16_t(port);
    }

    // Boost.URL 1.81 takes "http://[::1]x/y" as host [::1] and path "x/y".
    auto const path = u.encoded_path();
    if (!path.empty() && path.front() != '/') return invalid(noun + " has no path after its host");
    e.target = path.empty() ? std::string{"/"} : std::string{path};
    if (u.has_query()) e.target += "?" + std::string{u.encoded_query()};

    e.origin = e.tls ? "https://" : "http://";
    e.origin += u.host_type() == boost::urls::host_type::ipv6 ? "[" + e.host + "]" : e.host;
    if (e.port != default_port) e.origin += ":" + std::to_string(e.port);
    return e;
}

}  // namespace

or_refusal<push_endpoint> parse_endpoint(std::string_view url, bool allow_insecure_loopback) {
    return parse(url, allow_insecure_loopback ? plain_http::loopback : plain_http::refused, "the endpoint");
}

or_refusal<push_endpoint> parse_configured_url(std::string_view url) {
    return parse(url, plain_http::anywhere, "the URL");
}

}  // namespace vigil::push
