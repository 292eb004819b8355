#pragma once
// A TCP socket whose WebSocket teardown drains what the peer is still sending
// before closing. Beast's own teardown for tcp sockets (1.81) reads at most
// one 2 KiB chunk and closes: with more unread data the kernel answers with a
// reset, which can destroy our close frame (1009 for an oversized message)
// before the client reads it. Beast finds this teardown by argument-dependent
// lookup.
#include <boost/asio/compose.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/role.hpp>

#include <array>
#include <memory>

namespace vigil::net {

// A connection's socket, bound to the io_context of the I/O thread that owns
// it. Asio's default (any_io_executor) is type-erased: every operation and
// every post copied and destroyed it through a function pointer, ~1.6 % of a
// publish's CPU.
using io_executor = boost::asio::io_context::executor_type;
using tcp_socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, io_executor>;

class lingering_socket : public tcp_socket {
public:
    using tcp_socket::basic_stream_socket;
    explicit lingering_socket(tcp_socket&& s) : tcp_socket(std::move(s)) {}

    // Most bytes read and discarded while closing; past it the socket just closes.
    static constexpr std::size_t max_drain_bytes = 1024 * 1024;
};

namespace detail {

struct teardown_op {
    lingering_socket& socket;
    boost::beast::role_type role;
    std::unique_ptr<std::array<char, 4096>> buffer = std::make_unique<std::array<char, 4096>>();
    std::size_t drained = 0;
    bool started = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
        if (!started) {
            started = true;
            if (role == boost::beast::role_type::server) socket.shutdown(boost::asio::socket_base::shutdown_send, ec);
            if (!ec) return socket.async_read_some(boost::asio::buffer(*buffer), std::move(self));
        } else {
            drained += n;
            if (!ec && drained < lingering_socket::max_drain_bytes)
                return socket.async_read_some(boost::asio::buffer(*buffer), std::move(self));
        }
        if (ec == boost::asio::error::eof) ec = {};
        boost::system::error_code ignored;
        if (role == boost::beast::role_type::client) socket.shutdown(boost::asio::socket_base::shutdown_send, ignored);
        socket.close(ignored);
        self.complete(ec);
    }
};

}  // namespace detail

template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, lingering_socket& socket, TeardownHandler&& handler) {
    boost::asio::async_compose<TeardownHandler, void(boost::system::error_code)>(detail::teardown_op{socket, role},
                                                                                 handler, socket);
}

inline void teardown(boost::beast::role_type role, lingering_socket& socket, boost::system::error_code& ec) {
    if (role == boost::beast::role_type::server) socket.shutdown(boost::asio::socket_base::shutdown_send, ec);
    std::array<char, 4096> buffer;
    for (std::size_t drained = 0; !ec && drained < lingering_socket::max_drain_bytes;)
        drained += socket.read_some(boost::asio::buffer(buffer), ec);
    if (ec == boost::asio::error::eof) ec = {};
    boost::system::error_code ignored;
    socket.close(ignored);
}

}  // namespace vigil::net
