// vigil_null_server: the machine's floor for vigil's workload, in the same run.
//
//   vigil_null_server [--host 127.0.0.1] [--port 0]
//
// The least a server of the contract's wire protocol can do per alert: one
// thread, epoll, a `recv` of the publish, a `send` of the WebSocket frame and
// a `send` of the answer. No authentication (tokens are ignored), no JSON
// parsing (a publish's user is found by substring, the message is the body
// spliced after a "type" field), no store, no heartbeats, no replay: what is
// left is the system calls and the kernel's TCP work, which on these
// machines is most of the cost. `vigil_load` drives it like any server, so
// vigil's figures can be read as a share of this one's. Not a server to use.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

struct connection {
    int fd = -1;
    bool websocket = false;
    bool want_out = false;
    std::string user;
    std::string in, out;
};

int epoll_fd = -1;
std::unordered_map<int, connection> connections;
std::unordered_map<std::string, int> by_user;  // the user's latest WebSocket

void watch(connection& c, bool out) {
    epoll_event ev{};
    ev.events = EPOLLIN | (out ? EPOLLOUT : 0u);
    ev.data.fd = c.fd;
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_out = out;
}

void close_connection(int fd) {
    auto it = connections.find(fd);
    if (it == connections.end()) return;
    if (it->second.websocket) {
        auto u = by_user.find(it->second.user);
        if (u != by_user.end() && u->second == fd) by_user.erase(u);
    }
    ::close(fd);
    connections.erase(it);
}

// Sends what it can now, keeps the rest for EPOLLOUT. False if the peer is gone.
bool send_bytes(connection& c, std::string_view bytes) {
    if (c.out.empty()) {
        ssize_t const n = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
        bytes.remove_prefix(n > 0 ? std::size_t(n) : 0);
    }
    if (!bytes.empty()) {
        c.out.append(bytes);
        if (!c.want_out) watch(c, true);
    }
    return true;
}

std::string ws_frame(std::uint8_t opcode, std::string_view payload) {
    std::string f;
    f.reserve(payload.size() + 10);
    f += char(0x80 | opcode);
    if (payload.size() < 126) {
        f += char(payload.size());
    } else if (payload.size() < 65536) {
        f += char(126);
        f += char(payload.size() >> 8);
        f += char(payload.size() & 0xff);
    } else {
        f += char(127);
        for (int s = 56; s >= 0; s -= 8) f += char((std::uint64_t(payload.size()) >> s) & 0xff);
    }
    f += payload;
    return f;
}

std::string header(std::string_view head, std::string_view name) {  // name lower-case, with ':'
    std::string lower{head};
    for (auto& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    auto at = lower.find(name);
    if (at == std::string::npos) return {};
    at += name.size();
    while (at < head.size() && head[at] == ' ') ++at;
    auto const end = head.find("\r\n", at);
    return std::string{head.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at)};
}

std::string accept_key(std::string const& key) {
    std::string const s = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<unsigned char const*>(s.data()), s.size(), digest);
    unsigned char b64[64];
    int const n = EVP_EncodeBlock(b64, digest, SHA_DIGEST_LENGTH);
    return std::string{reinterpret_cast<char*>(b64), std::size_t(n)};
}

// One alert object of a publish body: to its user's WebSocket, if connected.
bool deliver(std::string_view alert) {
    constexpr std::string_view key = R"("user_id":")";
    auto const at = alert.find(key);
    if (at == std::string_view::npos) return false;
    auto const end = alert.find('"', at + key.size());
    auto const u = by_user.find(std::string{alert.substr(at + key.size(), end - at - key.size())});
    if (u == by_user.end()) return false;
    std::string message = R"({"type":"anomaly_detected",)";
    message += alert.substr(1);
    auto c = connections.find(u->second);
    if (!send_bytes(c->second, ws_frame(0x1, message))) close_connection(u->second);
    return true;
}

// The top-level objects of a JSON array (strings may hold braces).
std::vector<std::string_view> objects(std::string_view array) {
    std::vector<std::string_view> out;
    int depth = 0;
    bool in_string = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i < array.size(); ++i) {
        char const ch = array[i];
        if (in_string) {
            if (ch == '\\')
                ++i;
            else if (ch == '"')
                in_string = false;
        } else if (ch == '"') {
            in_string = true;
        } else if (ch == '{') {
            if (depth++ == 0) start = i;
        } else if (ch == '}' && --depth == 0) {
            out.push_back(array.substr(start, i - start + 1));
        }
    }
    return out;
}

