#include "net/raw_websocket.hpp"

namespace vigil::net {

namespace asio = boost::asio;

raw_websocket::raw_websocket(lingering_socket&& socket) : socket_(std::move(socket)) {
    // Reads are attempted only after the socket reported readable and must
    // stop, not block, when it is drained.
    boost::system::error_code ignored;
    socket_.non_blocking(true, ignored);
}

void raw_websocket::set_option(boost::beast::websocket::stream_base::timeout const& t) {
    using boost::beast::websocket::stream_base;
    // This stream has no idle timer and sends no keep-alive pings of its own.
    BOOST_ASSERT(t.idle_timeout == stream_base::none() && !t.keep_alive_pings);
    if (t.handshake_timeout != stream_base::none()) {
        auto const s = std::chrono::duration_cast<std::chrono::seconds>(t.handshake_timeout).count();
        handshake_timeout_s_ = std::uint16_t(std::clamp<std::int64_t>(s, 1, 3600));
    }
}

bool raw_websocket::take_control_frames() {
    if (!busy_ || (busy_->pong.empty() && busy_->control.empty())) return false;
    auto& b = *busy_;
    b.in_flight.clear();
    b.in_flight.swap(b.pong);  // the pong first: a close frame must be the last frame
    b.in_flight.append(b.control);
    std::string().swap(b.control);
    return true;
}

void raw_websocket::end_write() {
    writing_ = false;
    if (busy_) {
        std::string().swap(busy_->in_flight);
        for (auto* slot : {&busy_->parked_read, &busy_->parked_write}) {
            if (*slot) asio::post(socket_.get_executor(), [p = std::move(*slot)] { p->resume(); });
        }
    }
    trim();
}

void raw_websocket::trim() noexcept {
    if (!busy_ || writing_) return;
    auto const& b = *busy_;
    if (b.pending.empty() && b.pong.empty() && b.control.empty() && b.in_flight.empty() && !b.parked_read &&
        !b.parked_write)
        busy_.reset();
}

void raw_websocket::stash(char const* data, std::size_t size) {
    if (size) {
        busy().pending.assign(data, size);
    } else if (busy_) {
        std::string().swap(busy_->pending);
        trim();
    }
}

std::array<char, 16 * 1024>& raw_websocket::scratch() noexcept {
    // Shared by every connection of the thread: a read's bytes are parsed (or
    // stashed) before the handler returns.
    static thread_local std::array<char, 16 * 1024> buffer;
    return buffer;
}

boost::system::error_code raw_websocket::read_error_for(std::uint16_t close_code) noexcept {
    using error = boost::beast::websocket::error;
    switch (close_code) {
        case ws::close_status::too_big: return error::message_too_big;
        case ws::close_status::invalid_payload: return error::bad_frame_payload;
        default: return error::bad_opcode;  // as Beast's: of condition::protocol_violation
    }
}

}  // namespace vigil::net
