#include "net/listener.hpp"

#include "common/log.hpp"
#include "net/http_session.hpp"

#include <boost/asio/socket_base.hpp>

namespace vigil::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

listener::listener(asio::io_context& ioc, context_picker next_context, tcp::endpoint const& endpoint,
                   server_context& ctx, tls_identity const* tls)
    : acceptor_(ioc), backoff_(ioc), next_context_(std::move(next_context)), ctx_(ctx), tls_(tls) {
    // Errors name the address and port, not the Boost source line that threw.
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        auto const address =
            endpoint.address().is_v6() ? "[" + endpoint.address().to_string() + "]" : endpoint.address().to_string();
        throw listen_error("cannot listen on " + address + ":" + std::to_string(endpoint.port()) + " (" +
                           (tls ? "--tls-port" : "--port") + "): " + ec.message());
    }
}

void listener::run() { do_accept(); }

void listener::stop() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    backoff_.cancel();
}

std::uint16_t listener::port() const {
    boost::system::error_code ec;
    return acceptor_.local_endpoint(ec).port();
}

void listener::do_accept() {
    acceptor_.async_accept(next_context_(), [self = shared_from_this()](boost::system::error_code ec, tcp_socket s) {
        self->on_accept(ec, std::move(s));
    });
}

void listener::on_accept(boost::system::error_code ec, tcp_socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space) {
        if (!exhausted_)
            log::error("listener.descriptors_exhausted",
                       {{"error", ec.message()}, {"action", "pausing accept, existing connections kept"}});
        exhausted_ = true;
        backoff_.expires_after(std::chrono::milliseconds{100});
        backoff_.async_wait([self = shared_from_this()](boost::system::error_code e) {
            if (!e) self->do_accept();
        });
        return;
    }
    if (exhausted_ && !ec) {
        log::info("listener.resumed");
        exhausted_ = false;
    }
    if (!ec) {
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        if (tls_)
            std::make_shared<http_session<tls_http_stream>>(std::move(socket), ctx_, tls_->current())->run();
        else
            std::make_shared<http_session<plain_http_stream>>(std::move(socket), ctx_)->run();
    }
    do_accept();
}

}  // namespace vigil::net
