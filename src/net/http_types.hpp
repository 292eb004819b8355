#pragma once
#include "common/refusal.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>
#include <string_view>

namespace vigil::net {

namespace http = boost::beast::http;
using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

// Server and Date (RFC 9110 §6.6.1), on every answer vigil makes.
void set_common_fields(http_response& res);

// A JSON response; Content-Length is set.
http_response json_response(http::status status, std::string body, http_request const& req);

// {"error": code, "detail": detail}
http_response json_error(http::status status, std::string_view code, std::string_view detail, http_request const& req);

// What an answer given later (after a commit, or from another thread) needs
// of its request: method, target, version and keep-alive, without the body.
http_request reply_head(http_request const& req);

// 405 naming what the resource allows (the Allow header too).
http_response method_not_allowed(http_request const& req, std::string_view allow);

// 204, no body.
http_response no_content(http_request const& req);

// A refusal as the client reads it: {"error", "detail", "index" when a batch
// item was refused}, with its status; a 503 asks for a retry after a second.
http_response refusal_response(refusal const& r, http_request const& req);

// The response as it goes on the wire: status line, fields, blank line, body.
// Every response here has a string body and its Content-Length field set
// (prepare_payload), so this is what Beast's serializer would write. One
// contiguous buffer spares a publish's answer the serializer's walk over a
// variant of buffer sequences and its composed write (~4 % of a single-alert
// publish's CPU, docs/decisions/0012-http-publish-path.md).
std::string to_wire(http_response const& res);

}  // namespace vigil::net