// Returns false when the connection must close.
bool on_http(connection& c) {
    for (;;) {
        auto const end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) return c.in.size() < 16384;
        std::string_view const head{c.in.data(), end};
        if (head.starts_with("GET /ws/alerts/")) {
            auto const path_end = head.find_first_of("? ", 15);
            c.user = std::string{head.substr(15, path_end - 15)};
            std::string const key = header(head, "\r\nsec-websocket-key:");
            std::string const reply =
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Accept: " +
                accept_key(key) + "\r\n\r\n";
            c.in.erase(0, end + 4);
            c.websocket = true;
            if (auto old = by_user.find(c.user); old != by_user.end()) close_connection(old->second);
            by_user[c.user] = c.fd;
            return send_bytes(c, reply);
        }
        if (!head.starts_with("POST ")) return false;
        std::size_t length = 0;
        auto const cl = header(head, "\r\ncontent-length:");
        std::from_chars(cl.data(), cl.data() + cl.size(), length);
        if (c.in.size() < end + 4 + length) return true;
        std::string_view const body{c.in.data() + end + 4, length};
        std::string answer;
        if (body.starts_with("[")) {
            answer = "[";
            for (auto const a : objects(body))
                answer += deliver(a) ? R"({"delivered":true},)" : R"({"delivered":false},)";
            if (answer.size() > 1) answer.pop_back();
            answer += ']';
        } else {
            answer = deliver(body) ? R"({"delivered":true})" : R"({"delivered":false})";
        }
        std::string const reply = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: " +
                                  std::to_string(answer.size()) + "\r\n\r\n" + answer;
        c.in.erase(0, end + 4 + length);
        if (!send_bytes(c, reply)) return false;
    }
}

// Client frames are masked; pings get pongs, a close is echoed, the rest is dropped.
bool on_websocket(connection& c) {
    for (;;) {
        if (c.in.size() < 2) return true;
        auto const* p = reinterpret_cast<unsigned char const*>(c.in.data());
        std::uint8_t const opcode = p[0] & 0x0f;
        std::uint64_t length = p[1] & 0x7f;
        std::size_t at = 2;
        if (length == 126) {
            if (c.in.size() < 4) return true;
            length = (std::uint64_t(p[2]) << 8) | p[3];
            at = 4;
        } else if (length == 127) {
            if (c.in.size() < 10) return true;
            length = 0;
            for (int i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
            at = 10;
        }
        if (length > (1u << 20)) return false;
        bool const masked = p[1] & 0x80;
        if (c.in.size() < at + (masked ? 4 : 0) + length) return true;
        std::string payload = c.in.substr(at + (masked ? 4 : 0), std::size_t(length));
        if (masked)
            for (std::size_t i = 0; i < payload.size(); ++i) payload[i] ^= char(p[at + i % 4]);
        c.in.erase(0, at + (masked ? 4 : 0) + std::size_t(length));
        if (opcode == 0x8) {
            send_bytes(c, ws_frame(0x8, payload.substr(0, 2)));
            return false;
        }
        if (opcode == 0x9 && !send_bytes(c, ws_frame(0xA, payload))) return false;
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--host"))
            host = argv[i + 1];
        else if (!std::strcmp(argv[i], "--port"))
            port = std::atoi(argv[i + 1]);
    }
    int const listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(std::uint16_t(port));
    inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) || ::listen(listener, 4096)) {
        std::perror("vigil_null_server");
        return 1;
    }
    socklen_t len = sizeof addr;
    getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    std::printf("{\"event\":\"server.listening\",\"host\":\"%s\",\"port\":%d}\n", host.c_str(), ntohs(addr.sin_port));
    std::fflush(stdout);

    epoll_fd = epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listener;
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &ev);
    std::vector<epoll_event> events(1024);
    char buf[65536];
    for (;;) {
        int const n = epoll_wait(epoll_fd, events.data(), int(events.size()), -1);
        for (int i = 0; i < n; ++i) {
            int const fd = events[std::size_t(i)].data.fd;
            if (fd == listener) {
                for (int c; (c = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    connections[c].fd = c;
                    epoll_event cev{};
                    cev.events = EPOLLIN;
                    cev.data.fd = c;
                    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            auto it = connections.find(fd);
            if (it == connections.end()) continue;
            auto& c = it->second;
            if (events[std::size_t(i)].events & EPOLLOUT) {
                ssize_t const w = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                    close_connection(fd);
                    continue;
                }
                if (w > 0) c.out.erase(0, std::size_t(w));
                if (c.out.empty()) watch(c, false);
            }
            if (!(events[std::size_t(i)].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            bool open = true;
            for (;;) {
                ssize_t const r = ::recv(fd, buf, sizeof buf, 0);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) open = false;
                if (r <= 0) break;
                c.in.append(buf, std::size_t(r));
                if (std::size_t(r) < sizeof buf) break;
            }
            if (open) open = c.websocket ? on_websocket(c) : on_http(c);
            if (open && c.websocket && !c.in.empty()) open = on_websocket(c);  // bytes after the upgrade
            if (!open) close_connection(fd);
        }
    }
}
