#include "load_engine.hpp"

#include "auth/token_minter.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <map>
#include <string_view>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace vbench {

std::int64_t mono_us() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// ------------------------------------------------------------------ histogram

namespace {
int bucket_of(std::int64_t v) {
    if (v < 0) v = 0;
    if (v < histogram::linear) return int(v);
    int const msb = 63 - __builtin_clzll(std::uint64_t(v));  // >= 11
    int const oct = msb - 11;
    if (oct >= histogram::octaves) return histogram::size - 1;
    int const s = int((v >> (msb - 6)) & 63);
    return histogram::linear + oct * histogram::sub + s;
}
double bucket_value(int b) {
    if (b < histogram::linear) return b;
    int const oct = (b - histogram::linear) / histogram::sub;
    int const s = (b - histogram::linear) % histogram::sub;
    int const shift = oct + 11 - 6;
    double const lo = double(std::int64_t(64 + s) << shift);
    return lo + double(std::int64_t(1) << shift) / 2;
}
}  // namespace

void histogram::add(std::int64_t us) {
    ++counts[bucket_of(us)];
    ++n;
    sum += double(us);
    max = std::max(max, us);
}

void histogram::merge(histogram const& o) {
    for (int i = 0; i < size; ++i) counts[i] += o.counts[i];
    n += o.n;
    sum += o.sum;
    max = std::max(max, o.max);
}

double histogram::percentile(double p) const {
    if (n == 0) return 0;
    if (p >= 100) return double(max);
    auto const want = std::uint64_t(std::ceil(p / 100.0 * double(n)));
    std::uint64_t seen = 0;
    for (int i = 0; i < size; ++i) {
        seen += counts[i];
        if (seen >= std::max<std::uint64_t>(want, 1)) return std::min(bucket_value(i), double(max));
    }
    return double(max);
}

void phase_stats::merge(phase_stats const& o) {
    auto add = [](std::uint64_t& a, std::uint64_t b) { a += b; };
    auto first = [](std::int64_t& a, std::int64_t b) {
        if (b && (!a || b < a)) a = b;
    };
    auto last = [](std::int64_t& a, std::int64_t b) { a = std::max(a, b); };
    add(conns_target, o.conns_target);
    add(conns_open, o.conns_open);
    add(handshakes_ok, o.handshakes_ok);
    add(handshake_refused, o.handshake_refused);
    add(connect_errors, o.connect_errors);
    add(disconnects, o.disconnects);
    add(server_closes, o.server_closes);
    add(close_4008, o.close_4008);
    add(close_4000, o.close_4000);
    add(close_4001, o.close_4001);
    add(close_1001, o.close_1001);
    add(close_other, o.close_other);
    add(reconnects, o.reconnects);
    first(connect_first_us, o.connect_first_us);
    last(connect_last_us, o.connect_last_us);
    first(storm_start_us, o.storm_start_us);
    last(storm_end_us, o.storm_end_us);
    add(storm_conns, o.storm_conns);
    add(json_pings, o.json_pings);
    add(ws_pings, o.ws_pings);
    add(pub_requests, o.pub_requests);
    add(pub_http_errors, o.pub_http_errors);
    add(pub_conn_errors, o.pub_conn_errors);
    add(alerts_sent, o.alerts_sent);
    add(alerts_confirmed, o.alerts_confirmed);
    add(alerts_undelivered, o.alerts_undelivered);
    first(pub_first_us, o.pub_first_us);
    last(pub_last_us, o.pub_last_us);
    pub_rtt.merge(o.pub_rtt);
    add(received, o.received);
    add(received_unique, o.received_unique);
    add(received_confirmed, o.received_confirmed);
    add(duplicates, o.duplicates);
    add(lost, o.lost);
    add(out_of_order, o.out_of_order);
    add(stale, o.stale);
    add(replayed, o.replayed);
    add(unparsable, o.unparsable);
    add(acks_sent, o.acks_sent);
    add(acks_ok, o.acks_ok);
    add(ws_errors, o.ws_errors);
    first(recv_first_us, o.recv_first_us);
    last(recv_last_us, o.recv_last_us);
    latency.merge(o.latency);
    latency_slow.merge(o.latency_slow);
    latency_replayed.merge(o.latency_replayed);
    first(phase_start_us, o.phase_start_us);
    last(phase_end_us, o.phase_end_us);
}

// ------------------------------------------------------------------ helpers

