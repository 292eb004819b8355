// The RFC 6455 frame reader and writer helpers (net/ws_frame): pure, no sockets.
#include "net/ws_frame.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

using namespace vigil::net::ws;
using event = frame_reader::event;

namespace {

struct frame_spec {
    std::uint8_t op = 0x1;
    std::string payload;
    bool fin = true;
    bool masked = true;
    std::array<std::uint8_t, 4> mask{0x37, 0xFA, 0x21, 0x3D};
    int length_bytes = 0;                 // 0: minimal; 1 (7-bit), 2 or 8: forced
    std::uint8_t rsv = 0;                 // 0x70 bits
    std::uint64_t declared = UINT64_MAX;  // a length other than payload.size()
};

// A client frame, built byte by byte.
std::string client_frame(frame_spec const& f) {
    std::string out;
    out.push_back(char((f.fin ? 0x80 : 0) | f.rsv | f.op));
    std::uint64_t const n = f.declared != UINT64_MAX ? f.declared : f.payload.size();
    int lb = f.length_bytes ? f.length_bytes : n < 126 ? 1 : n <= 0xFFFF ? 2 : 8;
    std::uint8_t const m = f.masked ? 0x80 : 0;
    if (lb == 1) {
        out.push_back(char(m | n));
    } else if (lb == 2) {
        out.push_back(char(m | 126));
        out.push_back(char(n >> 8));
        out.push_back(char(n));
    } else {
        out.push_back(char(m | 127));
        for (int i = 7; i >= 0; --i) out.push_back(char(n >> (8 * i)));
    }
    if (f.masked) {
        for (auto b : f.mask) out.push_back(char(b));
        for (std::size_t i = 0; i < f.payload.size(); ++i) out.push_back(char(f.payload[i] ^ f.mask[i & 3]));
    } else {
        out += f.payload;
    }
    return out;
}

std::string text(std::string payload, bool fin = true) {
    return client_frame({.op = 0x1, .payload = payload, .fin = fin});
}
std::string cont(std::string payload, bool fin = true) {
    return client_frame({.op = 0x0, .payload = payload, .fin = fin});
}

struct seen {
    event::kind_t kind;
    std::string payload;
    std::uint16_t code = 0;
    bool binary = false;
    bool operator==(seen const&) const = default;
};

std::ostream& operator<<(std::ostream& os, seen const& s) {
    return os << "{kind " << int(s.kind) << ", code " << s.code << ", " << s.payload.size() << " bytes}";
}

// Feeds `bytes` in pieces cut at `cuts` and returns every event, the way
// raw_websocket does: after an event, the rest of the piece is fed again.
std::vector<seen> run(frame_reader& r, std::string bytes, std::vector<std::size_t> cuts = {}) {
    std::vector<seen> out;
    cuts.push_back(bytes.size());
    std::size_t from = 0;
    for (auto to : cuts) {
        std::string piece = bytes.substr(from, to - from);  // the reader writes into it (unmasking)
        from = to;
        char* p = piece.data();
        std::size_t left = piece.size();
        while (true) {
            std::size_t used = 0;
            auto const e = r.feed(p, left, used);
            EXPECT_LE(used, left);
            p += used;
            left -= used;
            if (e.kind == event::need_more) {
                EXPECT_EQ(left, 0u);
                break;
            }
            out.push_back({e.kind, std::string(e.payload), e.code, e.binary});
            if (e.kind == event::message) r.release_message();
            if (e.kind == event::fail) return out;
        }
    }
    return out;
}

std::vector<seen> run_bytewise(frame_reader& r, std::string const& bytes) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < bytes.size(); ++i) cuts.push_back(i);
    return run(r, bytes, cuts);
}

seen message(std::string p, bool binary = false) { return {event::message, std::move(p), 0, binary}; }
seen failure(std::uint16_t code) { return {event::fail, {}, code}; }

std::vector<seen> once(std::string const& bytes, std::size_t max = 64 * 1024) {
    frame_reader r{max};
    return run(r, bytes);
}

}  // namespace

