// raw_websocket over a loopback socket: the write arbitration the frame tests
// cannot reach. A raw client (blocking socket, frames built by hand) stops
// reading so that a large server write stays in flight, then sends a ping or a
// close: the pong or close the reader owes must follow that write on the
// wire, not cut into it.
#include "net/raw_websocket.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <thread>

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;
using asio::ip::tcp;
using vigil::net::lingering_socket;
using vigil::net::raw_websocket;

namespace {

constexpr std::string_view client_key = "dGhlIHNhbXBsZSBub25jZQ==";

// The server side: a raw_websocket whose read loop runs on a thread of its own.
struct server {
    asio::io_context& io;
    std::unique_ptr<raw_websocket> ws;
    boost::beast::flat_buffer buffer;
    std::vector<std::string> messages;
    std::promise<boost::system::error_code> read_end;

    server(asio::io_context& i, vigil::net::tcp_socket s)
        : io(i), ws(std::make_unique<raw_websocket>(lingering_socket{std::move(s)})) {}

    void read() {
        ws->async_read_some(buffer, 256, [this](boost::system::error_code ec, std::size_t) {
            if (ec) return read_end.set_value(ec);
            messages.push_back(boost::beast::buffers_to_string(buffer.data()));
            buffer.consume(buffer.size());
            read();
        });
    }

    // Runs f on the server's thread and waits for it.
    template <class F>
    void on_thread(F f) {
        std::promise<void> done;
        asio::post(io, [&] {
            f();
            done.set_value();
        });
        done.get_future().wait();
    }
};

std::string client_frame(std::uint8_t op, std::string_view payload) {
    std::string out;
    out.push_back(char(0x80 | op));
    out.push_back(char(0x80 | payload.size()));  // < 126 in these tests
    char const mask[4] = {0x12, 0x34, 0x56, 0x78};
    out.append(mask, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) out.push_back(char(payload[i] ^ mask[i & 3]));
    return out;
}

struct frame {
    std::uint8_t first;
    std::string payload;
};

frame read_frame(tcp::socket& s) {
    std::uint8_t h[2];
    asio::read(s, asio::buffer(h));
    EXPECT_EQ(h[1] & 0x80, 0) << "server frames are not masked";
    std::uint64_t n = h[1] & 0x7F;
    if (n >= 126) {
        std::uint8_t ext[8];
        std::size_t const k = n == 126 ? 2 : 8;
        asio::read(s, asio::buffer(ext, k));
        n = 0;
        for (std::size_t i = 0; i < k; ++i) n = (n << 8) | ext[i];
    }
    std::string payload(n, '\0');
    asio::read(s, asio::buffer(payload));
    return {h[0], std::move(payload)};
}

class RawWebSocket : public ::testing::Test {
protected:
    void SetUp() override {
        tcp::acceptor acceptor{client_io, {asio::ip::address_v4::loopback(), 0}};
        // A small receive buffer lets a few MiB of server output stay in flight.
        client.open(tcp::v4());
        client.set_option(asio::socket_base::receive_buffer_size{4096});
        client.connect(acceptor.local_endpoint());
        srv = std::make_unique<server>(server_io, acceptor.accept(server_io));
        thread = std::thread([this] {
            auto guard = asio::make_work_guard(srv->io);
            srv->io.run();
        });
        // The upgrade request as http_session would have parsed it.
        vigil::net::http_request req{boost::beast::http::verb::get, "/ws/alerts/u", 11};
        req.set(boost::beast::http::field::sec_websocket_key, client_key);
        std::promise<boost::system::error_code> accepted_ec;
        srv->on_thread(
            [&] { srv->ws->async_accept(req, [&](boost::system::error_code ec) { accepted_ec.set_value(ec); }); });
        EXPECT_FALSE(accepted_ec.get_future().get());
        asio::streambuf head;
        asio::read_until(client, head, "\r\n\r\n");
        response = std::string(asio::buffers_begin(head.data()), asio::buffers_end(head.data()));
        EXPECT_EQ(head.size(), response.size());
        srv->on_thread([&] { srv->read(); });
    }

    void TearDown() override {
        boost::system::error_code ignored;
        client.close(ignored);
        srv->io.stop();
        thread.join();
        srv.reset();
    }

    std::size_t messages() {
        std::size_t n = 0;
        srv->on_thread([&] { n = srv->messages.size(); });
        return n;
    }

