// What the server relies on from Asio's I/O backend when sockets close with
// operations pending, as happens to every connection a client drops: the
// pending operation ends with operation_aborted, and nothing of it reaches the
// sockets opened next, which get the closed one's descriptor number (and, on
// io_uring, its per-socket state). Boost 1.81's io_uring backend failed both
// (third_party/asio); epoll builds run the same checks.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

struct read_result {
    error_code ec;
    std::size_t n = 0;
};

class IoBackendClose : public ::testing::Test {
protected:
    asio::io_context ctx;
    tcp::acceptor acceptor{ctx, {asio::ip::address_v4::loopback(), 0}};

    // {client, server}: the client socket is opened first, so it takes the
    // lowest free descriptor number.
    std::pair<tcp::socket, tcp::socket> connected_pair() {
        tcp::socket client(ctx);
        client.connect(acceptor.local_endpoint());
        return {std::move(client), acceptor.accept()};
    }

    // Runs handlers until `done` holds a result, for at most two seconds.
    void run_until(std::optional<read_result> const& done) {
        auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        ctx.restart();
        while (!done && std::chrono::steady_clock::now() < deadline) ctx.run_one_until(deadline);
    }
};

TEST_F(IoBackendClose, AReadPendingAtCloseNeverTakesTheNextSocketsBytes) {
    for (int round = 0; round < 20; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        auto [a, a_peer] = connected_pair();
        std::array<char, 64> a_buffer{};
        std::optional<read_result> a_done;
        a.async_read_some(asio::buffer(a_buffer), [&](error_code ec, std::size_t n) { a_done = {ec, n}; });
        ctx.restart();
        ctx.poll();  // the read is now in the kernel's hands
        ASSERT_FALSE(a_done);
        auto const a_fd = a.native_handle();
        a.close();

        auto [b, b_peer] = connected_pair();
        EXPECT_EQ(b.native_handle(), a_fd) << "the next socket reuses the closed one's number";
        std::array<char, 64> b_buffer{};
        std::optional<read_result> b_done;
        b.async_read_some(asio::buffer(b_buffer), [&](error_code ec, std::size_t n) { b_done = {ec, n}; });
        std::string const message = "for b, round " + std::to_string(round);
        asio::write(b_peer, asio::buffer(message));

        run_until(b_done);
        run_until(a_done);
        ASSERT_TRUE(a_done);
        EXPECT_EQ(a_done->ec, asio::error::operation_aborted) << a_done->ec.message();
        EXPECT_EQ(a_done->n, 0u);
        ASSERT_TRUE(b_done) << "b's read never completed";
        ASSERT_FALSE(b_done->ec) << b_done->ec.message();
        EXPECT_EQ(std::string(b_buffer.data(), b_done->n), message);
    }
}

// A cancellation is itself an entry in io_uring's submission ring, and its
// completion must go to nobody. Reads that are cancelled or get a byte, each
// started as soon as the one before it ended (as a server reads), enough of
// them to lap the ring (16,384 entries) several times: every read ends with
// operation_aborted or its one byte, never with bytes or an end of stream it
// did not get, and a reader that waits throughout is never woken.
TEST_F(IoBackendClose, CancellationsEndOnlyTheReadTheyCancel) {
    auto [waiting, waiting_peer] = connected_pair();
    std::array<char, 16> waiting_buffer{};
    std::optional<read_result> waiting_done;
    waiting.async_read_some(asio::buffer(waiting_buffer), [&](error_code ec, std::size_t n) {
        waiting_done = {ec, n};
    });

    // Each read has a buffer of its own, as a server's reads do: a read that
    // ended while the kernel still held its entry would leave the bytes in
    // its buffer, and the next read would report them without having them.
    auto [x, x_peer] = connected_pair();
    struct ended_read {
        read_result r;
        char first_byte;
    };
    std::vector<ended_read> ended;
    std::vector<std::unique_ptr<std::array<char, 16>>> buffers;  // kept: the kernel may still write one
    std::function<void()> read_next = [&] {
        auto& buffer = *buffers.emplace_back(std::make_unique<std::array<char, 16>>());
        x.async_read_some(asio::buffer(buffer), [&](error_code ec, std::size_t n) {
            ended.push_back({{ec, n}, buffer[0]});
            if (ec != asio::error::bad_descriptor) read_next();
        });
    };
    read_next();

    for (std::size_t cycle = 0; cycle < 20'000; ++cycle) {
        // Every seventh read gets a byte instead of a cancellation, so that
        // cancellations fall on ring slots that reads used before them.
        bool const gets_data = cycle % 7 == 0;
        char const byte = char('a' + cycle % 26);
        ctx.restart();
        ctx.poll();  // the read is in the kernel's hands
        if (gets_data) {
            asio::write(x_peer, asio::buffer(&byte, 1));
        } else {
            x.cancel();
        }
        auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        ctx.restart();
        while (ended.size() == cycle && std::chrono::steady_clock::now() < deadline) ctx.run_one_until(deadline);
        ASSERT_EQ(ended.size(), cycle + 1) << "cycle " << cycle << ": the read did not end once";
        auto const& [r, first_byte] = ended.back();
        if (gets_data) {
            ASSERT_FALSE(r.ec) << "cycle " << cycle << ": " << r.ec.message();
            ASSERT_EQ(r.n, 1u) << "cycle " << cycle;
            ASSERT_EQ(first_byte, byte) << "cycle " << cycle << ": the byte is not in this read's buffer";
        } else {
            ASSERT_EQ(r.ec, asio::error::operation_aborted)
                << "cycle " << cycle << ": " << r.ec.message() << ", " << r.n << " bytes";
        }
        ASSERT_FALSE(waiting_done) << "cycle " << cycle << ": the waiting read was completed by another's cancellation";
    }
    x.close();  // the last read ends with operation_aborted; read_next stops at bad_descriptor
    ctx.restart();
    ctx.run_for(std::chrono::milliseconds(50));
    read_next = nullptr;

    asio::write(waiting_peer, asio::buffer("end", 3));
    run_until(waiting_done);
    ASSERT_TRUE(waiting_done);
    EXPECT_FALSE(waiting_done->ec);
    EXPECT_EQ(std::string(waiting_buffer.data(), waiting_done->n), "end");
}

}  // namespace
