#pragma once
// The API's own description, served at GET /api/v1/openapi.json (OpenAPI 3.1,
// the HTTP routes) and GET /api/v1/asyncapi.json (AsyncAPI 3.0, the WebSocket
// messages): docs/api/*.json, embedded at build time (src/CMakeLists.txt), so
// a server describes exactly the build it is. tests/api holds the files to the
// routes the server really has.
#include <string_view>

namespace vigil::net {

std::string_view openapi_json();
std::string_view asyncapi_json();

}  // namespace vigil::net