    asio::io_context client_io;
    asio::io_context server_io;  // outlives srv: destroys what srv left pending
    tcp::socket client{client_io};
    std::unique_ptr<server> srv;
    std::thread thread;
    std::string response;
};

}  // namespace

TEST_F(RawWebSocket, AnswersTheUpgradeAndEchoes) {
    EXPECT_EQ(response.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << response;
    EXPECT_NE(response.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos) << response;
    EXPECT_NE(response.find("Server: vigil\r\n"), std::string::npos) << response;
    EXPECT_EQ(response.find("Sec-WebSocket-Protocol"), std::string::npos);
    EXPECT_EQ(response.find("Sec-WebSocket-Extensions"), std::string::npos);
    // Two messages in one write: the second is parsed from what the first read left.
    asio::write(client, asio::buffer(client_frame(0x1, "one") + client_frame(0x1, "two")));
    std::string const payload = "hello";
    for (int i = 0; i < 200 && messages() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    srv->on_thread([&] {
        EXPECT_EQ(srv->messages, (std::vector<std::string>{"one", "two"}));
        srv->ws->text(true);
        srv->ws->async_write(asio::buffer(payload), [](boost::system::error_code ec, std::size_t n) {
            EXPECT_FALSE(ec);
            EXPECT_EQ(n, 5u);
        });
    });
    auto const f = read_frame(client);
    EXPECT_EQ(f.first, 0x81);
    EXPECT_EQ(f.payload, "hello");
}

TEST_F(RawWebSocket, GatheredWriteSendsEveryFrameInOrder) {
    std::vector<std::string> const texts{"first", std::string(300, 'm'), std::string(70000, 'l'), "last"};
    std::promise<std::size_t> written;
    srv->on_thread([&] {
        std::vector<raw_websocket::frame_out> frames;
        frames.push_back({vigil::net::ws::opcode::text, asio::buffer(texts[0])});
        frames.push_back({vigil::net::ws::opcode::ping, {}});
        for (std::size_t i = 1; i < texts.size(); ++i)
            frames.push_back({vigil::net::ws::opcode::text, asio::buffer(texts[i])});
        srv->ws->async_write_frames(std::move(frames), [&](boost::system::error_code ec, std::size_t n) {
            EXPECT_FALSE(ec);
            written.set_value(n);
        });
    });
    // 7-bit, 16-bit and 64-bit lengths, and an empty ping, back to back.
    auto const a = read_frame(client);
    EXPECT_EQ(a.first, 0x81);
    EXPECT_EQ(a.payload, texts[0]);
    auto const ping = read_frame(client);
    EXPECT_EQ(ping.first, 0x89);
    EXPECT_EQ(ping.payload, "");
    for (std::size_t i = 1; i < texts.size(); ++i) {
        auto const f = read_frame(client);
        EXPECT_EQ(f.first, 0x81);
        EXPECT_EQ(f.payload, texts[i]);
    }
    EXPECT_EQ(written.get_future().get(), texts[0].size() + texts[1].size() + texts[2].size() + texts[3].size());
}

TEST_F(RawWebSocket, PongWaitsForAGatheredWriteInFlight) {
    std::string const big(8 << 20, 'g');
    std::promise<boost::system::error_code> written;
    auto done = written.get_future();
    srv->on_thread([&] {
        std::vector<raw_websocket::frame_out> frames{{vigil::net::ws::opcode::text, asio::buffer(big)},
                                                     {vigil::net::ws::opcode::text, asio::buffer(big)}};
        srv->ws->async_write_frames(std::move(frames),
                                    [&](boost::system::error_code ec, std::size_t) { written.set_value(ec); });
    });
    asio::write(client, asio::buffer(client_frame(0x9, "pg")));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_EQ(done.wait_for(std::chrono::seconds{0}), std::future_status::timeout);
    for (int i = 0; i < 2; ++i) {
        auto const data = read_frame(client);
        EXPECT_EQ(data.first, 0x81);
        EXPECT_EQ(data.payload, big);
    }
    auto const pong = read_frame(client);
    EXPECT_EQ(pong.first, 0x8A);
    EXPECT_EQ(pong.payload, "pg");
    EXPECT_FALSE(done.get());
}

TEST_F(RawWebSocket, PongWaitsForTheWriteInFlight) {
    std::string const big(16 << 20, 'b');  // far more than both sockets buffer
    std::promise<boost::system::error_code> written;
    auto done = written.get_future();
    srv->on_thread([&] {
        srv->ws->async_write(asio::buffer(big),
                             [&](boost::system::error_code ec, std::size_t) { written.set_value(ec); });
    });
    asio::write(client, asio::buffer(client_frame(0x9, "p1")));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    // The precondition: the write is still stuck (the client does not read) when the ping is read.
    ASSERT_EQ(done.wait_for(std::chrono::seconds{0}), std::future_status::timeout);
    auto const data = read_frame(client);
    EXPECT_EQ(data.first, 0x81);
    EXPECT_EQ(data.payload.size(), big.size());
    EXPECT_EQ(data.payload, big);
    auto const pong = read_frame(client);
    EXPECT_EQ(pong.first, 0x8A);
    EXPECT_EQ(pong.payload, "p1");
    EXPECT_FALSE(done.get());
    // A ping with no write in flight is answered at once.
    asio::write(client, asio::buffer(client_frame(0x9, "p2")));
    auto const pong2 = read_frame(client);
    EXPECT_EQ(pong2.first, 0x8A);
    EXPECT_EQ(pong2.payload, "p2");
}

TEST_F(RawWebSocket, CloseEchoWaitsForTheWriteInFlightThenTearsDown) {
    std::string const big(16 << 20, 'c');
    std::promise<void> written;
    auto done = written.get_future();
    srv->on_thread([&] {
        srv->ws->async_write(asio::buffer(big), [&](boost::system::error_code, std::size_t) { written.set_value(); });
    });
    asio::write(client, asio::buffer(client_frame(0x8, std::string{"\x03\xE8", 2} + "bye")));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_EQ(done.wait_for(std::chrono::seconds{0}), std::future_status::timeout);
    auto const data = read_frame(client);
    EXPECT_EQ(data.payload.size(), big.size());
    auto const close = read_frame(client);
    EXPECT_EQ(close.first, 0x88);
    EXPECT_EQ(close.payload, std::string("\x03\xE8", 2) + "bye");
    // The server shut its sending side down: nothing follows the close frame.
    char byte;
    boost::system::error_code ec;
    asio::read(client, asio::buffer(&byte, 1), ec);
    EXPECT_EQ(ec, asio::error::eof);
    client.shutdown(tcp::socket::shutdown_send);  // ends the server's drain
    auto const read_ec = srv->read_end.get_future().get();
    EXPECT_EQ(read_ec, websocket::error::closed);
    srv->on_thread([&] { EXPECT_EQ(srv->ws->reason().code, 1000); });
}

TEST_F(RawWebSocket, OurCloseThenThePeersEndsTheReadLoop) {
    srv->on_thread([&] {
        srv->ws->async_close(websocket::close_reason{std::uint16_t(4008)},
                             [](boost::system::error_code ec) { EXPECT_FALSE(ec); });
        // Nothing may follow our close frame.
        static std::string const late = "late";
        srv->ws->async_write(asio::buffer(late), [](boost::system::error_code ec, std::size_t) {
            EXPECT_EQ(ec, websocket::error::closed);
        });
    });
    auto const close = read_frame(client);
    EXPECT_EQ(close.first, 0x88);
    EXPECT_EQ(close.payload, std::string("\x0F\xA8", 2));
    asio::write(client, asio::buffer(client_frame(0x8, std::string("\x0F\xA8", 2))));
    char byte;
    boost::system::error_code ec;
    asio::read(client, asio::buffer(&byte, 1), ec);
    EXPECT_EQ(ec, asio::error::eof);
    client.shutdown(tcp::socket::shutdown_send);
    EXPECT_EQ(srv->read_end.get_future().get(), websocket::error::closed);
    srv->on_thread([&] { EXPECT_EQ(srv->ws->reason().code, 4008); });
}

TEST_F(RawWebSocket, FailsAProtocolViolationWith1002) {
    std::string bad = client_frame(0x1, "x");
    bad[0] = char(0xC1);  // RSV1 without an extension
    asio::write(client, asio::buffer(bad));
    auto const close = read_frame(client);
    EXPECT_EQ(close.first, 0x88);
    EXPECT_EQ(close.payload, std::string("\x03\xEA", 2));
    client.shutdown(tcp::socket::shutdown_send);
    auto const ec = srv->read_end.get_future().get();
    EXPECT_EQ(ec, websocket::error::bad_opcode);
}
