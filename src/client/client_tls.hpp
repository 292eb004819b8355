#pragma once
// TLS for vigil's clients (vigil listen, vigil publish, alert_client): the
// server's certificate is verified, against the system's CAs or only the
// certificate authority in `ca_file`, and must name the host connected to.
// `verify = false` (--insecure) skips both, for self-signed development
// certificates.
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <string>

namespace vigil::client {

struct tls_options {
    bool enabled = false;  // https:// and wss://
    std::string ca_file;   // PEM: trust only this; empty: the system's CAs
    bool verify = true;
};

// Throws boost::system::system_error when `ca_file` cannot be read.
boost::asio::ssl::context make_tls_context(tls_options const& o);

// Before the handshake: SNI and, when verifying, the host name check.
template <class Next>
void prepare_tls(boost::asio::ssl::stream<Next>& s, std::string const& host, tls_options const& o);

// A handshake failure, said so that a user knows what to do (--ca-file, --insecure).
std::string tls_failure(boost::system::error_code const& ec);

}  // namespace vigil::client
