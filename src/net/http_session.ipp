// http_session's definitions, instantiated once per transport by
// http_session_plain.cpp and http_session_tls.cpp (two translation units, so
// the two compile in parallel).
#include "net/http_session.hpp"

#include "common/log.hpp"
#include "net/api_routes.hpp"
#include "net/ws_admission.hpp"
#include "net/ws_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace vigil::net {

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace {
template <class Stream>
Stream make_stream(tcp_socket&& socket, tls_context_ref_t<Stream> const& tls) {
    if constexpr (is_tls_v<Stream>)
        return Stream{plain_http_stream{std::move(socket)}, *tls};
    else
        return Stream{std::move(socket)};
}
}  // namespace

template <class Stream>
http_session<Stream>::http_session(tcp_socket&& socket, server_context& ctx, tls_context_ref_t<Stream> tls)
    : tls_(std::move(tls)),
      stream_(make_stream<Stream>(std::move(socket), tls_)),
      ctx_(ctx),
      timer_(stream_.get_executor()) {
    beast::error_code ec;
    remote_ = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec).address();
    // Beast reads max(512, free capacity) bytes at a time: a typical publish
    // (~520 bytes with its bearer token) would take two reads from an empty
    // buffer, one from this.
    buffer_.reserve(4096);
}

template <class Stream>
void http_session<Stream>::run() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
        if constexpr (is_tls_v<Stream>) {
            // The TLS handshake counts against the same time limit as a request.
            self->set_deadline(std::chrono::seconds{self->ctx_.config.limits.http_timeout_seconds});
            self->stream_.async_handshake(asio::ssl::stream_base::server,
                                          [self](beast::error_code ec) { self->on_handshake(ec); });
        } else {
            self->do_read();
        }
    });
}

template <class Stream>
void http_session<Stream>::on_handshake(beast::error_code ec) {
    if (ec) {
        log::debug("tls.handshake_failed", {{"error", ec.message()}, {"remote", remote_.to_string()}});
        return beast::get_lowest_layer(stream_).close();
    }
    do_read();
}

template <class Stream>
void http_session<Stream>::do_read() {
    auto const& l = ctx_.config.limits;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(l.max_header_bytes));
    parser_->body_limit(l.max_body_bytes);
    set_deadline(std::chrono::seconds{l.http_timeout_seconds});
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t n) { self->on_read(ec, n); });
}

template <class Stream>
void http_session<Stream>::on_read(beast::error_code ec, std::size_t) {
    if (timed_out_) return;  // slow or idle: dropped quietly, the socket is closed
    if (ec == http::error::end_of_stream || ec == asio::error::connection_reset) return do_close();
    record_ = request_record{};
    upgrading_ = false;
    if (ec) {
        // Whatever the parser refused, the reply is JSON and the connection ends.
        http_request req;
        req.version(11);
        req.keep_alive(false);
        http_response res =
            ec == http::error::body_limit
                ? json_error(http::status::payload_too_large, "payload_too_large",
                             "body larger than " + std::to_string(ctx_.config.limits.max_body_bytes) + " bytes", req)
            : ec == http::error::header_limit
                ? json_error(http::status::request_header_fields_too_large, "headers_too_large",
                             "request head too large", req)
                : json_error(http::status::bad_request, "bad_request", "malformed HTTP request", req);
        log::debug("http.bad_request", {{"error", ec.message()}});
        return send(std::move(res));
    }
    http_request req = parser_->release();
    record_.method = req.method();
    if (beast::websocket::is_upgrade(req)) return upgrade(std::move(req));

    // The responder keeps the session alive until the answer is written; it may
    // run on the alert service's worker or another I/O thread, so it comes back
    // to ours to write. The dispatch notes route and caller in record_.
    recording_scope recording{record_};
    handle_http_request(ctx_, std::move(req), remote_, [self = this->shared_from_this()](http_response&& res) {
        asio::post(self->stream_.get_executor(), [self, r = std::move(res)]() mutable { self->send(std::move(r)); });
    });
}

