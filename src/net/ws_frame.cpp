#include "net/ws_frame.hpp"

#include "common/base64.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

namespace vigil::net::ws {

// ---------------------------------------------------------------- UTF-8

// States: 0 accept; 1-3 that many continuation bytes (80..BF) still due; 4-7
// the second byte of a sequence whose lead restricts it (E0: A0..BF, no
// overlong; ED: 80..9F, no surrogates; F0: 90..BF, no overlong; F4: 80..8F,
// nothing above U+10FFFF); 8 reject.
bool utf8_validator::feed(std::string_view bytes) noexcept {
    auto const* p = reinterpret_cast<unsigned char const*>(bytes.data());
    auto const* const end = p + bytes.size();
    std::uint8_t s = state_;
    while (p != end) {
        if (s == accept) {
            // ASCII runs, eight bytes at a time.
            while (end - p >= 8) {
                std::uint64_t word;
                std::memcpy(&word, p, 8);
                if (word & 0x8080808080808080ull) break;
                p += 8;
            }
            if (p == end) break;
        }
        unsigned const b = *p++;
        bool const cont = (b & 0xC0) == 0x80;
        switch (s) {
            case accept:
                if (b < 0x80)
                    s = accept;
                else if (b < 0xC2)
                    s = reject;  // a continuation byte, or an overlong 2-byte lead
                else if (b < 0xE0)
                    s = 1;
                else if (b == 0xE0)
                    s = 4;
                else if (b == 0xED)
                    s = 5;
                else if (b < 0xF0)
                    s = 2;
                else if (b == 0xF0)
                    s = 6;
                else if (b < 0xF4)
                    s = 3;
                else if (b == 0xF4)
                    s = 7;
                else
                    s = reject;
                break;
            case 1: s = cont ? accept : reject; break;
            case 2: s = cont ? 1 : reject; break;
            case 3: s = cont ? 2 : reject; break;
            case 4: s = b >= 0xA0 && b <= 0xBF ? 1 : reject; break;
            case 5: s = b >= 0x80 && b <= 0x9F ? 1 : reject; break;
            case 6: s = b >= 0x90 && b <= 0xBF ? 2 : reject; break;
            case 7: s = b >= 0x80 && b <= 0x8F ? 2 : reject; break;
            default: s = reject; break;
        }
        if (s == reject) break;
    }
    state_ = s;
    return s != reject;
}

bool is_valid_utf8(std::string_view bytes) noexcept {
    utf8_validator v;
    return v.feed(bytes) && v.complete();
}

// ---------------------------------------------------------------- helpers

bool is_valid_close_code(std::uint16_t code) noexcept {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

std::string accept_key(std::string_view key) {
    static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 1.3
    std::string input;
    input.reserve(key.size() + guid.size());
    input.append(key).append(guid);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha1(), nullptr);
    return base64_encode({reinterpret_cast<char const*>(digest), length});
}

std::size_t write_header(std::uint8_t* out, opcode op, std::uint64_t n) noexcept {
    out[0] = std::uint8_t(0x80 | std::uint8_t(op));  // FIN: vigil never fragments
    if (n < 126) {
        out[1] = std::uint8_t(n);
        return 2;
    }
    if (n <= 0xFFFF) {
        out[1] = 126;
        out[2] = std::uint8_t(n >> 8);
        out[3] = std::uint8_t(n);
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; ++i) out[2 + i] = std::uint8_t(n >> (56 - 8 * i));
    return 10;
}

std::string close_frame(std::uint16_t code, std::string_view reason) {
    std::string frame;
    if (code == close_status::none) {
        frame.assign("\x88\x00", 2);
        return frame;
    }
    reason = reason.substr(0, 123);  // a control frame's payload is at most 125 bytes
    std::uint8_t header[max_header_bytes];
    auto const n = write_header(header, opcode::close, 2 + reason.size());
    frame.reserve(n + 2 + reason.size());
    frame.append(reinterpret_cast<char const*>(header), n);
    frame.push_back(char(code >> 8));
    frame.push_back(char(code & 0xFF));
    frame.append(reason);
    return frame;
}

// ---------------------------------------------------------------- reader

namespace {
constexpr bool is_control(unsigned op) { return op >= 0x8; }

void unmask(char* p, std::size_t n, std::uint8_t const* mask, unsigned offset) noexcept {
    for (std::size_t i = 0; i < n; ++i) p[i] = char(std::uint8_t(p[i]) ^ mask[(offset + i) & 3]);
}

// Header bytes implied by the second byte: 2, the extended length, the mask.
constexpr unsigned header_size(std::uint8_t second) {
    unsigned const len7 = second & 0x7F;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
}
}  // namespace

frame_reader::event frame_reader::fail(std::uint16_t code) noexcept {
    failed_code_ = code;
    event e;
    e.kind = event::fail;
    e.code = code;
    return e;
}

void frame_reader::release_message() noexcept { std::string().swap(message_); }

frame_reader::event frame_reader::start_frame() noexcept {
    std::uint8_t const second = header_[1];
    unsigned const len7 = second & 0x7F;
    std::uint64_t length = len7;
    if (len7 == 126) {
        length = (std::uint64_t(header_[2]) << 8) | header_[3];
    } else if (len7 == 127) {
        length = 0;
        for (int i = 0; i < 8; ++i) length = (length << 8) | header_[2 + i];
        // Non-minimal lengths are allowed (RFC 6455 5.2 asks the sender only),
        // but the most significant bit MUST be 0.
        if (length >> 63) return fail(close_status::protocol_error);
    }
    if (!is_control(opcode_) && (length > max_message_ || message_.size() + length > max_message_))
        return fail(close_status::too_big);
    // Keep the mask where the header began; the header bytes are done with.
    auto const size = header_size(second);
    std::memmove(header_, header_ + size - 4, 4);
    header_bytes_ = 0;
    mask_offset_ = 0;
    remaining_ = length;
    in_frame_ = 1;
    if (opcode_ == std::uint8_t(opcode::text)) utf8_.reset();
    if (opcode_ == std::uint8_t(opcode::text) || opcode_ == std::uint8_t(opcode::binary))
        message_binary_ = opcode_ == std::uint8_t(opcode::binary);
    return {};
}

frame_reader::event frame_reader::finish_frame(std::string_view payload) {
    in_frame_ = 0;
    event e;
    switch (opcode(opcode_)) {
        case opcode::ping:
            e.kind = event::ping;
            e.payload = payload;
            return e;
        case opcode::pong:
            e.kind = event::pong;
            e.payload = payload;
            return e;
        case opcode::close:
            e.kind = event::close;
            if (payload.empty()) return e;  // no code: close_status::none
            if (payload.size() == 1) return fail(close_status::protocol_error);
            e.code = std::uint16_t((std::uint8_t(payload[0]) << 8) | std::uint8_t(payload[1]));
            if (!is_valid_close_code(e.code)) return fail(close_status::protocol_error);
            e.payload = payload.substr(2);
            if (!is_valid_utf8(e.payload)) return fail(close_status::invalid_payload);
            return e;
        default:  // a data frame
            break;
    }
    if (!fin_) {
        in_message_ = 1;
        return e;  // need_more: the next fragment follows
    }
    in_message_ = 0;
    if (!message_binary_ && !utf8_.complete()) return fail(close_status::invalid_payload);  // ends inside a code point
    e.kind = event::message;
    e.binary = message_binary_;
    e.payload = zero_copy_ ? payload : std::string_view{message_};
    return e;
}

frame_reader::event frame_reader::feed(char* data, std::size_t size, std::size_t& used) {
    used = 0;
    if (failed_code_) return fail(failed_code_);
    // A control frame's payload assembled for the previous event is not needed any more.
    if (!control_.empty() && !(in_frame_ && is_control(opcode_))) std::string().swap(control_);
    while (true) {
        if (!in_frame_) {
            if (used == size) return {};
            // The header: two bytes tell its size and most of what can be wrong with it.
            while (header_bytes_ < 2 && used < size) header_[header_bytes_++] = std::uint8_t(data[used++]);
            if (header_bytes_ < 2) return {};
            if (header_bytes_ == 2) {
                std::uint8_t const first = header_[0], second = header_[1];
                unsigned const op = first & 0x0F;
                bool const fin = first & 0x80;
                if (first & 0x70) return fail(close_status::protocol_error);      // RSV bits without an extension
                if (!(second & 0x80)) return fail(close_status::protocol_error);  // client frames MUST be masked
                switch (op) {
                    case 0x0:  // continuation
                        if (!in_message_) return fail(close_status::protocol_error);
                        break;
                    case 0x1:
                    case 0x2:
                        if (in_message_) return fail(close_status::protocol_error);  // a new message mid-message
                        break;
                    case 0x8:
                    case 0x9:
                    case 0xA:
                        if (!fin || (second & 0x7F) > 125) return fail(close_status::protocol_error);
                        break;
                    default: return fail(close_status::protocol_error);  // reserved opcode
                }
                opcode_ = op;
                // Control frames interleaved in a fragmented message keep its FIN state apart.
                if (!is_control(op)) fin_ = fin;
            }
            auto const need = header_size(header_[1]);
            auto const take = std::min<std::size_t>(need - header_bytes_, size - used);
            std::memcpy(header_ + header_bytes_, data + used, take);
            header_bytes_ += take;
            used += take;
            if (header_bytes_ < need) return {};
            if (auto e = start_frame(); e.kind == event::fail) return e;
            zero_copy_ = 0;
            if (remaining_ == 0) {
                if (auto e = finish_frame({}); e.kind != event::need_more) return e;
                continue;
            }
        }
        // The payload: unmasked in place, then kept or handed out.
        auto const avail = std::size_t(std::min<std::uint64_t>(remaining_, size - used));
        char* const p = data + used;
        unmask(p, avail, header_, mask_offset_);
        mask_offset_ = (mask_offset_ + avail) & 3;
        used += avail;
        bool const whole = avail == remaining_;
        remaining_ -= avail;
        std::string_view const bytes{p, avail};
        if (is_control(opcode_)) {
            if (whole && control_.empty()) {
                zero_copy_ = 1;
                return finish_frame(bytes);
            }
            control_.append(bytes);
            if (remaining_) return {};
            return finish_frame(control_);
        }
        // Text is validated as it arrives: the connection fails at the first bad byte.
        if (!message_binary_ && !utf8_.feed(bytes)) return fail(close_status::invalid_payload);
        if (whole && fin_ && !in_message_ && message_.empty()) {
            zero_copy_ = 1;  // a whole unfragmented message in this input: no copy
            return finish_frame(bytes);
        }
        message_.append(bytes);
        if (remaining_) return {};
        if (auto e = finish_frame(message_); e.kind != event::need_more) return e;
    }
}

}  // namespace vigil::net::ws
