#pragma once
// Where a Redis server is and how to log in to it, from the URL an operator
// configures (SPEC section 5):
//   redis://HOST[:PORT][/DB]
//   redis://:PASSWORD@HOST[:PORT][/DB]        AUTH PASSWORD
//   redis://USER:PASSWORD@HOST[:PORT][/DB]    AUTH USER PASSWORD (Redis 6 ACL)
// HOST may be a name, an IPv4 address or a bracketed IPv6 address; PORT
// defaults to 6379 and DB to 0. Userinfo is percent-decoded. TLS (rediss://)
// and Unix sockets are not supported: hiredis 0.14 has neither over its
// async API here.
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil {

struct redis_endpoint {
    std::string host;
    std::uint16_t port = 6379;
    std::string username;  // empty: the default user
    std::string password;  // empty: no AUTH
    int db = 0;

    // "host:port/db", for logs and status: never the password.
    std::string describe() const;
};

// Parses a redis:// URL. Throws std::invalid_argument with a message for the
// operator (which never repeats the password) when it is malformed.
redis_endpoint parse_redis_url(std::string_view url);

}  // namespace vigil