TEST(WsFrameReader, ReadsATextMessageSplitAtEveryByteBoundary) {
    std::string const payload = R"({"type":"ping","pad":"κόσμε"})";
    auto const bytes = text(payload);
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
        frame_reader r;
        EXPECT_EQ(run(r, bytes, {cut}), std::vector{message(payload)}) << "cut at " << cut;
        EXPECT_TRUE(r.idle());
    }
    frame_reader r;
    EXPECT_EQ(run_bytewise(r, bytes), std::vector{message(payload)});
}

TEST(WsFrameReader, UnmasksWithAnyMask) {
    std::string const payload = "abcdefghij";
    for (std::array<std::uint8_t, 4> mask :
         {std::array<std::uint8_t, 4>{0, 0, 0, 0}, {0xFF, 0xFF, 0xFF, 0xFF}, {1, 2, 3, 4}, {0x80, 0, 0x7F, 0xC3}}) {
        auto const bytes = client_frame({.op = 0x2, .payload = payload, .mask = mask});
        EXPECT_EQ(once(bytes), std::vector{message(payload, true)});
        frame_reader r;
        EXPECT_EQ(run_bytewise(r, bytes), std::vector{message(payload, true)});  // mask phase kept across reads
    }
}

TEST(WsFrameReader, ReadsEveryLengthEncoding) {
    for (std::size_t n : {0, 1, 125, 126, 127, 65535, 65536, 70000}) {
        std::string const payload(n, 'x');
        auto const bytes = text(payload);
        // The header and its neighbourhood at every cut; the payload at a few.
        for (std::size_t cut : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{5}, std::size_t{9},
                                std::size_t{13}, std::size_t{14}, bytes.size() / 2, bytes.size() - 1}) {
            if (cut > bytes.size()) continue;
            frame_reader r{1 << 20};
            EXPECT_EQ(run(r, bytes, {cut}), std::vector{message(payload)}) << n << " cut at " << cut;
        }
    }
}

TEST(WsFrameReader, AcceptsNonMinimalLengths) {
    std::string const payload = "hello";
    EXPECT_EQ(once(client_frame({.payload = payload, .length_bytes = 2})), std::vector{message(payload)});
    EXPECT_EQ(once(client_frame({.payload = payload, .length_bytes = 8})), std::vector{message(payload)});
}

TEST(WsFrameReader, ReadsSeveralFramesInOneRead) {
    auto const bytes = text("one") + client_frame({.op = 0x9, .payload = "p"}) + text("two") +
                       client_frame({.op = 0xA, .payload = ""});
    EXPECT_EQ(once(bytes), (std::vector<seen>{message("one"), {event::ping, "p"}, message("two"), {event::pong, ""}}));
}

TEST(WsFrameReader, AssemblesFragmentsWithControlFramesBetween) {
    auto const bytes = text("ab", false) + client_frame({.op = 0x9, .payload = "mid"}) + cont("cd", false) +
                       client_frame({.op = 0xA, .payload = "x"}) + cont("ef");
    std::vector<seen> const want{{event::ping, "mid"}, {event::pong, "x"}, message("abcdef")};
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
        frame_reader r;
        EXPECT_EQ(run(r, bytes, {cut}), want) << "cut at " << cut;
    }
    frame_reader r;
    EXPECT_EQ(run_bytewise(r, bytes), want);
    // Empty fragments are fragments too.
    EXPECT_EQ(once(text("", false) + cont("", false) + cont("z")), std::vector{message("z")});
}

TEST(WsFrameReader, ValidatesUtf8SplitAcrossFragments) {
    std::string const euro = "\xE2\x82\xAC";  // U+20AC in three bytes
    auto const ok = text("a" + euro.substr(0, 1), false) + cont(euro.substr(1, 1), false) + cont(euro.substr(2) + "b");
    EXPECT_EQ(once(ok), std::vector{message("a" + euro + "b")});
    frame_reader r;
    EXPECT_EQ(run_bytewise(r, ok), std::vector{message("a" + euro + "b")});
    // The message ends inside a code point.
    EXPECT_EQ(once(text("a\xE2", false) + cont("\x82")), std::vector{failure(1007)});
    EXPECT_EQ(once(text("a\xE2\x82")), std::vector{failure(1007)});
}

