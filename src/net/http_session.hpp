#pragma once
// One HTTP/1.1 connection: reads requests with bounded heads, bodies and time,
// answers them through api_routes, and hands admitted WebSocket upgrades to a
// ws_session. Keep-alive; one request at a time.
#include "net/http_types.hpp"
#include "net/server_context.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>

#include <memory>
#include <optional>

namespace vigil::net {

class http_session : public std::enable_shared_from_this<http_session> {
public:
    http_session(boost::asio::ip::tcp::socket&& socket, server_context& ctx);
    void run();

private:
    void do_read();
    void on_read(boost::system::error_code ec, std::size_t bytes);
    void upgrade(http_request&& req);
    void send(http_response&& res);
    void on_write(bool keep_alive, boost::system::error_code ec, std::size_t bytes);
    void do_close();
    void drain();

    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
    server_context& ctx_;
    std::optional<http::request_parser<http::string_body>> parser_;
    boost::asio::ip::address remote_;
    std::size_t drained_ = 0;
};

}  // namespace vigil::net
