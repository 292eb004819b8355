#pragma once
// A request body that must be one small JSON object (settings, teams,
// policies): its size bounded before it is parsed.
#include "common/refusal.hpp"
#include "net/http_types.hpp"

#include <boost/json/object.hpp>

#include <cstddef>

namespace vigil::net {

// The object, or the refusal: 413 payload_too_large past max_bytes, 400
// invalid_json for anything but a JSON object.
or_refusal<boost::json::object> json_object_body(http_request const& req, std::size_t max_bytes);

}  // namespace vigil::net
