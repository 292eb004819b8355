#pragma once
// Publishes alerts over HTTP (POST /api/v1/alerts), for `vigil publish` and
// other C++ producers that run outside the server process.
#include "client/client_tls.hpp"

#include <cstdint>
#include <string>

namespace vigil::client {

struct http_answer {
    int status = 0;
    std::string body;
};

// One blocking request on a fresh connection (https:// with tls.enabled);
// `body` is the JSON text, sent as it is. Throws std::runtime_error when the
// server cannot be reached or the TLS handshake fails (tls_failure's words).
http_answer post_alerts(std::string const& host, std::uint16_t port, std::string const& token, std::string body,
                        tls_options const& tls = {});

}  // namespace vigil::client
