#pragma once
// The Web Push endpoints (docs/notifications.md, docs/protocol.md): the VAPID
// public key, a user's subscriptions, a test push, stream snoozes and quiet
// hours, and the settings they add up to. Each acts for the caller's own
// user (a user's token; an API key is no user).
#include "net/api_routes.hpp"
#include "net/request_target.hpp"

namespace vigil::net {

// Answers the request when its path is one of the push endpoints and returns
// true; false (and `respond` untouched) otherwise.
bool handle_push_request(server_context& ctx, http_request& req, request_target const& t, responder& respond);

}  // namespace vigil::net
