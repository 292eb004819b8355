#pragma once
// One HTTP/1.1 connection, plain or TLS: reads requests with bounded heads,
// bodies and time, answers them through api_routes, and hands admitted
// WebSocket upgrades to a ws_session. Keep-alive; one request at a time.
#include "net/http_types.hpp"
#include "net/request_log.hpp"
#include "net/server_context.hpp"
#include "net/transport.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>

#include <chrono>
#include <memory>
#include <optional>

namespace vigil::net {

template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
public:
    // TLS sessions take the server's current TLS context; plain ones nothing.
    http_session(tcp_socket&& socket, server_context& ctx, tls_context_ref_t<Stream> tls = {});
    void run();

private:
    void on_handshake(boost::system::error_code ec);
    void do_read();
    void on_read(boost::system::error_code ec, std::size_t bytes);
    void upgrade(http_request&& req);
    void send(http_response&& res);
    void on_write(bool keep_alive, boost::system::error_code ec, std::size_t bytes);
    void do_close();
    void drain();
    void set_deadline(std::chrono::steady_clock::duration within);
    void wait_for_deadline();
    void on_deadline(boost::system::error_code ec);

    tls_context_ref_t<Stream> tls_;  // declared before stream_, which refers to it
    Stream stream_;
    boost::beast::flat_buffer buffer_;
    server_context& ctx_;
    std::optional<http::request_parser<http::string_body>> parser_;
    boost::asio::ip::address remote_;
    std::size_t drained_ = 0;
    request_record record_;   // the request being answered (one at a time), for the access log
    bool upgrading_ = false;  // record_ is an upgrade: ws.refused is its log line

    // One lazy timer per connection instead of tcp_stream's per-operation
    // timeouts, which scheduled and cancelled a timer for every read and
    // every write (and reprogrammed the thread's timerfd whenever it was the
    // only timer): moving the deadline is an assignment, and the timer, when
    // it fires early, waits for the rest.
    boost::asio::basic_waitable_timer<std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>,
                                      io_executor>
        timer_;
    std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
    bool timer_waiting_ = false;
    bool timed_out_ = false;
};

extern template class http_session<plain_http_stream>;
extern template class http_session<tls_http_stream>;

}  // namespace vigil::net