template <class Stream>
void http_session<Stream>::upgrade(http_request&& req) {
    upgrading_ = true;
    record_.matched = route::websocket;
    auto admitted = admit_websocket(ctx_, req, remote_);
    if (!admitted) {
        auto refusal = admitted.error();  // a copy: Boost 1.81's result has no error() &&
        log::info("ws.refused", {{"status", refusal.result_int()},
                                 {"error", error_code_of(refusal)},
                                 {"target", log::redact_target(req.target())},
                                 {"remote", remote_.to_string()}});
        refusal.keep_alive(false);
        return send(std::move(refusal));
    }
    auto& a = *admitted;
    record_.caller = a.claims.subject;
    finish_request(record_, 101, {}, access_log_mode::off, remote_);
    // The WebSocket has its own timeouts and heartbeat.
    deadline_ = std::chrono::steady_clock::time_point::max();
    timer_.cancel();
    // The session releases the connection slot admission took.
    auto layer = [&] {
        if constexpr (is_tls_v<Stream>)
            return std::move(stream_);
        else
            return lingering_socket{stream_.release_socket()};
    };
    std::make_shared<ws_session<ws_layer_t<Stream>>>(layer(), ctx_, remote_, std::move(a.user_id), a.claims,
                                                     std::move(tls_))
        ->run(std::move(req), std::move(a.since));
}

template <class Stream>
void http_session<Stream>::send(http_response&& res) {
    finish_request(record_, res.result_int(), res.result_int() >= 400 ? error_code_of(res) : std::string_view{},
                   upgrading_ ? access_log_mode::off : parse_access_log_mode(ctx_.config.access_log), remote_);
    bool const keep_alive = res.keep_alive() && !ctx_.shutting_down;
    res.keep_alive(keep_alive);
    auto wire = std::make_shared<std::string const>(to_wire(res));
    asio::async_write(stream_, asio::buffer(*wire),
                      [self = this->shared_from_this(), wire, keep_alive](beast::error_code ec, std::size_t n) {
                          self->on_write(keep_alive, ec, n);
                      });
}

template <class Stream>
void http_session<Stream>::on_write(bool keep_alive, beast::error_code ec, std::size_t) {
    if (ec) return do_close();
    if (!keep_alive) return do_close();
    do_read();
}

// A lingering close: after our answer, read and discard what the client is
// still sending (say, the rest of a refused body) for a moment, so that
// closing with unread data does not reset the connection and destroy the
// answer before the client reads it. TLS first says close_notify.
template <class Stream>
void http_session<Stream>::do_close() {
    auto& tcp = beast::get_lowest_layer(stream_);
    set_deadline(std::chrono::seconds{2});
    if constexpr (is_tls_v<Stream>) {
        stream_.async_shutdown(
            [self = this->shared_from_this()](beast::error_code) { beast::get_lowest_layer(self->stream_).close(); });
    } else {
        beast::error_code ec;
        tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
        if (ec) return tcp.close();
        buffer_.clear();
        drain();
    }
}

template <class Stream>
void http_session<Stream>::drain() {
    constexpr std::size_t max_drain = 64 * 1024 * 1024;
    auto& tcp = beast::get_lowest_layer(stream_);
    tcp.async_read_some(buffer_.prepare(16 * 1024),
                        [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                            self->drained_ += n;
                            if (ec || self->drained_ > max_drain) return beast::get_lowest_layer(self->stream_).close();
                            self->buffer_.consume(self->buffer_.size());
                            self->drain();
                        });
}

template <class Stream>
void http_session<Stream>::set_deadline(std::chrono::steady_clock::duration within) {
    deadline_ = std::chrono::steady_clock::now() + within;
    // A wait in flight that ends sooner looks at the new deadline when it fires.
    if (!timer_waiting_ || timer_.expiry() > deadline_) wait_for_deadline();
}

template <class Stream>
void http_session<Stream>::wait_for_deadline() {
    timer_waiting_ = true;
    timer_.expires_at(deadline_);  // a later wait in flight ends with operation_aborted
    // Weak: a pending wait does not keep a finished connection alive.
    timer_.async_wait([weak = this->weak_from_this()](beast::error_code ec) {
        if (auto self = weak.lock()) self->on_deadline(ec);
    });
}

template <class Stream>
void http_session<Stream>::on_deadline(beast::error_code ec) {
    if (ec == asio::error::operation_aborted) return;  // replaced by a nearer deadline, or cancelled
    timer_waiting_ = false;
    if (deadline_ == std::chrono::steady_clock::time_point::max()) return;
    if (std::chrono::steady_clock::now() < deadline_) return wait_for_deadline();
    timed_out_ = true;
    beast::get_lowest_layer(stream_).close();  // pending reads and writes end with operation_aborted
}

}  // namespace vigil::net
