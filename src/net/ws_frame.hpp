#pragma once
// RFC 6455 framing for the server side, without I/O: an incremental reader of
// client frames and the helpers to write server frames. raw_websocket drives
// it over a plain socket; the unit tests and the fuzzer drive it directly.
//
// The reader is fed whatever bytes arrived, in any split, and unmasks payload
// bytes in place. Per connection it keeps only what it must between reads:
// the bytes of an incomplete frame header (at most 14), the payload of an
// unfinished message or control frame (std::strings that are empty, and
// unallocated, while the connection idles), and a few bit-fields.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::net::ws {

enum class opcode : std::uint8_t { cont = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

// Close codes the reader fails a connection with (RFC 6455 7.4.1).
namespace close_status {
inline constexpr std::uint16_t none = 0;  // a close frame without a code (1005 on the wire is never sent)
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t too_big = 1009;
}  // namespace close_status

// Incremental UTF-8 validation (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF), so a text message split across reads or fragments
// is checked as it arrives and fails at the first byte that makes it invalid.
class utf8_validator {
public:
    // False once the bytes seen so far cannot be the start of valid UTF-8.
    bool feed(std::string_view bytes) noexcept;
    // True when the bytes so far end on a code point boundary.
    bool complete() const noexcept { return state_ == accept; }
    void reset() noexcept { state_ = accept; }

private:
    static constexpr std::uint8_t accept = 0, reject = 8;
    std::uint8_t state_ = accept;
};

bool is_valid_utf8(std::string_view bytes) noexcept;

// Codes a peer may put in a close frame (RFC 6455 7.4): 1000-1003, 1007-1014
// and 3000-4999. 1004-1006, 1015, the reserved 1016-2999 and the undefined
// 0-999 and 5000+ fail the connection.
bool is_valid_close_code(std::uint16_t code) noexcept;

// Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2): base64 of the
// SHA-1 of the key followed by the protocol's GUID.
std::string accept_key(std::string_view key);

// Writes the header of an unmasked server frame with FIN set into `out` (at
// least max_header_bytes) and returns its length.
inline constexpr std::size_t max_header_bytes = 10;
std::size_t write_header(std::uint8_t* out, opcode op, std::uint64_t payload_bytes) noexcept;

// A whole close frame: code (none: no payload) and a reason of at most 123 bytes.
std::string close_frame(std::uint16_t code, std::string_view reason);

class frame_reader {
public:
    struct event {
        enum kind_t : std::uint8_t {
            need_more,  // every byte given was consumed; nothing to report yet
            message,    // a whole data message: payload, binary
            ping,       // payload
            pong,       // payload
            close,      // a valid close frame: code (close_status::none if it had none), payload = reason
            fail,       // a protocol violation: code is the close code to fail the connection with
        } kind = need_more;
        bool binary = false;
        std::uint16_t code = 0;
        // Points into the bytes given to feed() or into the reader's own buffer:
        // valid until the next call to feed() or release_message().
        std::string_view payload;
    };

    explicit frame_reader(std::size_t max_message_bytes = 64 * 1024) noexcept : max_message_(max_message_bytes) {}

    void max_message(std::size_t bytes) noexcept { max_message_ = bytes; }
    std::size_t max_message() const noexcept { return max_message_; }

    // Reads from data[0, size) up to the end of the first frame that completes
    // an event, unmasking payload bytes in place; `used` tells how many bytes
    // were consumed (all of them when it returns need_more). After a fail,
    // every later call fails again with the same code.
    event feed(char* data, std::size_t size, std::size_t& used);

    // Gives back the memory a message assembled across reads or fragments
    // took; call it once a `message` event's payload has been used.
    void release_message() noexcept;

    // True when no partial frame or message is held.
    bool idle() const noexcept { return header_bytes_ == 0 && !in_frame_ && !in_message_; }

private:
    event fail(std::uint16_t code) noexcept;
    // Header complete: checks it and sets the frame state up. Returns a fail
    // event, or need_more to go on.
    event start_frame() noexcept;
    event finish_frame(std::string_view payload);

    std::string message_;          // an unfinished data message's payload so far (unmasked)
    std::string control_;          // an unfinished control frame's payload so far (unmasked)
    std::uint64_t remaining_ = 0;  // payload bytes of the current frame still to come
    std::size_t max_message_;
    std::uint8_t header_[14];  // the current frame's header while it arrives; its mask after
    utf8_validator utf8_;      // the text message being read
    std::uint8_t header_bytes_ : 4 = 0;
    std::uint8_t mask_offset_ : 2 = 0;  // where in the mask the next payload byte is
    std::uint8_t in_frame_ : 1 = 0;     // header read, payload pending
    std::uint8_t in_message_ : 1 = 0;   // a fragmented data message is under way
    std::uint8_t opcode_ : 4 = 0;       // the current frame's
    std::uint8_t fin_ : 1 = 0;
    std::uint8_t message_binary_ : 1 = 0;
    std::uint8_t zero_copy_ : 1 = 0;  // the current frame's payload is read straight from the input
    std::uint16_t failed_code_ = 0;
};

}  // namespace vigil::net::ws
