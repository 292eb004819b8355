#pragma once
// A server-side RFC 6455 WebSocket over a plain TCP socket, for connections
// whose upgrade request http_session has already parsed and admitted.
//
// Why not Beast's websocket::stream: at 19k idle connections its per-stream
// state (timer, a fixed 1.5 KiB read buffer, frame buffers, saved handlers:
// ~2.6 KiB) and its pending read (~760 B of op memory plus the buffer it
// prepares) are most of the server's memory per connection. This stream keeps
// nothing allocated while a connection idles: the pending read is a bare
// `async_wait(wait_read)`, the bytes are read non-blocking into a per-thread
// scratch buffer, and only the bytes of an incomplete frame or message stay
// with the connection (in strings that are empty between messages).
//
// It offers the subset of Beast's stream API ws_session uses, with the same
// meanings (error::closed when the peer closed, error::message_too_big for
// close 1009, reason() the peer's close code), so ws_session reads the same
// for plain and TLS connections (TLS keeps Beast's stream). Differences:
// async_read_some always completes with a whole message (is_message_done() is
// then true) and ignores its size hint; only the handshake timeout of
// set_option(timeout) applies; responses always carry `Server: vigil`.
//
// Writes: one at a time from the user (ws_session already serialises them).
// Control frames the reader owes (a pong, the close echo, a failing close)
// are written by the reader when no write is in flight, and otherwise queued
// and written by the write in flight before it completes, never inside it.
#include "net/http_types.hpp"
#include "net/lingering_socket.hpp"
#include "net/ws_frame.hpp"