namespace {

// The value after "key": in a flat scan of a JSON text (our own fields have
// unique names, so no real parser is needed). Tolerates ": " (Python).
std::string_view value_of(std::string_view text, std::string_view quoted_key) {
    auto const at = text.find(quoted_key);
    if (at == std::string_view::npos) return {};
    std::size_t i = at + quoted_key.size();
    while (i < text.size() && (text[i] == ' ' || text[i] == ':')) ++i;
    return text.substr(i);
}

std::string_view string_value(std::string_view text, std::string_view quoted_key) {
    auto v = value_of(text, quoted_key);
    if (v.empty() || v[0] != '"') return {};
    auto const end = v.find('"', 1);
    if (end == std::string_view::npos) return {};
    return v.substr(1, end - 1);
}

bool int_value(std::string_view text, std::string_view quoted_key, std::int64_t& out) {
    auto v = value_of(text, quoted_key);
    if (v.empty()) return false;
    auto const r = std::from_chars(v.data(), v.data() + v.size(), out);
    return r.ec == std::errc{};
}

constexpr std::uint8_t f_confirmed = 1, f_received = 2;
constexpr unsigned char mask_key[4] = {0x5a, 0x13, 0xc7, 0x2e};

void append_frame(std::string& out, std::uint8_t opcode, std::string_view payload) {
    out.push_back(char(0x80 | opcode));
    auto const n = payload.size();
    if (n < 126) {
        out.push_back(char(0x80 | n));
    } else if (n < 65536) {
        out.push_back(char(0x80 | 126));
        out.push_back(char(n >> 8));
        out.push_back(char(n & 0xff));
    } else {
        out.push_back(char(0x80 | 127));
        for (int i = 7; i >= 0; --i) out.push_back(char((std::uint64_t(n) >> (8 * i)) & 0xff));
    }
    out.append(reinterpret_cast<char const*>(mask_key), 4);
    auto const base = out.size();
    out.append(payload);
    for (std::size_t i = 0; i < n; ++i) out[base + i] = char(out[base + i] ^ mask_key[i & 3]);
}

enum : std::uint64_t { tag_ws = 1, tag_http = 2, tag_extern = 3 };
std::uint64_t tag(std::uint64_t kind, std::uint32_t index) { return (kind << 32) | index; }

}  // namespace

// ------------------------------------------------------------------ engine

struct engine::impl {
    struct ws_conn {
        enum state_t : std::uint8_t { idle, connecting, upgrading, open, failed };
        int fd = -1;
        state_t state = idle;
        bool slow = false;
        bool want_out = false;
        bool queued = false;  // waiting in connect_queue or timers
        std::uint64_t last_seq = 0;
        std::string in, out, frag;
    };
    struct http_conn {
        enum state_t : std::uint8_t { idle, connecting, ready, busy };
        int fd = -1;
        state_t state = idle;
        bool want_out = false;
        std::string out, in;
        std::uint64_t first_id = 0;
        std::uint32_t n = 0;
        std::int64_t sent_us = 0;
    };

    engine_config cfg;
    std::unique_ptr<FILE, int (*)(FILE*)> latency_log{nullptr, &std::fclose};
    int ep = -1;
    sockaddr_in server{};
    sockaddr_in publish_server{};
    std::vector<std::string> users;
    std::vector<std::string> tokens;
    std::string publisher_token;
    std::vector<ws_conn> ws;
    std::vector<http_conn> http;
    std::deque<std::uint32_t> connect_queue;
    std::multimap<std::int64_t, std::uint32_t> timers;  // reconnect at
    std::uint32_t inflight = 0;                         // connecting + upgrading
    std::uint32_t open_n = 0;
    std::uint32_t target = 0;  // clients 0..target-1 should be open
    std::uint32_t failed_n = 0;
    bool slow_mode = false;
    std::int64_t next_slow_tick = 0;
    phase_stats st;
    int refusals_printed = 0;

    // Publishing state.
    std::vector<std::uint8_t> flags;
    std::uint32_t phase = 0;
    std::uint64_t next_id = 0;
    std::uint32_t active_users = 0;
    std::string pad;
    std::vector<std::uint32_t> ready;  // http conns ready for a request
    bool publishing = false;           // reconnect lost publisher connections
    bool extern_readable = false;

    explicit impl(engine_config c) : cfg(std::move(c)) {
        ep = epoll_create1(EPOLL_CLOEXEC);
        server.sin_family = AF_INET;
        server.sin_port = htons(cfg.port);
        inet_pton(AF_INET, cfg.host.c_str(), &server.sin_addr);
        publish_server = server;
        if (cfg.publish_port) publish_server.sin_port = htons(cfg.publish_port);
        auto const now = std::int64_t(std::time(nullptr));
        users.reserve(cfg.users);
        tokens.reserve(cfg.users);
        for (std::uint32_t i = 0; i < cfg.users; ++i) {
            users.push_back(cfg.user_prefix + std::to_string(cfg.first_user + i));
            tokens.push_back(vigil::auth::mint_hs256(cfg.secret, users.back(), "", 6 * 3600, now));
        }
        publisher_token =
            vigil::auth::mint_hs256(cfg.secret, cfg.user_prefix + "publisher", "publisher", 6 * 3600, now);
        ws.resize(cfg.users);
        for (std::uint32_t i = 0; i < cfg.users; ++i) {
            // Spread slow clients evenly: every k-th.
            if (cfg.slow_fraction > 0) {
                double const k = 1.0 / cfg.slow_fraction;
                ws[i].slow = std::fmod(double(i), k) < 1.0;
            }
        }
        http.resize(std::max(0, cfg.publishers));
        pad.assign(cfg.pad_bytes, 'x');
        if (!cfg.latency_log.empty()) {
            latency_log.reset(std::fopen(cfg.latency_log.c_str(), "w"));
            if (!latency_log) std::fprintf(stderr, "vigil_load: cannot write %s\n", cfg.latency_log.c_str());
        }
    }

