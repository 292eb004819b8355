#include "net/json_body.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <string>

namespace vigil::net {

or_refusal<boost::json::object> json_object_body(http_request const& req, std::size_t max_bytes) {
    if (req.body().size() > max_bytes)
        return refusal{413, "payload_too_large", "the body is larger than " + std::to_string(max_bytes) + " bytes"};
    boost::system::error_code ec;
    auto v = boost::json::parse(req.body(), ec);
    if (ec || !v.is_object()) return refusal{400, "invalid_json", "the body must be a JSON object"};
    return std::move(v.as_object());
}

}  // namespace vigil::net