#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>  // frame_type, for the control callback

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace vigil::net {

class raw_websocket {
public:
    using executor_type = lingering_socket::executor_type;
    using frame_type = boost::beast::websocket::frame_type;
    using control_callback_type = std::function<void(frame_type, boost::beast::string_view)>;

    explicit raw_websocket(lingering_socket&& socket);

    executor_type get_executor() noexcept { return socket_.get_executor(); }
    lingering_socket& next_layer() noexcept { return socket_; }

    // Only handshake_timeout is used: vigil's heartbeat sweep does the rest.
    void set_option(boost::beast::websocket::stream_base::timeout const& t);
    void read_message_max(std::size_t bytes) noexcept { reader_.max_message(bytes); }
    // Called with every ping and pong frame received.
    void control_callback(control_callback_type cb) { control_callback_ = std::move(cb); }
    bool is_message_done() const noexcept { return true; }
    bool got_binary() const noexcept { return got_binary_; }
    void text(bool yes) noexcept { binary_ = !yes; }
    // The peer's close code (none until it sent a close frame).
    boost::beast::websocket::close_reason reason() const { return {peer_code_}; }

    // Answers the (already validated) upgrade request with 101.
    template <class Handler>
    auto async_accept(http_request const& req, Handler&& handler);
    // Completes with one whole message appended to `buffer`.
    template <class DynamicBuffer, class Handler>
    auto async_read_some(DynamicBuffer& buffer, std::size_t size_hint, Handler&& handler);
    // One unfragmented text (or binary, after text(false)) message; `payload`
    // must stay valid until the handler runs.
    template <class Handler>
    auto async_write(boost::asio::const_buffer payload, Handler&& handler);
    // Several unfragmented messages (text, binary or ping) in one gathered
    // write, so a connection with a queue pays one system call for it, not
    // one per message. At most max_frames_per_write; payloads must stay valid
    // until the handler runs, which gets the payload bytes written.
    struct frame_out {
        ws::opcode op = ws::opcode::text;
        boost::asio::const_buffer payload;
    };
    static constexpr std::size_t max_frames_per_write = 32;  // 64 iovecs: one sendmsg
    template <class Handler>
    auto async_write_frames(std::vector<frame_out> frames, Handler&& handler);
    template <class Handler>
    auto async_ping(boost::beast::websocket::ping_data const& payload, Handler&& handler);
    // Sends our close frame; the read loop then sees the peer's and completes
    // with error::closed after the teardown.
    template <class Handler>
    auto async_close(boost::beast::websocket::close_reason const& cr, Handler&& handler);

private:
    template <class DynamicBuffer>
    struct read_op;
    struct write_op;
    struct accept_op;

    // An operation waiting for the write in flight to end, erased to one type.
    struct parked_op {
        virtual ~parked_op() = default;
        virtual void resume() = 0;
    };
    template <class Self>
    struct parked final : parked_op {
        Self self;
        explicit parked(Self&& s) : self(std::move(s)) {}
        void resume() override { self(); }
    };
    template <class Self>
    void park(std::unique_ptr<parked_op>& slot, Self& self) {
        slot = std::make_unique<parked<Self>>(std::move(self));
    }

    // Moves the queued control frames into the in-flight buffer; false if none.
    bool take_control_frames();
    // The write path is free: wakes the operation waiting for it (posted).
    void end_write();
    // Keeps the unparsed rest of the scratch buffer for the next read.
    void stash(char const* data, std::size_t size);
    static std::array<char, 16 * 1024>& scratch() noexcept;
    static boost::system::error_code read_error_for(std::uint16_t close_code) noexcept;

    lingering_socket socket_;
    ws::frame_reader reader_;
    // What a connection needs only while something is under way; an idle one
    // has none of it (136 bytes fewer per connection).
    struct busy_state {
        std::string pending;                      // bytes read but not parsed yet (a message completed before them)
        std::string pong;                         // the pong owed for the latest ping, not on the wire yet
        std::string control;                      // ping / close frames not on the wire yet
        std::string in_flight;                    // control frames (or the 101 answer) being written
        std::unique_ptr<parked_op> parked_read;   // the reader, waiting to tear down after a write
        std::unique_ptr<parked_op> parked_write;  // a user write, waiting for the reader's control write
    };
    busy_state& busy() {
        if (!busy_) busy_ = std::make_unique<busy_state>();
        return *busy_;
    }
    bool has_pending() const noexcept { return busy_ && !busy_->pending.empty(); }
    // Frees busy_ once it holds nothing and no write is on the socket.
    void trim() noexcept;
    std::unique_ptr<busy_state> busy_;
    control_callback_type control_callback_;
    std::uint16_t peer_code_ = 0;
    std::uint16_t handshake_timeout_s_ = 10;
    std::uint8_t header_[ws::max_header_bytes];
    std::uint8_t header_bytes_ = 0;
    bool writing_ : 1 = false;     // a write (user's or reader's) is on the socket
    bool close_sent_ : 1 = false;  // no frame may follow
    bool got_binary_ : 1 = false;
    bool binary_ : 1 = false;
};

// ---------------------------------------------------------------- accept

struct raw_websocket::accept_op {
    explicit accept_op(raw_websocket& w) : ws(w) {}

    raw_websocket& ws;
    std::shared_ptr<boost::asio::steady_timer> timer;
    bool started = false;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t = 0) {
        namespace asio = boost::asio;
        if (!started) {
            started = true;
            ws.writing_ = true;
            // The handshake's write is bounded: a peer that does not read gets
            // its socket closed. The timer's handler may run after this
            // operation (cancelled, or expired while it completed): it touches
            // the socket only while the expiry is unchanged.
            timer =
                std::make_shared<asio::steady_timer>(ws.get_executor(), std::chrono::seconds{ws.handshake_timeout_s_});
            timer->async_wait([t = timer, &socket = ws.socket_](boost::system::error_code e) {
                if (e || t->expiry() == asio::steady_timer::time_point::min()) return;
                boost::system::error_code ignored;
                socket.close(ignored);
            });
            return asio::async_write(ws.socket_, asio::buffer(ws.busy().in_flight), std::move(self));
        }
        bool const timed_out = ec && timer->expiry() <= asio::steady_timer::clock_type::now();
        timer->expires_at(asio::steady_timer::time_point::min());  // cancels it; see above
        timer.reset();
        ws.writing_ = false;
        std::string().swap(ws.busy().in_flight);
        ws.trim();
        if (timed_out) ec = boost::beast::error::timeout;
        self.complete(ec);
    }
};

