#include "client/publisher.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace vigil::client {

namespace asio = boost::asio;
namespace http = boost::beast::http;

http_answer post_alerts(std::string const& host, std::uint16_t port, std::string const& token, std::string body) {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver{ioc};
    asio::ip::tcp::socket socket{ioc};
    asio::connect(socket, resolver.resolve(host, std::to_string(port)));
    http::request<http::string_body> req{http::verb::post, "/api/v1/alerts", 11};
    req.set(http::field::host, host + ":" + std::to_string(port));
    req.set(http::field::authorization, "Bearer " + token);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "vigil-publish");
    req.body() = std::move(body);
    req.prepare_payload();
    http::write(socket, req);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    boost::system::error_code ignored;
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    return {static_cast<int>(res.result_int()), res.body()};
}

}  // namespace vigil::client
