#pragma once
// The HTTP surface (docs/protocol.md): health, monitoring, publish, history,
// frames and acknowledgements (WebSocket upgrades are admitted by
// net/ws_admission.hpp). Knows requests and responses, not sockets:
// http_session moves the bytes.
#include "net/http_types.hpp"
#include "net/server_context.hpp"

#include <boost/asio/ip/address.hpp>

#include <functional>

namespace vigil::net {

using responder = std::function<void(http_response&&)>;

// Answers a request that is not a WebSocket upgrade. `respond` is called
// exactly once, possibly later and on another thread (a publish answers after
// its commit).
void handle_http_request(server_context& ctx, http_request&& req, boost::asio::ip::address const& remote,
                         responder respond);

}  // namespace vigil::net
