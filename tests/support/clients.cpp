#include "support/clients.hpp"

#include "support/server_process.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <stdexcept>

namespace vigil::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

void set_socket_timeout(tcp::socket& s, int seconds) {
    timeval tv{seconds, 0};
    setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

tcp::socket connect_socket(asio::io_context& ioc, std::uint16_t port) {
    tcp::socket s{ioc};
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    return s;
}

template <class Message>
headers copy_headers(Message const& m) {
    headers out;
    for (auto const& f : m) out.emplace_back(std::string{f.name_string()}, std::string{f.value()});
    return out;
}

}  // namespace

json::value http_reply::json() const {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    return ec ? json::value{} : v;
}

std::string http_reply::header(std::string const& name) const {
    for (auto const& [k, v] : head)
        if (beast::iequals(k, name)) return v;
    return {};
}

http_reply http_request(std::uint16_t port, std::string const& method, std::string const& target,
                        std::string const& body, headers const& extra) {
    asio::io_context ioc;
    auto socket = connect_socket(ioc, port);
    set_socket_timeout(socket, 10);
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (auto const& [k, v] : extra) req.set(k, v);
    if (!body.empty()) {
        req.set(http::field::content_type, "application/json");
        req.body() = body;
    }
    req.prepare_payload();
    boost::system::error_code write_error;
    http::write(socket, req, write_error);  // the server may answer (413) before taking the whole body
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(socket, buffer, parser);
    auto const& res = parser.get();
    return http_reply{static_cast<int>(res.result_int()), res.body(), copy_headers(res)};
}

std::string raw_exchange(std::uint16_t port, std::string const& bytes) {
    asio::io_context ioc;
    auto socket = connect_socket(ioc, port);
    set_socket_timeout(socket, 5);
    asio::write(socket, asio::buffer(bytes));
    std::string out;
    char buf[4096];
    for (;;) {
        boost::system::error_code ec;
        auto const n = socket.read_some(asio::buffer(buf), ec);
        out.append(buf, n);
        if (ec) break;
    }
    return out;
}

http_reply publish(std::uint16_t port, json::value const& body) {
    return http_request(port, "POST", "/api/v1/alerts", json::serialize(body),
                        {{"Authorization", "Bearer " + token_for("producer", "publisher")}});
}

struct ws_client::impl {
    asio::io_context ioc;
    websocket::stream<tcp::socket> ws{ioc};
    beast::flat_buffer buffer;
    bool reading = false;
    bool done = false;
    boost::system::error_code read_ec;
};

ws_client::ws_client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
ws_client::~ws_client() = default;

std::unique_ptr<ws_client> ws_client::connect(std::uint16_t port, std::string const& target, http_reply* refusal,
                                              headers const& extra) {
    auto p = std::make_unique<impl>();
    p->ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    p->ws.set_option(websocket::stream_base::decorator([extra](websocket::request_type& req) {
        for (auto const& [k, v] : extra) req.set(k, v);
    }));
    websocket::response_type res;
    boost::system::error_code ec;
    p->ws.handshake(res, "127.0.0.1:" + std::to_string(port), target, ec);
    if (ec) {
        if (refusal) *refusal = http_reply{static_cast<int>(res.result_int()), res.body(), copy_headers(res)};
        return nullptr;
    }
    return std::unique_ptr<ws_client>{new ws_client{std::move(p)}};
}

std::unique_ptr<ws_client> ws_client::connect_user(std::uint16_t port, std::string const& user,
                                                   std::optional<std::uint64_t> since) {
    std::string target = "/ws/alerts/" + user + "?token=" + token_for(user);
    if (since) target += "&since=" + std::to_string(*since);
    http_reply refusal;
    auto c = connect(port, target, &refusal);
    if (!c) throw std::runtime_error("handshake refused: " + std::to_string(refusal.status) + " " + refusal.body);
    return c;
}

void ws_client::send_text(std::string const& text) {
    impl_->ws.text(true);
    impl_->ws.write(asio::buffer(text));
}

void ws_client::send_binary(std::string const& data) {
    impl_->ws.binary(true);
    impl_->ws.write(asio::buffer(data));
}

void ws_client::send_json(json::value const& v) { send_text(json::serialize(v)); }

ws_event ws_client::read(std::chrono::milliseconds timeout) {
    auto& p = *impl_;
    if (!p.reading) {
        p.reading = true;
        p.done = false;
        p.ws.async_read(p.buffer, [&p](boost::system::error_code ec, std::size_t) {
            p.read_ec = ec;
            p.done = true;
        });
    }
    p.ioc.restart();
    p.ioc.run_for(timeout);
    if (!p.done) return {ws_event::timeout, {}, 0, {}};
    p.reading = false;
    if (p.read_ec == websocket::error::closed) {
        auto const r = p.ws.reason();
        return {ws_event::closed, {}, r.code, std::string{r.reason.data(), r.reason.size()}};
    }
    if (p.read_ec) return {ws_event::error, p.read_ec.message(), 0, {}};
    ws_event e{p.ws.got_text() ? ws_event::text : ws_event::binary, beast::buffers_to_string(p.buffer.data()), 0, {}};
    p.buffer.consume(p.buffer.size());
    return e;
}

json::object ws_client::read_json(std::chrono::milliseconds timeout) {
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        auto const e = read(std::max(left, std::chrono::milliseconds{1}));
        if (e.kind == ws_event::closed)
            throw std::runtime_error("closed " + std::to_string(e.close_code) + " " + e.close_reason);
        if (e.kind != ws_event::text) throw std::runtime_error("no text message (timeout or error): " + e.data);
        auto v = json::parse(e.data);
        auto& o = v.as_object();
        if (auto const* t = o.if_contains("type"); t && *t == "ping") continue;
        return o;
    }
}

int ws_client::wait_close(std::chrono::milliseconds timeout) {
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        auto const e = read(std::max(left, std::chrono::milliseconds{1}));
        if (e.kind == ws_event::closed) return e.close_code;
        if (e.kind == ws_event::error || e.kind == ws_event::timeout) return -1;
    }
    return -1;
}

void ws_client::close(int code) {
    auto& p = *impl_;
    bool closed = false;
    p.ws.async_close(websocket::close_reason(static_cast<std::uint16_t>(code)),
                     [&closed](boost::system::error_code) { closed = true; });
    p.ioc.restart();
    p.ioc.run_for(std::chrono::seconds{3});
}

}  // namespace vigil::test