template <class Handler>
auto raw_websocket::async_accept(http_request const& req, Handler&& handler) {
    // RFC 6455 4.2.2. No subprotocol and no extension is ever selected (as
    // with Beast's stream before): vigil offers none.
    auto& out = busy().in_flight;
    out.reserve(160);
    out.append("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
    out.append("Sec-WebSocket-Accept: ")
        .append(ws::accept_key(req[boost::beast::http::field::sec_websocket_key]))
        .append("\r\nServer: vigil\r\n\r\n");
    return boost::asio::async_compose<Handler, void(boost::system::error_code)>(accept_op{*this}, handler, socket_);
}

// ---------------------------------------------------------------- read

template <class DynamicBuffer>
struct raw_websocket::read_op {
    read_op(raw_websocket& w, DynamicBuffer& b) : ws(w), buffer(b) {}

    raw_websocket& ws;
    DynamicBuffer& buffer;
    enum : std::uint8_t {
        start,
        waiting,        // for the socket to become readable
        resuming,       // posted: parse what the last read left over
        writing_pong,   // the reader's own control write; then on with what was read
        parked_close,   // the close frame waits for the write in flight
        writing_close,  // the reader's close frame
        tearing_down,
    } state = start;
    boost::system::error_code result;  // what the read completes with after a close

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t = 0) {
        namespace asio = boost::asio;
        switch (state) {
            case start:
                if (ws.has_pending()) {
                    // Frames read along with the last message: go on with them, but
                    // not from inside the initiating call.
                    state = resuming;
                    return asio::post(ws.get_executor(), std::move(self));
                }
                // Nothing is read at initiation (the handler must not run inside
                // it); the wait re-arms epoll, so bytes already there wake it.
                state = waiting;
                return ws.socket_.async_wait(lingering_socket::wait_read, std::move(self));
            case waiting:
                if (ec) return self.complete(ec, 0);
                return read_socket(self);
            case resuming: return resume_pending(self);
            case writing_pong:
                if (ec) {
                    ws.end_write();
                    return self.complete(ec, 0);
                }
                if (ws.take_control_frames()) return write_in_flight(self);  // more was queued meanwhile
                ws.end_write();
                return resume_pending(self);
            case parked_close:
                // The write that was in flight has written our close frame (or failed).
                return tear_down(self);
            case writing_close: ws.end_write(); return tear_down(self);
            case tearing_down: return self.complete(result, 0);
        }
    }

private:
    template <class Self>
    void write_in_flight(Self& self) {
        ws.writing_ = true;
        boost::asio::async_write(ws.socket_, boost::asio::buffer(ws.busy().in_flight), std::move(self));
    }

    template <class Self>
    void tear_down(Self& self) {
        state = tearing_down;
        // shutdown(send), drain up to 1 MiB of what the peer still sends, close
        async_teardown(boost::beast::role_type::server, ws.socket_, std::move(self));
    }

    template <class Self>
    void resume_pending(Self& self) {
        auto& scratch = raw_websocket::scratch();
        std::size_t n = 0;
        if (ws.has_pending()) {
            n = ws.busy_->pending.size();
            std::memcpy(scratch.data(), ws.busy_->pending.data(), n);
            std::string().swap(ws.busy_->pending);
            ws.trim();
        }
        if (!parse(self, scratch.data(), n)) return;
        read_socket(self);
    }

    template <class Self>
    void read_socket(Self& self) {
        auto& scratch = raw_websocket::scratch();
        for (int reads = 0;; ++reads) {
            if (reads == 4) {
                // A peer that keeps sending without completing a message (pongs,
                // a huge fragmented message) must not hold the thread: the other
                // connections' handlers run before this one reads on.
                state = waiting;
                return boost::asio::post(ws.get_executor(), std::move(self));
            }
            boost::system::error_code ec;
            std::size_t const n = ws.socket_.read_some(boost::asio::buffer(scratch), ec);  // non-blocking
            if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
                state = waiting;
                return ws.socket_.async_wait(lingering_socket::wait_read, std::move(self));
            }
            if (ec) return self.complete(ec, 0);
            if (!parse(self, scratch.data(), n)) return;
        }
    }

    // Runs the frame reader over data[0, size): false when it handed `self`
    // on (completed, or went asynchronous), true when it needs more input.
    template <class Self>
    bool parse(Self& self, char* data, std::size_t size) {
        using event = ws::frame_reader::event;
        while (true) {
            std::size_t used = 0;
            auto const e = ws.reader_.feed(data, size, used);
            data += used;
            size -= used;
            switch (e.kind) {
                case event::need_more: return true;
                case event::message: {
                    auto const n = e.payload.size();
                    boost::asio::buffer_copy(buffer.prepare(n), boost::asio::buffer(e.payload.data(), n));
                    buffer.commit(n);
                    ws.got_binary_ = e.binary;
                    ws.reader_.release_message();
                    ws.stash(data, size);
                    self.complete({}, n);
                    return false;
                }
                case event::pong:
                case event::ping:
                    if (ws.control_callback_)
                        ws.control_callback_(e.kind == event::ping ? frame_type::ping : frame_type::pong,
                                             {e.payload.data(), e.payload.size()});
                    if (e.kind == event::pong || ws.close_sent_) break;
                    // Only the latest ping is answered if several wait (RFC 6455 5.5.3).
                    ws.busy().pong.resize(ws::max_header_bytes);
                    ws.busy().pong.resize(ws::write_header(reinterpret_cast<std::uint8_t*>(ws.busy().pong.data()),
                                                           ws::opcode::pong, e.payload.size()));
                    ws.busy().pong.append(e.payload);
                    if (ws.writing_) break;  // the write in flight sends it when it ends
                    ws.stash(data, size);
                    ws.take_control_frames();
                    state = writing_pong;
                    write_in_flight(self);
                    return false;
                case event::close:
                    ws.peer_code_ = e.code;
                    // Echo the peer's close (RFC 6455 5.5.1) unless ours went already.
                    close(self, boost::beast::websocket::error::closed, e.code, {e.payload.data(), e.payload.size()});
                    return false;
                case event::fail: close(self, read_error_for(e.code), e.code, {}); return false;
            }
        }
    }

    template <class Self>
    void close(Self& self, boost::system::error_code why, std::uint16_t code, std::string_view reason) {
        result = why;
        if (ws.has_pending()) std::string().swap(ws.busy_->pending);
        if (!ws.close_sent_) {
            ws.close_sent_ = true;
            ws.busy().control += ws::close_frame(code, reason);
        }
        if (ws.writing_) {
            // The write in flight writes the close frame when it ends, then wakes us.
            state = parked_close;
            return ws.park(ws.busy().parked_read, self);
        }
        if (ws.take_control_frames()) {
            state = writing_close;
            return write_in_flight(self);
        }
        tear_down(self);
    }
};