    ~impl() {
        for (auto& c : ws)
            if (c.fd >= 0) ::close(c.fd);
        for (auto& c : http)
            if (c.fd >= 0) ::close(c.fd);
        if (ep >= 0) ::close(ep);
    }

    // ---------------------------------------------------------- sockets

    int new_socket(std::uint32_t spread, bool small_rcvbuf, bool publisher = false) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return -1;
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (cfg.source_addresses > 1 && cfg.host.rfind("127.", 0) == 0) {
            ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            sockaddr_in local{};
            local.sin_family = AF_INET;
            local.sin_addr.s_addr = htonl((127u << 24) | (1 + spread % std::uint32_t(cfg.source_addresses)));
            ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
        }
        if (small_rcvbuf) {
            int sz = 4096;
            ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
        }
        auto const& to = publisher ? publish_server : server;
        int const r = ::connect(fd, reinterpret_cast<sockaddr const*>(&to), sizeof to);
        if (r < 0 && errno != EINPROGRESS) {
            ::close(fd);
            return -1;
        }
        return fd;
    }

    void set_events(int fd, std::uint64_t t, std::uint32_t events, bool add) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = t;
        ::epoll_ctl(ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
    }

    std::uint32_t ws_events(ws_conn const& c) const {
        std::uint32_t e = 0;
        if (!(c.slow && slow_mode && c.state == ws_conn::open)) e |= EPOLLIN;
        if (c.want_out || c.state == ws_conn::connecting) e |= EPOLLOUT;
        return e;
    }

    // ---------------------------------------------------------- WebSocket clients

    void start_connect(std::uint32_t i) {
        auto& c = ws[i];
        c.queued = false;
        if (c.state != ws_conn::idle || i >= target) return;
        if (!st.connect_first_us) st.connect_first_us = mono_us();
        c.fd = new_socket(i, c.slow);
        if (c.fd < 0) {
            ++st.connect_errors;
            schedule(i, 1000);
            return;
        }
        c.state = ws_conn::connecting;
        ++inflight;
        set_events(c.fd, tag(tag_ws, i), ws_events(c), true);
    }

    void schedule(std::uint32_t i, int delay_ms) {
        auto& c = ws[i];
        if (c.queued) return;
        c.queued = true;
        if (delay_ms <= 0)
            connect_queue.push_back(i);
        else
            timers.emplace(mono_us() + std::int64_t(delay_ms) * 1000, i);
    }

    void pump_connects() {
        if (!timers.empty()) {
            auto const now = mono_us();
            while (!timers.empty() && timers.begin()->first <= now) {
                connect_queue.push_back(timers.begin()->second);
                timers.erase(timers.begin());
            }
        }
        while (inflight < cfg.connect_window && !connect_queue.empty()) {
            auto const i = connect_queue.front();
            connect_queue.pop_front();
            start_connect(i);
        }
    }

    void drop(std::uint32_t i, int reconnect_delay_ms, bool reset = false) {
        auto& c = ws[i];
        if (c.fd >= 0) {
            if (reset) {
                linger l{1, 0};
                ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            }
            ::close(c.fd);
            c.fd = -1;
        }
        if (c.state == ws_conn::open) --open_n;
        if (c.state == ws_conn::connecting || c.state == ws_conn::upgrading) --inflight;
        c.state = ws_conn::idle;
        c.want_out = false;
        std::string{}.swap(c.in);
        std::string{}.swap(c.out);
        std::string{}.swap(c.frag);
        if (cfg.reconnect && reconnect_delay_ms >= 0 && i < target) {
            ++st.reconnects;
            schedule(i, reconnect_delay_ms);
        }
    }

    void send_ws(std::uint32_t i, std::uint8_t opcode, std::string_view payload) {
        auto& c = ws[i];
        if (c.fd < 0) return;
        if (!c.out.empty()) return append_frame(c.out, opcode, payload);
        thread_local std::string frame;
        frame.clear();
        append_frame(frame, opcode, payload);
        flush_bytes(i, frame);
    }

    // Writes `bytes` now if possible; the rest waits in c.out for EPOLLOUT.
    void flush_bytes(std::uint32_t i, std::string_view bytes) {
        auto& c = ws[i];
        ssize_t n = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) return lost(i);
            n = 0;
        }
        if (std::size_t(n) < bytes.size()) {
            c.out.append(bytes.substr(std::size_t(n)));
            if (!c.want_out) {
                c.want_out = true;
                set_events(c.fd, tag(tag_ws, i), ws_events(c), false);
            }
        }
    }

    void lost(std::uint32_t i) {
        ++st.disconnects;
        drop(i, 200);
    }

    void on_ws_writable(std::uint32_t i) {
        auto& c = ws[i];
        if (c.state == ws_conn::connecting) {
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) {
                ++st.connect_errors;
                return drop(i, 500);
            }
            c.state = ws_conn::upgrading;
            std::string req;
            req.reserve(512);
            req += "GET /ws/alerts/";
            req += users[i];
            req += "?token=";
            req += tokens[i];
            if (c.last_seq) {
                req += "&since=";
                req += std::to_string(c.last_seq);
            }
            req += " HTTP/1.1\r\nHost: ";
            req += cfg.host;
            req += ':';
            req += std::to_string(cfg.port);
            req +=
                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
            set_events(c.fd, tag(tag_ws, i), EPOLLIN, false);
            return flush_bytes(i, req);
        }
        if (c.out.empty()) return;
        ssize_t const n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            return lost(i);
        }
        c.out.erase(0, std::size_t(n));
        if (c.out.empty()) {
            c.want_out = false;
            set_events(c.fd, tag(tag_ws, i), ws_events(c), false);
        }
    }

    void on_ws_readable(std::uint32_t i, std::size_t budget) {
        thread_local std::vector<char> buf(256 * 1024);
        auto& c = ws[i];
        for (int rounds = 0; rounds < 4 && c.fd >= 0; ++rounds) {
            std::size_t const want = std::min(budget, buf.size());
            ssize_t const n = ::recv(c.fd, buf.data(), want, 0);
            if (n == 0) return lost(i);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                return lost(i);
            }
            std::string_view data{buf.data(), std::size_t(n)};
            if (c.in.empty()) {
                std::size_t used = consume(i, data);
                if (ws[i].fd >= 0 && used < data.size()) ws[i].in.append(data.substr(used));
            } else {
                c.in.append(data);
                std::size_t const used = consume(i, c.in);
                if (ws[i].fd >= 0) ws[i].in.erase(0, used);
            }
            if (std::size_t(n) < want || budget != buf.size()) return;
        }
    }

    // Handles what is complete in `data`; returns the bytes used.
    std::size_t consume(std::uint32_t i, std::string_view data) {
        auto& c = ws[i];
        std::size_t pos = 0;
        if (c.state == ws_conn::upgrading) {
            auto const end = data.find("\r\n\r\n");
            if (end == std::string_view::npos) {
                if (data.size() > 16384) {
                    ++st.handshake_refused;
                    drop(i, -1);
                }
                return 0;
            }
            if (data.substr(0, 12) != "HTTP/1.1 101") {
                ++st.handshake_refused;
                if (refusals_printed++ < 3) {
                    auto const line = data.substr(0, data.find("\r\n"));
                    std::fprintf(stderr, "vigil_load: upgrade refused for %s: %.*s\n", users[i].c_str(),
                                 int(line.size()), line.data());
                }
                drop(i, -1);
                c.state = ws_conn::failed;
                ++failed_n;
                return data.size();
            }
            c.state = ws_conn::open;
            --inflight;
            ++open_n;
            ++st.handshakes_ok;
            st.connect_last_us = mono_us();
            if (c.slow && slow_mode) set_events(c.fd, tag(tag_ws, i), ws_events(c), false);
            pos = end + 4;
        }
        while (c.fd >= 0) {
            auto const avail = data.size() - pos;
            if (avail < 2) break;
            auto const* p = reinterpret_cast<unsigned char const*>(data.data() + pos);
            bool const fin = p[0] & 0x80;
            std::uint8_t const op = p[0] & 0x0f;
            bool const masked = p[1] & 0x80;
            std::uint64_t len = p[1] & 0x7f;
            std::size_t hdr = 2;
            if (len == 126) {
                if (avail < 4) break;
                len = (std::uint64_t(p[2]) << 8) | p[3];
                hdr = 4;
            } else if (len == 127) {
                if (avail < 10) break;
                len = 0;
                for (int k = 0; k < 8; ++k) len = (len << 8) | p[2 + k];
                hdr = 10;
            }
            if (masked) hdr += 4;
            if (avail < hdr + len) break;
            std::string_view payload = data.substr(pos + hdr, std::size_t(len));
            std::string unmasked;
            if (masked) {
                unmasked.assign(payload);
                for (std::size_t k = 0; k < unmasked.size(); ++k) unmasked[k] ^= char(p[hdr - 4 + (k & 3)]);
                payload = unmasked;
            }
            pos += hdr + std::size_t(len);
            on_frame(i, fin, op, payload);
        }
        return pos;
    }

    void on_frame(std::uint32_t i, bool fin, std::uint8_t op, std::string_view payload) {
        auto& c = ws[i];
        switch (op) {
            case 0x1:
                if (fin) return on_text(i, payload);
                c.frag.assign(payload);
                return;
            case 0x0:
                c.frag.append(payload);
                if (fin) {
                    std::string msg;
                    msg.swap(c.frag);
                    on_text(i, msg);
                }
                return;
            case 0x8: {
                std::uint16_t code = 1005;
                if (payload.size() >= 2)
                    code = std::uint16_t((std::uint8_t(payload[0]) << 8) | std::uint8_t(payload[1]));
                ++st.server_closes;
                switch (code) {
                    case 4008: ++st.close_4008; break;
                    case 4000: ++st.close_4000; break;
                    case 4001: ++st.close_4001; break;
                    case 1001: ++st.close_1001; break;
                    default: ++st.close_other; break;
                }
                if (cfg.verbose)
                    std::fprintf(stderr, "vigil_load: %s closed by server with %u\n", users[i].c_str(), code);
                char echo[2] = {char(code >> 8), char(code & 0xff)};
                send_ws(i, 0x8, code == 1005 ? std::string_view{} : std::string_view{echo, 2});
                return drop(i, 200);
            }
            case 0x9: ++st.ws_pings; return send_ws(i, 0xA, payload);
            default: return;
        }
    }

    void on_text(std::uint32_t i, std::string_view text) {
        auto const type = string_value(text, "\"type\"");
        if (type == "anomaly_detected") return on_alert(i, text);
        if (type == "ping") {
            ++st.json_pings;
            return send_ws(i, 0x1, R"({"type":"pong"})");
        }
        if (type == "ack_ok") {
            ++st.acks_ok;
            return;
        }
        if (type == "error") {
            ++st.ws_errors;
            if (cfg.verbose || st.ws_errors <= 3)
                std::fprintf(stderr, "vigil_load: error message: %.*s\n", int(std::min<std::size_t>(text.size(), 300)),
                             text.data());
        }
    }

    void on_alert(std::uint32_t i, std::string_view text) {
        auto& c = ws[i];
        auto const now = mono_us();
        std::int64_t seq = 0, t = 0, bi = 0, ph = 0;
        bool const has_seq = int_value(text, "\"seq\"", seq);
        ++st.received;
        if (!int_value(text, "\"t_us\"", t) || !int_value(text, "\"bi\"", bi) || !int_value(text, "\"ph\"", ph)) {
            ++st.unparsable;
            return;
        }
        bool const replayed = text.find("\"replayed\"") != std::string_view::npos;
        if (ph != std::int64_t(phase) || bi < 0 || std::uint64_t(bi) >= flags.size()) {
            ++st.stale;
            if (has_seq && std::uint64_t(seq) > c.last_seq) c.last_seq = std::uint64_t(seq);
            return;
        }
        auto& f = flags[std::size_t(bi)];
        if (f & f_received) {
            ++st.duplicates;
            return;
        }
        if (has_seq) {
            if (std::uint64_t(seq) <= c.last_seq)
                ++st.out_of_order;
            else
                c.last_seq = std::uint64_t(seq);
        }
        f |= f_received;
        ++st.received_unique;
        if (f & f_confirmed) ++st.received_confirmed;
        if (!st.recv_first_us) st.recv_first_us = now;
        st.recv_last_us = now;
        if (replayed) {
            ++st.replayed;
            st.latency_replayed.add(now - t);
        } else if (c.slow) {
            st.latency_slow.add(now - t);
        } else {
            st.latency.add(now - t);
            if (latency_log) std::fprintf(latency_log.get(), "%lld %lld\n", (long long)t, (long long)(now - t));
        }
        if (cfg.ack_ratio > 0 && double((std::uint64_t(bi) * 2654435761u) % 1000) < cfg.ack_ratio * 1000) {
            auto const id = string_value(text, "\"alert_id\"");
            if (!id.empty()) {
                std::string ack = R"({"type":"ack","alert_id":")";
                ack += id;
                ack += "\"}";
                send_ws(i, 0x1, ack);
                ++st.acks_sent;
            }
        }
    }

    void slow_tick() {
        std::size_t const budget = std::max<std::size_t>(cfg.slow_bytes_per_s / 10, 64);
        for (std::uint32_t i = 0; i < ws.size(); ++i)
            if (ws[i].slow && ws[i].state == ws_conn::open) on_ws_readable(i, budget);
    }

    void set_slow_mode(bool on) {
        if (slow_mode == on) return;
        slow_mode = on;
        for (std::uint32_t i = 0; i < ws.size(); ++i)
            if (ws[i].slow && ws[i].state == ws_conn::open)
                set_events(ws[i].fd, tag(tag_ws, i), ws_events(ws[i]), false);
    }

    // ---------------------------------------------------------- HTTP publishers

    void http_connect(std::uint32_t k) {
        auto& h = http[k];
        h.fd = new_socket(0x10000 + k, false, true);
        if (h.fd < 0) {
            ++st.pub_conn_errors;
            return;
        }
        h.state = http_conn::connecting;
        h.in.clear();
        h.out.clear();
        set_events(h.fd, tag(tag_http, k), EPOLLOUT | EPOLLIN, true);
    }

    void http_lost(std::uint32_t k) {
        auto& h = http[k];
        if (h.state == http_conn::busy) ++st.pub_conn_errors;
        if (h.fd >= 0) ::close(h.fd);
        h.fd = -1;
        h.state = http_conn::idle;
        h.want_out = false;
        ready.erase(std::remove(ready.begin(), ready.end(), k), ready.end());
        if (publishing) http_connect(k);
    }

    void append_alert(std::string& body, std::uint64_t id, std::int64_t t) const {
        body += R"({"user_id":")";
        body += users[std::size_t(id % active_users)];
        body += R"(","stream_id":"cam-)";
        body += std::to_string(id % 16);
        body += R"(","detection":)";
        body += detection(id, phase, t);
        body += '}';
    }

    std::string detection(std::uint64_t id, std::uint32_t ph, std::int64_t t) const {
        std::string d = R"({"kind":"bench","confidence":0.93,"t_us":)";
        d += std::to_string(t);
        d += R"(,"bi":)";
        d += std::to_string(id);
        d += R"(,"ph":)";
        d += std::to_string(ph);
        if (!pad.empty()) {
            d += R"(,"pad":")";
            d += pad;
            d += '"';
        }
        d += '}';
        return d;
    }

    void http_send(std::uint32_t k, std::uint64_t first, std::uint32_t n, bool as_list) {
        auto& h = http[k];
        auto const t = mono_us();
        thread_local std::string body;
        body.clear();
        if (as_list) body += '[';
        for (std::uint32_t j = 0; j < n; ++j) {
            if (j) body += ',';
            append_alert(body, first + j, t);
        }
        if (as_list) body += ']';
        std::string& req = h.out;
        req.clear();
        req += "POST /api/v1/alerts HTTP/1.1\r\nHost: ";
        req += cfg.host;
        req += "\r\nAuthorization: Bearer ";
        req += publisher_token;
        req += "\r\nContent-Type: application/json\r\nContent-Length: ";
        req += std::to_string(body.size());
        req += "\r\n\r\n";
        req += body;
        h.first_id = first;
        h.n = n;
        h.sent_us = t;
        h.state = http_conn::busy;
        st.alerts_sent += n;
        if (!st.pub_first_us) st.pub_first_us = t;
        for (std::uint32_t j = 0; j < n; ++j) flags[std::size_t(first + j)] = 0;
        http_flush(k);
    }

    void http_flush(std::uint32_t k) {
        auto& h = http[k];
        while (!h.out.empty()) {
            ssize_t const n = ::send(h.fd, h.out.data(), h.out.size(), MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                return http_lost(k);
            }
            h.out.erase(0, std::size_t(n));
        }
        bool const want = !h.out.empty();
        if (want != h.want_out) {
            h.want_out = want;
            set_events(h.fd, tag(tag_http, k), EPOLLIN | (want ? EPOLLOUT : 0u), false);
        }
    }

    void on_http_event(std::uint32_t k, std::uint32_t events) {
        auto& h = http[k];
        if (h.state == http_conn::connecting) {
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(h.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) {
                ++st.pub_conn_errors;
                return http_lost(k);
            }
            h.state = http_conn::ready;
            set_events(h.fd, tag(tag_http, k), EPOLLIN, false);
            ready.push_back(k);
            return;
        }
        if (events & EPOLLOUT) http_flush(k);
        if (h.fd < 0) return;
        if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
        char buf[16384];
        for (;;) {
            ssize_t const n = ::recv(h.fd, buf, sizeof buf, 0);
            if (n == 0) return http_lost(k);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                return http_lost(k);
            }
            h.in.append(buf, std::size_t(n));
            if (std::size_t(n) < sizeof buf) break;
        }
        http_parse(k);
    }

    void http_parse(std::uint32_t k) {
        auto& h = http[k];
        auto const end = h.in.find("\r\n\r\n");
        if (end == std::string::npos) return;
        std::string_view head{h.in.data(), end};
        int status = 0;
        if (head.size() > 12) std::from_chars(head.data() + 9, head.data() + 12, status);
        std::size_t length = 0;
        bool close_after = false;
        {
            std::string lower{head};
            for (auto& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
            auto const cl = lower.find("\r\ncontent-length:");
            if (cl != std::string::npos) {
                std::size_t p = cl + 17;
                while (p < lower.size() && lower[p] == ' ') ++p;
                std::from_chars(lower.data() + p, lower.data() + lower.size(), length);
            }
            close_after = lower.find("\r\nconnection: close") != std::string::npos;
        }
        if (h.in.size() < end + 4 + length) return;
        std::string_view body{h.in.data() + end + 4, length};
        auto const now = mono_us();
        ++st.pub_requests;
        st.pub_last_us = now;
        st.pub_rtt.add(now - h.sent_us);
        if (status == 201) {
            st.alerts_confirmed += h.n;
            std::size_t at = 0;
            while ((at = body.find("false", at)) != std::string_view::npos) {
                ++st.alerts_undelivered;
                at += 5;
            }
            for (std::uint32_t j = 0; j < h.n; ++j) {
                auto& f = flags[std::size_t(h.first_id + j)];
                f |= f_confirmed;
                if (f & f_received) ++st.received_confirmed;
            }
        } else {
            ++st.pub_http_errors;
            if (st.pub_http_errors <= 3)
                std::fprintf(stderr, "vigil_load: publish answered %d: %.*s\n", status,
                             int(std::min<std::size_t>(body.size(), 300)), body.data());
        }
        h.in.erase(0, end + 4 + length);
        h.state = http_conn::ready;
        if (close_after) {
            http_lost(k);
            return;
        }
        ready.push_back(k);
    }

    // ---------------------------------------------------------- the loop

    void dispatch(epoll_event const& ev) {
        auto const kind = ev.data.u64 >> 32;
        auto const index = std::uint32_t(ev.data.u64 & 0xffffffffu);
        if (kind == tag_ws) {
            auto& c = ws[index];
            if (c.fd < 0) return;
            if ((ev.events & (EPOLLERR | EPOLLHUP)) && c.state == ws_conn::connecting) {
                ++st.connect_errors;
                return drop(index, 500);
            }
            if (ev.events & EPOLLOUT) on_ws_writable(index);
            if (ws[index].fd < 0) return;
            if (ev.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                if (ws[index].slow && slow_mode && ws[index].state == ws_conn::open &&
                    !(ev.events & (EPOLLHUP | EPOLLERR)))
                    return;
                on_ws_readable(index, 256 * 1024);
            }
        } else if (kind == tag_http) {
            on_http_event(index, ev.events);
        } else if (kind == tag_extern) {
            extern_readable = true;
        }
    }

    void run_once(int timeout_ms) {
        pump_connects();
        if (!timers.empty()) {
            auto const until = (timers.begin()->first - mono_us()) / 1000;
            timeout_ms = int(std::clamp<std::int64_t>(until, 0, timeout_ms));
        }
        if (slow_mode) {
            auto const now = mono_us();
            if (now >= next_slow_tick) {
                next_slow_tick = now + 100000;
                slow_tick();
            }
            timeout_ms = int(std::clamp<std::int64_t>((next_slow_tick - now) / 1000, 0, timeout_ms));
        }
        epoll_event events[512];
        int const n = ::epoll_wait(ep, events, 512, timeout_ms);
        for (int k = 0; k < n; ++k) dispatch(events[k]);
        pump_connects();
    }

    void begin_phase() {
        st = phase_stats{};
        st.phase_start_us = mono_us();
    }

    phase_stats end_phase() {
        st.phase_end_us = mono_us();
        st.conns_target = target;
        st.conns_open = open_n;
        return st;
    }

    std::uint32_t open_below(std::uint32_t n) const {
        std::uint32_t k = 0;
        for (std::uint32_t i = 0; i < n && i < ws.size(); ++i) k += ws[i].state == ws_conn::open;
        return k;
    }

    phase_stats connect(std::uint32_t n, double timeout_s) {
        begin_phase();
        target = std::min<std::uint32_t>(n, std::uint32_t(ws.size()));
        for (std::uint32_t i = 0; i < target; ++i)
            if (ws[i].state == ws_conn::idle && !ws[i].queued) schedule(i, 0);
        auto const deadline = mono_us() + std::int64_t(timeout_s * 1e6);
        while (open_n + failed_n < target && mono_us() < deadline) run_once(50);
        return end_phase();
    }

    phase_stats hold(double seconds) {
        begin_phase();
        auto const deadline = mono_us() + std::int64_t(seconds * 1e6);
        while (mono_us() < deadline) run_once(int(std::clamp<std::int64_t>((deadline - mono_us()) / 1000, 0, 100)));
        return end_phase();
    }

    phase_stats publish(publish_spec const& spec) {
        begin_phase();
        phase = spec.phase;
        flags.assign(spec.count, 0);
        next_id = 0;
        active_users = std::max<std::uint32_t>(1, target);
        bool const external = spec.external != nullptr;
        std::uint32_t const batch = std::max<std::uint32_t>(1, spec.batch);
        set_slow_mode(cfg.slow_fraction > 0);
        if (!external) {
            ready.clear();
            for (std::uint32_t k = 0; k < http.size(); ++k)
                if (http[k].fd < 0)
                    http_connect(k);
                else if (http[k].state == http_conn::ready)
                    ready.push_back(k);
            // Publisher connections are set up before the clock starts.
            auto const deadline = mono_us() + 5000000;
            while (ready.size() < http.size() && mono_us() < deadline) run_once(10);
            if (ready.empty()) {
                std::fprintf(stderr, "vigil_load: no publisher connection could be opened\n");
                return end_phase();
            }
        }
        auto const start = mono_us();
        st.phase_start_us = start;
        publishing = !external;
        if (external) spec.external->armed = true;
        auto const stop_publishing = start + std::int64_t(spec.max_seconds * 1e6);
        bool stormed = spec.storm_at_seconds < 0;
        bool storm_done = spec.storm_at_seconds < 0;
        std::int64_t drain_start = 0;
        for (;;) {
            auto const now = mono_us();
            if (!stormed && now >= start + std::int64_t(spec.storm_at_seconds * 1e6)) {
                stormed = true;
                st.storm_start_us = now;
                st.storm_conns = open_n;
                for (std::uint32_t i = 0; i < target; ++i)
                    if (ws[i].state == ws_conn::open) drop(i, 0, /*reset=*/true);
            }
            if (stormed && !storm_done && open_below(target) + failed_n >= target) {
                storm_done = true;
                st.storm_end_us = now;
            }
            bool sending_done;
            if (external) {
                sending_done = spec.external->done.load();
            } else {
                bool const out_of_time = now >= stop_publishing;
                if (!out_of_time) {
                    std::uint64_t due = spec.count;
                    if (spec.rate > 0)
                        due = std::min<std::uint64_t>(spec.count,
                                                      std::uint64_t(spec.rate * double(now - start) / 1e6) + 1);
                    while (next_id < due && !ready.empty()) {
                        auto const n = std::uint32_t(std::min<std::uint64_t>(batch, spec.count - next_id));
                        if (spec.rate > 0 && due < next_id + n) break;  // the whole batch is not due yet
                        auto const k = ready.back();
                        ready.pop_back();
                        http_send(k, next_id, n, spec.batch > 1);
                        next_id += n;
                    }
                }
                bool const idle = std::none_of(http.begin(), http.end(), [](auto const& h) {
                    return h.state == http_conn::busy || h.state == http_conn::connecting;
                });
                sending_done = (next_id >= spec.count || out_of_time) && idle;
                if (out_of_time && now > stop_publishing + std::int64_t(spec.drain_seconds * 1e6)) sending_done = true;
            }
            if (sending_done && !drain_start) {
                drain_start = now;
                set_slow_mode(false);  // slow readers catch up now
            }
            if (drain_start) {
                std::uint64_t const confirmed = external ? spec.external->confirmed.load() : st.alerts_confirmed;
                bool const all_in = external ? st.received_unique >= confirmed : st.received_confirmed >= confirmed;
                if ((all_in && storm_done && st.acks_ok >= st.acks_sent) ||
                    now > drain_start + std::int64_t(spec.drain_seconds * 1e6))
                    break;
            }
            run_once(spec.rate > 0 && !drain_start ? 1 : 20);
        }
        set_slow_mode(false);
        publishing = false;
        if (external) {
            st.alerts_sent = spec.external->published.load();
            st.alerts_confirmed = spec.external->confirmed.load();
            st.pub_requests = st.alerts_sent;
            st.pub_http_errors = spec.external->failed.load();
            st.pub_first_us = spec.external->first_us.load();
            st.pub_last_us = spec.external->last_us.load();
            st.received_confirmed = std::min(st.received_unique, st.alerts_confirmed);
        }
        st.lost = st.alerts_confirmed > st.received_confirmed ? st.alerts_confirmed - st.received_confirmed : 0;
        if (latency_log) std::fflush(latency_log.get());  // workers may end with _exit
        if (!storm_done && st.storm_start_us) st.storm_end_us = 0;
        return end_phase();
    }

    bool wait_readable(int fd, double timeout_s) {
        set_events(fd, tag(tag_extern, 0), EPOLLIN, true);
        extern_readable = false;
        auto const deadline = mono_us() + std::int64_t(timeout_s * 1e6);
        while (!extern_readable && mono_us() < deadline) run_once(100);
        ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        return extern_readable;
    }

    void close_all(double timeout_s) {
        bool const saved = cfg.reconnect;
        cfg.reconnect = false;
        for (std::uint32_t i = 0; i < ws.size(); ++i)
            if (ws[i].state == ws_conn::open) send_ws(i, 0x8, std::string_view{"\x03\xe8", 2});
        auto const deadline = mono_us() + std::int64_t(timeout_s * 1e6);
        while (open_n > 0 && mono_us() < deadline) run_once(20);
        for (std::uint32_t i = 0; i < ws.size(); ++i) drop(i, -1);
        for (std::uint32_t k = 0; k < http.size(); ++k) http_lost(k);
        cfg.reconnect = saved;
        connect_queue.clear();
        timers.clear();
        for (auto& c : ws) c.queued = false;
    }
};

engine::engine(engine_config cfg) : impl_(std::make_unique<impl>(std::move(cfg))) {}
engine::~engine() = default;
phase_stats engine::connect(std::uint32_t n, double timeout_s) { return impl_->connect(n, timeout_s); }
phase_stats engine::hold(double seconds) { return impl_->hold(seconds); }
phase_stats engine::publish(publish_spec const& spec) { return impl_->publish(spec); }
bool engine::wait_readable(int fd, double timeout_s) { return impl_->wait_readable(fd, timeout_s); }
void engine::close_all(double timeout_s) { impl_->close_all(timeout_s); }
std::uint32_t engine::open_count() const { return impl_->open_n; }
std::string const& engine::user_name(std::uint32_t local) const { return impl_->users.at(local); }
std::string engine::detection_for(std::uint64_t bi, std::uint32_t phase, std::int64_t t_us) const {
    return impl_->detection(bi, phase, t_us);
}

}  // namespace vbench
