#pragma once
// Accepts TCP connections and spreads them over the I/O threads' io_contexts;
// with a TLS identity, the connections it accepts speak TLS.
// On descriptor exhaustion (EMFILE/ENFILE) it backs off instead of spinning,
// logs once per episode, and keeps serving the connections it has.
#include "net/lingering_socket.hpp"
#include "net/server_context.hpp"
#include "net/tls_identity.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <stdexcept>

namespace vigil::net {

// Why a listener could not start, naming the address and port.
struct listen_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class listener : public std::enable_shared_from_this<listener> {
public:
    using context_picker = std::function<boost::asio::io_context&()>;

    // Binds and listens; throws listen_error when it cannot.
    // `tls` (may be null: plain) must outlive the listener.
    listener(boost::asio::io_context& ioc, context_picker next_context, boost::asio::ip::tcp::endpoint const& endpoint,
             server_context& ctx, tls_identity const* tls = nullptr);

    void run();
    void stop();
    std::uint16_t port() const;

private:
    void do_accept();
    void on_accept(boost::system::error_code ec, tcp_socket socket);

    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer backoff_;
    context_picker next_context_;
    server_context& ctx_;
    tls_identity const* const tls_;
    bool exhausted_ = false;
};

}  // namespace vigil::net