template <class DynamicBuffer, class Handler>
auto raw_websocket::async_read_some(DynamicBuffer& buffer, std::size_t, Handler&& handler) {
    return boost::asio::async_compose<Handler, void(boost::system::error_code, std::size_t)>(
        read_op<DynamicBuffer>{*this, buffer}, handler, socket_);
}

// ---------------------------------------------------------------- write

// A data frame (header_ + the caller's payload), or the control frames queued
// in control_ (ping, close). Either way the control frames owed by the reader
// are written after it, before the handler runs.
struct raw_websocket::write_op {
    write_op(raw_websocket& w, boost::asio::const_buffer p, bool d) : ws(w), payload(p), data(d) {}
    write_op(raw_websocket& w, std::vector<frame_out> f) : ws(w), data(true), frames(std::move(f)) {}

    raw_websocket& ws;
    boost::asio::const_buffer payload;
    bool data;                          // else: control_ already holds the frame
    std::vector<frame_out> frames;      // a gathered write (data): several frames
    std::vector<std::uint8_t> headers;  // their headers; heap storage, so stable while the op moves
    enum : std::uint8_t { start, writing, flushing } state = start;
    bool mine = false;  // this operation holds the write path
    boost::system::error_code result;
    std::size_t payload_bytes = 0;
    std::size_t bytes = 0;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t = 0) {
        namespace asio = boost::asio;
        switch (state) {
            case start:
                if (ws.writing_) return ws.park(ws.busy().parked_write, self);  // the reader's pong is on the wire
                if (data && ws.close_sent_) {
                    state = flushing;  // nothing was written
                    result = boost::beast::websocket::error::closed;
                    return asio::post(ws.get_executor(), std::move(self));
                }
                ws.writing_ = true;
                mine = true;
                state = writing;
                if (data && !frames.empty()) {
                    headers.resize(frames.size() * ws::max_header_bytes);
                    std::vector<asio::const_buffer> buffers;  // copied by async_write
                    buffers.reserve(frames.size() * 2);
                    for (std::size_t i = 0; i < frames.size(); ++i) {
                        auto* h = headers.data() + i * ws::max_header_bytes;
                        buffers.push_back(asio::buffer(h, ws::write_header(h, frames[i].op, frames[i].payload.size())));
                        if (frames[i].payload.size()) buffers.push_back(frames[i].payload);
                        payload_bytes += frames[i].payload.size();
                    }
                    return asio::async_write(ws.socket_, buffers, std::move(self));
                }
                if (data) {
                    ws.header_bytes_ = std::uint8_t(ws::write_header(
                        ws.header_, ws.binary_ ? ws::opcode::binary : ws::opcode::text, payload.size()));
                    std::array<asio::const_buffer, 2> const buffers{asio::buffer(ws.header_, ws.header_bytes_),
                                                                    payload};
                    payload_bytes = payload.size();
                    return asio::async_write(ws.socket_, buffers, std::move(self));
                }
                if (!ws.take_control_frames()) {  // the reader's write already sent ours
                    ws.writing_ = mine = false;
                    ws.trim();
                    state = flushing;
                    return asio::post(ws.get_executor(), std::move(self));
                }
                return asio::async_write(ws.socket_, asio::buffer(ws.busy().in_flight), std::move(self));
            case writing:
                result = ec;
                bytes = data && !ec ? payload_bytes : 0;
                [[fallthrough]];
            case flushing:
                if (state == flushing && ec && !result) result = ec;
                if (!result && ws.take_control_frames()) {
                    state = flushing;
                    return asio::async_write(ws.socket_, asio::buffer(ws.busy().in_flight), std::move(self));
                }
                if (mine) ws.end_write();
                return complete(self);
        }
    }

