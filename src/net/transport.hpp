#pragma once
// The two transports a session runs over: plain TCP and TLS over TCP. HTTP
// sessions read through Beast's basic_stream on the owning io_context's
// executor (its own timeouts unused: http_session keeps one lazy deadline per
// connection); a plain WebSocket then keeps only the socket (lingering_socket),
// a TLS one keeps the whole TLS stream, whose record state cannot be moved
// elsewhere.
#include "net/lingering_socket.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <memory>
#include <type_traits>

namespace vigil::net {

using plain_http_stream = boost::beast::basic_stream<boost::asio::ip::tcp, io_executor>;
using tls_http_stream = boost::asio::ssl::stream<plain_http_stream>;

template <class HttpStream>
inline constexpr bool is_tls_v = std::is_same_v<HttpStream, tls_http_stream>;

// What a WebSocket session keeps of an HTTP session's stream.
template <class HttpStream>
using ws_layer_t = std::conditional_t<is_tls_v<HttpStream>, tls_http_stream, lingering_socket>;

// A TLS session keeps the context it was accepted with alive (a reload swaps
// the server's context for new connections only); a plain one keeps nothing.
struct no_tls_context {
    no_tls_context() = default;
    explicit no_tls_context(std::shared_ptr<boost::asio::ssl::context> const&) {}
};
template <class HttpStream>
using tls_context_ref_t =
    std::conditional_t<is_tls_v<HttpStream>, std::shared_ptr<boost::asio::ssl::context>, no_tls_context>;

// Closes the socket under any layer at once (cancels pending operations).
inline void close_socket(lingering_socket& s) {
    boost::system::error_code ignored;
    s.close(ignored);
}
inline void close_socket(tls_http_stream& s) { s.next_layer().close(); }

}  // namespace vigil::net
