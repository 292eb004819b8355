// Every byte a plain WebSocket client sends after the handshake goes through
// this reader (net/ws_frame). The first input byte picks where the rest is cut
// into reads, so splits inside headers, masks and code points are explored.
#include "net/ws_frame.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using vigil::net::ws::frame_reader;

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    std::size_t const step = std::size_t(data[0] % 32) + 1;  // bytes per read
    std::string input(reinterpret_cast<char const*>(data + 1), size - 1);
    frame_reader reader{1024};  // small, so the 1009 path is reached too
    std::size_t from = 0;
    bool failed = false;
    while (from < input.size() && !failed) {
        std::size_t const n = std::min(step, input.size() - from);
        char* p = input.data() + from;
        std::size_t left = n;
        from += n;
        while (true) {
            std::size_t used = 0;
            auto const e = reader.feed(p, left, used);
            if (used > left) std::abort();
            p += used;
            left -= used;
            using event = frame_reader::event;
            if (e.kind == event::need_more) {
                if (left != 0) std::abort();  // need_more means every byte was taken
                break;
            }
            switch (e.kind) {
                case event::message:
                    if (e.payload.size() > reader.max_message()) std::abort();
                    if (!e.binary && !vigil::net::ws::is_valid_utf8(e.payload)) std::abort();
                    reader.release_message();
                    if (!reader.idle()) std::abort();
                    break;
                case event::ping:
                case event::pong:
                    if (e.payload.size() > 125) std::abort();
                    break;
                case event::close:
                    if (e.code != 0 && !vigil::net::ws::is_valid_close_code(e.code)) std::abort();
                    if (!vigil::net::ws::is_valid_utf8(e.payload)) std::abort();
                    break;
                case event::fail:
                    if (e.code != 1002 && e.code != 1007 && e.code != 1009) std::abort();
                    failed = true;
                    break;
                default: std::abort();
            }
            if (failed) break;
        }
    }
    return 0;
}
