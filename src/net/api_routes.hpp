#pragma once
// The HTTP surface (docs/protocol.md): health, monitoring, publish, history,
// frames, acknowledgements, and the admission check of WebSocket upgrades.
// Knows requests and responses, not sockets: http_session moves the bytes.
#include "auth/claims.hpp"
#include "net/http_types.hpp"
#include "net/server_context.hpp"

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>

namespace vigil::net {

using responder = std::function<void(http_response&&)>;

// Answers a request that is not a WebSocket upgrade. `respond` is called
// exactly once, possibly later and on another thread (a publish answers after
// its commit).
void handle_http_request(server_context& ctx, http_request&& req, boost::asio::ip::address const& remote,
                         responder respond);

// A WebSocket upgrade that may proceed.
struct ws_admission {
    std::string user_id;
    auth::claims claims;
    std::optional<stream_position> since;  // ?since=SEQ[&epoch=E]
};

// Checks an upgrade request before the handshake: the route, the user id, the
// token (?token=, ?ticket= or Authorization: Bearer), `since` and `epoch`. Refusals are HTTP
// errors (401, 403, 400, 404) with a JSON body.
// Admission also checks the Origin allow-list, the handshake rate of the
// source address, and takes a connection slot (ctx.limits) that the caller
// must release when the connection ends.
std::variant<ws_admission, http_response> admit_websocket(server_context& ctx, http_request const& req,
                                                          boost::asio::ip::address const& remote);

}  // namespace vigil::net