TEST(WsFrameReader, FailsFastOnInvalidUtf8) {
    // At the fragment that makes the text invalid, before the message ends.
    EXPECT_EQ(once(text("ok", false) + cont("\xF4\x90\x80\x80", false)), std::vector{failure(1007)});
    // Inside a frame whose end has not arrived yet.
    auto const bytes = text("abc\xC0\xAF" + std::string(100, 'x'));
    frame_reader r;
    EXPECT_EQ(run(r, bytes.substr(0, 12)), std::vector{failure(1007)});
    // Binary is not text.
    EXPECT_EQ(once(client_frame({.op = 0x2, .payload = "\xFF"})), std::vector{message("\xFF", true)});
}

TEST(WsFrameReader, FailsProtocolViolationsWith1002) {
    auto fails = [](std::string const& bytes) { return once(bytes) == std::vector{failure(1002)}; };
    EXPECT_TRUE(fails(client_frame({.payload = "x", .rsv = 0x40})));
    EXPECT_TRUE(fails(client_frame({.payload = "x", .rsv = 0x20})));
    EXPECT_TRUE(fails(client_frame({.payload = "x", .rsv = 0x10})));
    for (std::uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF})
        EXPECT_TRUE(fails(client_frame({.op = op, .payload = ""}))) << int(op);
    EXPECT_TRUE(fails(client_frame({.payload = "x", .masked = false})));
    EXPECT_TRUE(fails(client_frame({.op = 0x9, .payload = "x", .masked = false})));
    EXPECT_TRUE(fails(client_frame({.op = 0x9, .payload = std::string(126, 'p')})));
    EXPECT_TRUE(fails(client_frame({.op = 0x9, .payload = "p", .fin = false})));
    EXPECT_TRUE(fails(client_frame({.op = 0x8, .payload = "", .fin = false})));
    EXPECT_TRUE(fails(cont("x")));                     // continuation without a start
    EXPECT_TRUE(fails(text("a", false) + text("b")));  // a new message mid-message
    EXPECT_TRUE(fails(client_frame({.payload = "", .length_bytes = 8, .declared = 1ull << 63})));
    // Detected from the first two bytes: the rest never needs to arrive.
    frame_reader r;
    EXPECT_EQ(run(r, client_frame({.payload = "xyz", .rsv = 0x40}).substr(0, 2)), std::vector{failure(1002)});
}

TEST(WsFrameReader, RefusesMessagesOverTheLimitFromTheHeader) {
    EXPECT_EQ(once(text(std::string(100, 'x')), 100), std::vector{message(std::string(100, 'x'))});
    EXPECT_EQ(once(text(std::string(101, 'x')), 100), std::vector{failure(1009)});
    EXPECT_EQ(once(text(std::string(60, 'x'), false) + cont(std::string(41, 'x')), 100), std::vector{failure(1009)});
    EXPECT_EQ(once(text(std::string(60, 'x'), false) + cont(std::string(40, 'x')), 100),
              std::vector{message(std::string(100, 'x'))});
    frame_reader r{64 * 1024};
    EXPECT_EQ(run(r, client_frame({.payload = "", .declared = 1ull << 32}).substr(0, 14)), std::vector{failure(1009)});
}

TEST(WsFrameReader, ReadsCloseFrames) {
    auto close = [](std::string payload) { return client_frame({.op = 0x8, .payload = payload}); };
    auto code = [](std::uint16_t c, std::string reason = {}) {
        return std::string{char(c >> 8), char(c & 0xFF)} + reason;
    };
    EXPECT_EQ(once(close("")), (std::vector<seen>{{event::close, "", 0}}));
    EXPECT_EQ(once(close(code(1000, "bye"))), (std::vector<seen>{{event::close, "bye", 1000}}));
    for (std::uint16_t c :
         {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999})
        EXPECT_EQ(once(close(code(c))), (std::vector<seen>{{event::close, "", c}})) << c;
    for (std::uint16_t c : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535})
        EXPECT_EQ(once(close(code(c))), std::vector{failure(1002)}) << c;
    EXPECT_EQ(once(close("\x03")), std::vector{failure(1002)});  // a payload of 1 byte
    EXPECT_EQ(once(close(code(1000, "\xCE\xBA\xE1"))), std::vector{failure(1007)});
    // Between fragments of a message, byte by byte.
    frame_reader r;
    EXPECT_EQ(run_bytewise(r, text("a", false) + close(code(1001, "going"))),
              (std::vector<seen>{{event::close, "going", 1001}}));
}

