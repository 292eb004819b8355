#include "support/clients.hpp"

#include "support/server_process.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <stdexcept>

namespace vigil::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
namespace ssl = asio::ssl;
using tls_socket = ssl::stream<tcp::socket>;

namespace {

// A client TLS context that trusts only `ca_file` and checks the name "localhost".
ssl::context client_tls(std::string const& ca_file) {
    ssl::context ctx{ssl::context::tls_client};
    ctx.load_verify_file(ca_file);
    ctx.set_verify_mode(ssl::verify_peer);
    return ctx;
}

void tls_handshake(tls_socket& s, std::uint16_t port) {
    s.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    SSL_set_tlsext_host_name(s.native_handle(), "localhost");
    s.set_verify_callback(ssl::host_name_verification("localhost"));
    s.handshake(ssl::stream_base::client);
}

// Runs `ioc` until its work is done or `limit` has passed, then throws if
// `done` is still false. Deadlines live here, not in SO_RCVTIMEO: with Asio on
// io_uring, a blocking read with a socket timeout returns EINTR whenever a
// ring this thread used is torn down (the kernel interrupts every thread that
// submitted to it), and a test would fail for nothing.
void run_until_done(asio::io_context& ioc, bool const& done, std::chrono::seconds limit, char const* what) {
    ioc.restart();
    ioc.run_for(limit);
    if (!done)
        throw std::runtime_error(std::string{what} + ": no answer within " + std::to_string(limit.count()) + " s");
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

namespace {

template <class Stream>
http_reply exchange(asio::io_context& ioc, Stream& socket, std::string const& method, std::string const& target,
                    std::string const& body, headers const& extra) {
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (auto const& [k, v] : extra) req.set(k, v);
    if (!body.empty()) {
        if (req.find(http::field::content_type) == req.end()) req.set(http::field::content_type, "application/json");
        req.body() = body;
    }
    req.prepare_payload();
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(req.method() == http::verb::head);  // a HEAD answer has GET's Content-Length and no body
    boost::system::error_code read_error;
    bool done = false;
    // The server may answer (413) before taking the whole body: the write's
    // error is ignored, and the answer is read whatever it was.
    http::async_write(socket, req, [&](boost::system::error_code, std::size_t) {
        http::async_read(socket, buffer, parser, [&](boost::system::error_code ec, std::size_t) {
            read_error = ec;
            done = true;
        });
    });
    run_until_done(ioc, done, std::chrono::seconds{10}, "HTTP exchange");
    if (read_error) throw boost::system::system_error{read_error, "HTTP exchange"};
    auto const& res = parser.get();
    return http_reply{static_cast<int>(res.result_int()), res.body(), copy_headers(res)};
}

}  // namespace

http_reply http_request(std::uint16_t port, std::string const& method, std::string const& target,
                        std::string const& body, headers const& extra) {
    asio::io_context ioc;
    auto socket = connect_socket(ioc, port);
    return exchange(ioc, socket, method, target, body, extra);
}

http_reply https_request(std::uint16_t port, std::string const& ca_file, std::string const& method,
                         std::string const& target, std::string const& body, headers const& extra) {
    asio::io_context ioc;
    auto ctx = client_tls(ca_file);
    tls_socket socket{ioc, ctx};
    tls_handshake(socket, port);
    return exchange(ioc, socket, method, target, body, extra);
}

std::string tls_peer_subject(std::uint16_t port) {
    asio::io_context ioc;
    ssl::context ctx{ssl::context::tls_client};
    tls_socket socket{ioc, ctx};
    socket.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    boost::system::error_code handshake_error;
    bool done = false;
    socket.async_handshake(ssl::stream_base::client, [&](boost::system::error_code ec) {
        handshake_error = ec;
        done = true;
    });
    run_until_done(ioc, done, std::chrono::seconds{10}, "TLS handshake");
    if (handshake_error) throw boost::system::system_error{handshake_error, "TLS handshake"};
    X509* cert = SSL_get1_peer_certificate(socket.native_handle());
    if (!cert) return {};
    char buf[256];
    X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
    X509_free(cert);
    boost::system::error_code ignored;
    socket.shutdown(ignored);
    return buf;
}

std::string raw_exchange(std::uint16_t port, std::string const& bytes) {
    asio::io_context ioc;
    auto socket = connect_socket(ioc, port);
    asio::write(socket, asio::buffer(bytes));
    // Everything until the server closes (or resets) the connection, or 5 s.
    std::string out;
    std::array<char, 4096> buf;
    std::function<void(boost::system::error_code, std::size_t)> on_read = [&](boost::system::error_code ec,
                                                                              std::size_t n) {
        out.append(buf.data(), n);
        if (!ec) socket.async_read_some(asio::buffer(buf), on_read);
    };
    socket.async_read_some(asio::buffer(buf), on_read);
    ioc.run_for(std::chrono::seconds{5});  // what came, if the server keeps the connection open
    return out;
}

http_reply publish(std::uint16_t port, json::value const& body) {
    return http_request(port, "POST", "/api/v1/alerts", json::serialize(body),
                        {{"Authorization", "Bearer " + token_for("producer", "publisher")}});
}

// A WebSocket over plain TCP or over TLS; every operation visits the one in use.
struct ws_client::impl {
    asio::io_context ioc;
    std::optional<ssl::context> tls;
    std::optional<websocket::stream<tcp::socket>> plain_ws;
    std::optional<websocket::stream<tls_socket>> tls_ws;
    beast::flat_buffer buffer;
    bool reading = false;
    bool done = false;
    boost::system::error_code read_ec;

    template <class F>
    decltype(auto) visit(F&& f) {
        return tls_ws ? f(*tls_ws) : f(*plain_ws);
    }
};

ws_client::ws_client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
ws_client::~ws_client() = default;

namespace {

std::unique_ptr<ws_client::impl> start_client(std::uint16_t port, std::string const& ca_file) {
    auto p = std::make_unique<ws_client::impl>();
    if (ca_file.empty()) {
        p->plain_ws.emplace(p->ioc);
        p->plain_ws->next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    } else {
        p->tls.emplace(client_tls(ca_file));
        p->tls_ws.emplace(p->ioc, *p->tls);
        tls_handshake(p->tls_ws->next_layer(), port);
    }
    return p;
}

}  // namespace

std::unique_ptr<ws_client> ws_client::connect(std::uint16_t port, std::string const& target, http_reply* refusal,
                                              headers const& extra, std::string const& ca_file) {
    auto p = start_client(port, ca_file);
    websocket::response_type res;
    boost::system::error_code ec;
    p->visit([&](auto& ws) {
        ws.set_option(websocket::stream_base::decorator([extra](websocket::request_type& req) {
            for (auto const& [k, v] : extra) req.set(k, v);
        }));
        ws.handshake(res, (ca_file.empty() ? "127.0.0.1:" : "localhost:") + std::to_string(port), target, ec);
    });
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
    impl_->visit([&](auto& ws) {
        ws.text(true);
        ws.write(asio::buffer(text));
    });
}

void ws_client::send_binary(std::string const& data) {
    impl_->visit([&](auto& ws) {
        ws.binary(true);
        ws.write(asio::buffer(data));
    });
}

void ws_client::send_json(json::value const& v) { send_text(json::serialize(v)); }

ws_event ws_client::read(std::chrono::milliseconds timeout) {
    auto& p = *impl_;
    if (!p.reading) {
        p.reading = true;
        p.done = false;
        p.visit([&p](auto& ws) {
            ws.async_read(p.buffer, [&p](boost::system::error_code ec, std::size_t) {
                p.read_ec = ec;
                p.done = true;
            });
        });
    }
    p.ioc.restart();
    p.ioc.run_for(timeout);
    if (!p.done) return {ws_event::timeout, {}, 0, {}};
    p.reading = false;
    if (p.read_ec == websocket::error::closed) {
        auto const r = p.visit([](auto& ws) { return ws.reason(); });
        return {ws_event::closed, {}, r.code, std::string{r.reason.data(), r.reason.size()}};
    }
    if (p.read_ec) return {ws_event::error, p.read_ec.message(), 0, {}};
    bool const text = p.visit([](auto& ws) { return ws.got_text(); });
    ws_event e{text ? ws_event::text : ws_event::binary, beast::buffers_to_string(p.buffer.data()), 0, {}};
    p.buffer.consume(p.buffer.size());
    return e;
}

json::object ws_client::read_json(std::chrono::milliseconds timeout) {
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto const left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
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
        auto const left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        auto const e = read(std::max(left, std::chrono::milliseconds{1}));
        if (e.kind == ws_event::closed) return e.close_code;
        if (e.kind == ws_event::error || e.kind == ws_event::timeout) return -1;
    }
    return -1;
}

void ws_client::close(int code) {
    auto& p = *impl_;
    bool closed = false;
    p.visit([&](auto& ws) {
        ws.async_close(websocket::close_reason(static_cast<std::uint16_t>(code)),
                       [&closed](boost::system::error_code) { closed = true; });
    });
    p.ioc.restart();
    p.ioc.run_for(std::chrono::seconds{3});
}

}  // namespace vigil::test
