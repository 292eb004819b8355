#include "common/ids.hpp"

#include "common/clock.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>

namespace vigil {

namespace {

std::mt19937_64& rng() {
    thread_local std::mt19937_64 engine{[] {
        std::random_device rd;
        std::seed_seq seq{rd(), rd(), rd(), rd()};
        return std::mt19937_64{seq};
    }()};
    return engine;
}

void put_hex(std::string& out, std::uint64_t v, int nibbles) {
    static constexpr char hex[] = "0123456789abcdef";
    for (int i = nibbles - 1; i >= 0; --i) out.push_back(hex[(v >> (i * 4)) & 0xf]);
}

// RFC 9562 method 1: a 12-bit counter in rand_a keeps ids made by one thread
// in creation order within the same millisecond. `last_ms` and `counter` are
// the calling thread's state for one source of time.
std::string make_alert_id(std::uint64_t ms, std::uint64_t& last_ms, std::uint64_t& counter) {
    ms &= 0xffff'ffff'ffffULL;
    if (ms <= last_ms) {
        ms = last_ms;
        if (++counter > 0xfff) {
            ++ms;
            counter = 0;
        }
    } else {
        counter = rng()() & 0x3ff;  // random start, room to count up
    }
    last_ms = ms;
    std::uint64_t const r1 = (rng()() & ~std::uint64_t{0xfff}) | counter;
    std::uint64_t const r2 = rng()();
    std::string out;
    out.reserve(36);
    put_hex(out, ms >> 16, 8);
    out.push_back('-');
    put_hex(out, ms & 0xffff, 4);
    out.push_back('-');
    put_hex(out, 0x7000 | (r1 & 0x0fff), 4);  // version 7
    out.push_back('-');
    put_hex(out, 0x8000 | ((r1 >> 12) & 0x3fff), 4);  // RFC 4122 variant
    out.push_back('-');
    put_hex(out, r2 & 0xffff'ffff'ffffULL, 12);
    return out;
}

}  // namespace

std::string new_alert_id() {
    // The store's writer makes them: ids of one thread follow its clock.
    thread_local std::uint64_t last_ms = 0;
    thread_local std::uint64_t counter = 0;
    return make_alert_id(static_cast<std::uint64_t>(now_ms()), last_ms, counter);
}

std::string new_alert_id(std::int64_t ms) {
    // Its own state: times given by a caller may go back, which would hold
    // the clock's ids above back too.
    thread_local std::uint64_t last_given = 0;
    thread_local std::uint64_t last_ms = 0;
    thread_local std::uint64_t counter = 0;
    auto const t = static_cast<std::uint64_t>(std::clamp<std::int64_t>(ms, 0, 0xffff'ffff'ffffLL));
    if (t < last_given) last_ms = 0, counter = 0;  // went back: start over at t
    last_given = t;
    return make_alert_id(t, last_ms, counter);
}

std::uint64_t random_below(std::uint64_t bound) {
    return std::uniform_int_distribution<std::uint64_t>{0, bound - 1}(rng());
}

bool is_alert_id(std::string_view id) {
    if (id.size() != 36) return false;
    for (std::size_t i = 0; i < id.size(); ++i) {
        char const c = id[i];
        bool const dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::string new_epoch() {
    std::random_device rd;
    std::string out;
    out.reserve(16);
    put_hex(out, (std::uint64_t{rd()} << 32) | rd(), 16);
    return out;
}

std::string new_connection_id() {
    std::string out;
    out.reserve(16);
    put_hex(out, rng()(), 16);
    return out;
}

}  // namespace vigil
