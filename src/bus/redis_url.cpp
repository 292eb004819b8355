#include "bus/redis_url.hpp"

#include <boost/url/parse.hpp>

#include <charconv>
#include <stdexcept>

namespace vigil {

std::string redis_endpoint::describe() const {
    std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    out += ':' + std::to_string(port) + '/' + std::to_string(db);
    return out;
}

redis_endpoint parse_redis_url(std::string_view url) {
    auto fail = [](std::string const& why) { throw std::invalid_argument("Redis URL: " + why); };
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed) fail("not a URL of the form redis://[:password@]host[:port][/db]");
    auto const& u = *parsed;
    if (u.scheme() == "rediss") fail("rediss:// (TLS) is not supported; use redis:// on a trusted network");
    if (u.scheme() != "redis") fail("the scheme must be redis://");
    if (!u.has_authority() || u.encoded_host().empty()) fail("no host");
    if (u.has_query() || u.has_fragment()) fail("no query or fragment is allowed");

    redis_endpoint ep;
    switch (u.host_type()) {
        case boost::urls::host_type::ipv6: ep.host = u.host_ipv6_address().to_string(); break;
        case boost::urls::host_type::ipvfuture: fail("unsupported host"); break;
        default: ep.host = u.host(); break;
    }
    if (u.has_port()) {
        auto const port = u.port();
        unsigned value = 0;
        auto const [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
            fail("the port must be 1-65535");
        ep.port = static_cast<std::uint16_t>(value);
    }
    if (u.has_userinfo()) {
        ep.username = u.user();
        if (u.has_password()) ep.password = u.password();
        if (!ep.username.empty() && ep.password.empty()) fail("a user needs a password (redis://user:password@host)");
    }
    auto const path = u.encoded_path();
    if (!path.empty() && path != "/") {
        std::string_view digits = path.substr(1);
        int db = -1;
        auto const [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), db);
        if (ec != std::errc{} || end != digits.data() + digits.size() || db < 0 || digits.size() > 5)
            fail("the path must be a database number (/0, /1, ...)");
        ep.db = db;
    }
    return ep;
}

}  // namespace vigil