TEST(WsFrameReader, StaysFailed) {
    frame_reader r;
    EXPECT_EQ(run(r, cont("x")), std::vector{failure(1002)});
    EXPECT_EQ(run(r, text("fine")), std::vector{failure(1002)});
}

TEST(WsFrameReader, HoldsNothingBetweenMessages) {
    frame_reader r;
    auto const bytes = text(std::string(300, 'y'));
    EXPECT_EQ(run(r, bytes, {7, 150}), std::vector{message(std::string(300, 'y'))});
    EXPECT_TRUE(r.idle());
    EXPECT_EQ(run(r, bytes.substr(0, 5)), std::vector<seen>{});
    EXPECT_FALSE(r.idle());
}

TEST(WsFrameWriter, WritesMinimalUnmaskedHeaders) {
    std::uint8_t h[max_header_bytes];
    EXPECT_EQ(write_header(h, opcode::text, 125), 2u);
    EXPECT_EQ(h[0], 0x81);
    EXPECT_EQ(h[1], 125);
    EXPECT_EQ(write_header(h, opcode::binary, 126), 4u);
    EXPECT_EQ(h[0], 0x82);
    EXPECT_EQ(h[1], 126);
    EXPECT_EQ((h[2] << 8) | h[3], 126);
    EXPECT_EQ(write_header(h, opcode::text, 65535), 4u);
    EXPECT_EQ((h[2] << 8) | h[3], 65535);
    EXPECT_EQ(write_header(h, opcode::text, 65536), 10u);
    EXPECT_EQ(h[1], 127);
    EXPECT_EQ(h[7], 0x01);
    EXPECT_EQ(h[8], 0);
    EXPECT_EQ(h[9], 0);
    EXPECT_EQ(write_header(h, opcode::ping, 0), 2u);
    EXPECT_EQ(h[0], 0x89);
}

TEST(WsFrameWriter, WritesCloseFrames) {
    EXPECT_EQ(close_frame(0, "ignored"), std::string("\x88\x00", 2));
    EXPECT_EQ(close_frame(4008, "slow"), std::string("\x88\x06\x0F\xA8slow", 8));
    auto const longest = close_frame(1000, std::string(200, 'r'));
    EXPECT_EQ(longest.size(), 2u + 125u);  // the reason is cut to fit a control frame
    EXPECT_EQ(std::uint8_t(longest[1]), 125);
}

TEST(WsHandshake, AcceptKeyMatchesRfcExample) {
    EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");  // RFC 6455 1.3
}

TEST(Utf8, FollowsRfc3629) {
    EXPECT_TRUE(is_valid_utf8(""));
    EXPECT_TRUE(is_valid_utf8("plain ascii, long enough for the 8-byte path"));
    EXPECT_TRUE(is_valid_utf8("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"));  // κόσμε
    EXPECT_TRUE(is_valid_utf8("\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\xED\x9F\xBF\xEE\x80\x80"));
    EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong
    EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong
    EXPECT_FALSE(is_valid_utf8("\xF0\x80\x80\xAF"));  // overlong
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // a surrogate
    EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
    EXPECT_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));
    EXPECT_FALSE(is_valid_utf8("\x80"));
    EXPECT_FALSE(is_valid_utf8("\xFF"));
    EXPECT_FALSE(is_valid_utf8("\xE2\x82"));  // cut short
    utf8_validator v;
    EXPECT_TRUE(v.feed("\xE2"));
    EXPECT_FALSE(v.complete());
    EXPECT_TRUE(v.feed("\x82\xAC"));
    EXPECT_TRUE(v.complete());
    EXPECT_FALSE(v.feed("\xC3\x28"));
}
