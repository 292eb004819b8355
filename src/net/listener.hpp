#pragma once
// Accepts TCP connections and spreads them over the I/O threads' io_contexts.
// On descriptor exhaustion (EMFILE/ENFILE) it backs off instead of spinning,
// logs once per episode, and keeps serving the connections it has.
#include "net/server_context.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>

namespace vigil::net {

class listener : public std::enable_shared_from_this<listener> {
public:
    using context_picker = std::function<boost::asio::io_context&()>;

    // Binds and listens; throws boost::system::system_error when it cannot.
    listener(boost::asio::io_context& ioc, context_picker next_context, boost::asio::ip::tcp::endpoint endpoint,
             server_context& ctx);

    void run();
    void stop();
    std::uint16_t port() const;

private:
    void do_accept();
    void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);

    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer backoff_;
    context_picker next_context_;
    server_context& ctx_;
    bool exhausted_ = false;
};

}  // namespace vigil::net
