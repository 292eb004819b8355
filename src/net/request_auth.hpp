#pragma once
// Who is calling the HTTP API: `Authorization: Bearer <JWT or API key>` or
// `X-API-Key: <key>`. API keys come from the configuration and grant the admin
// or publisher role; a JWT grants what its `role`/`roles` claims say.
#include "auth/auth_error.hpp"
#include "auth/claims.hpp"
#include "net/http_types.hpp"
#include "net/server_context.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/system/result.hpp>

#include <string_view>

namespace vigil::net {

// The bearer token of an Authorization header, or empty.
std::string_view bearer_token(http_request const& req);

// `query_token` is a `?token=` value, accepted where a browser cannot set a
// header (an <img> fetching a frame); headers win when both are present.
boost::system::result<auth::claims> authenticate(server_context& ctx, http_request const& req,
                                                 std::string_view query_token = {});

// Admin credentials, or --dev and a loopback caller presenting no credentials
// (development only; announced at startup).
boost::system::result<auth::claims> authenticate_monitoring(server_context& ctx, http_request const& req,
                                                            boost::asio::ip::address const& remote);

// The JSON error response for a refused credential (401 or 403).
http_response auth_failure(auth::auth_error e, http_request const& req);

}  // namespace vigil::net
