#pragma once
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string_view>

namespace vigil::net {

namespace http = boost::beast::http;
using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

// A JSON response; Content-Length is set.
http_response json_response(http::status status, std::string body, http_request const& req);

// {"error": code, "detail": detail}
http_response json_error(http::status status, std::string_view code, std::string_view detail,
                         http_request const& req);

}  // namespace vigil::net
