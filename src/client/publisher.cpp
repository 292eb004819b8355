#include "client/publisher.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <stdexcept>

namespace vigil::client {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

template <class Stream>
http_answer round_trip(Stream& stream, http::request<http::string_body> const& req) {
    http::write(stream, req);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    return {static_cast<int>(res.result_int()), res.body()};
}

}  // namespace

http_answer post_alerts(std::string const& host, std::uint16_t port, std::string const& token, std::string body,
                        tls_options const& tls) {
    asio::io_context ioc;
    tcp::resolver resolver{ioc};
    http::request<http::string_body> req{http::verb::post, "/api/v1/alerts", 11};
    req.set(http::field::host, host + ":" + std::to_string(port));
    req.set(http::field::authorization, "Bearer " + token);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "vigil-publish");
    req.body() = std::move(body);
    req.prepare_payload();
    boost::system::error_code ec;
    auto const endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) throw std::runtime_error("cannot resolve " + host + ": " + ec.message());
    tcp::socket socket{ioc};
    asio::connect(socket, endpoints, ec);
    if (ec) throw std::runtime_error("cannot connect to " + host + ":" + std::to_string(port) + ": " + ec.message());
    if (!tls.enabled) {
        auto answer = round_trip(socket, req);
        socket.shutdown(tcp::socket::shutdown_both, ec);
        return answer;
    }
    auto ctx = make_tls_context(tls);
    asio::ssl::stream<tcp::socket> stream{std::move(socket), ctx};
    prepare_tls(stream, host, tls);
    stream.handshake(asio::ssl::stream_base::client, ec);
    if (ec) throw std::runtime_error(tls_failure(ec));
    auto answer = round_trip(stream, req);
    stream.shutdown(ec);  // close_notify; the server may already have gone
    return answer;
}

}  // namespace vigil::client
