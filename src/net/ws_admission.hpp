#pragma once
// Admission of WebSocket upgrades, before the handshake: connection limits,
// the request itself (RFC 6455), the Origin allow-list and authentication.
// Knows requests and responses, not sockets: http_session calls it and, when
// admitted, hands the connection to a ws_session.
#include "auth/claims.hpp"
#include "net/http_types.hpp"
#include "net/server_context.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/system/result.hpp>

#include <optional>
#include <string>

namespace vigil::net {

// A WebSocket upgrade that may proceed.
struct ws_admission {
    std::string user_id;
    auth::claims claims;
    std::optional<stream_position> since;  // ?since=SEQ[&epoch=E]
};

// Checks an upgrade request before the handshake: the route, the user id, the
// token (?token=, ?ticket= or Authorization: Bearer), `since` and `epoch`. Refusals are HTTP
// errors (401, 403, 400, 404) with a JSON body: the refusal is the whole
// answer, since some carry fields of their own (Sec-WebSocket-Version).
// Admission also checks the Origin allow-list, the handshake rate of the
// source address, and takes a connection slot (ctx.limits) that the caller
// must release when the connection ends.
boost::system::result<ws_admission, http_response> admit_websocket(server_context& ctx, http_request const& req,
                                                                   boost::asio::ip::address const& remote);

}  // namespace vigil::net
