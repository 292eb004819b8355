#include "client/client_tls.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace vigil::client {

namespace ssl = boost::asio::ssl;

ssl::context make_tls_context(tls_options const& o) {
    ssl::context ctx{ssl::context::tls_client};
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    if (!o.verify) {
        ctx.set_verify_mode(ssl::verify_none);
        return ctx;
    }
    if (o.ca_file.empty())
        ctx.set_default_verify_paths();
    else
        ctx.load_verify_file(o.ca_file);
    ctx.set_verify_mode(ssl::verify_peer);
    return ctx;
}

template <class Next>
void prepare_tls(ssl::stream<Next>& s, std::string const& host, tls_options const& o) {
    SSL_set_tlsext_host_name(s.native_handle(), host.c_str());
    if (o.verify) s.set_verify_callback(ssl::host_name_verification(host));
}

template void prepare_tls(ssl::stream<boost::asio::ip::tcp::socket>&, std::string const&, tls_options const&);

std::string tls_failure(boost::system::error_code const& ec) {
    std::string out = "TLS handshake: " + ec.message();
    if (ec.category() == boost::asio::error::get_ssl_category() &&
        ERR_GET_REASON(ec.value()) == SSL_R_CERTIFICATE_VERIFY_FAILED)
        out +=
            " (the server's certificate is not trusted: give its CA with --ca-file, or --insecure for a "
            "self-signed development certificate)";
    return out;
}

}  // namespace vigil::client
