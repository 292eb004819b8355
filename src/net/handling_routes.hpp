#pragma once
// The handling endpoints (docs/handling.md): teams and escalation policies
// (admin), an alert's acknowledgement, resolution and reopening (its
// recipients, or an admin), and its audit trail.
#include "net/api_routes.hpp"
#include "net/request_target.hpp"

namespace vigil::net {

// Answers the request when its path is one of the handling endpoints and
// returns true; false (and `respond` untouched) otherwise.
bool handle_handling_request(server_context& ctx, http_request& req, request_target const& t, responder& respond);

}  // namespace vigil::net