private:
    template <class Self>
    void complete(Self& self) {
        if constexpr (requires { self.complete(result, bytes); })
            self.complete(result, bytes);
        else
            self.complete(result);
    }
};

template <class Handler>
auto raw_websocket::async_write(boost::asio::const_buffer payload, Handler&& handler) {
    return boost::asio::async_compose<Handler, void(boost::system::error_code, std::size_t)>(
        write_op{*this, payload, true}, handler, socket_);
}

template <class Handler>
auto raw_websocket::async_write_frames(std::vector<frame_out> frames, Handler&& handler) {
    BOOST_ASSERT(!frames.empty() && frames.size() <= max_frames_per_write);
    return boost::asio::async_compose<Handler, void(boost::system::error_code, std::size_t)>(
        write_op{*this, std::move(frames)}, handler, socket_);
}

template <class Handler>
auto raw_websocket::async_ping(boost::beast::websocket::ping_data const& payload, Handler&& handler) {
    if (!close_sent_) {
        std::uint8_t header[ws::max_header_bytes];
        auto& out = busy().control;
        out.append(reinterpret_cast<char const*>(header), ws::write_header(header, ws::opcode::ping, payload.size()));
        out.append(payload.data(), payload.size());
    }
    return boost::asio::async_compose<Handler, void(boost::system::error_code)>(write_op{*this, {}, false}, handler,
                                                                                socket_);
}

template <class Handler>
auto raw_websocket::async_close(boost::beast::websocket::close_reason const& cr, Handler&& handler) {
    if (!close_sent_) {
        close_sent_ = true;
        busy().control += ws::close_frame(cr.code, {cr.reason.data(), cr.reason.size()});
    }
    return boost::asio::async_compose<Handler, void(boost::system::error_code)>(write_op{*this, {}, false}, handler,
                                                                                socket_);
}

}  // namespace vigil::net
