#pragma once
// Blocking test clients for the real server: HTTP requests and a WebSocket
// client built on Beast, plus raw bytes for malformed input. Beast stays in
// clients.cpp so that test files compile quickly.
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vigil::test {

using headers = std::vector<std::pair<std::string, std::string>>;

struct http_reply {
    int status = 0;
    std::string body;
    headers head;
    boost::json::value json() const;  // parsed body (null if not JSON)
    std::string header(std::string const& name) const;
};

http_reply http_request(std::uint16_t port, std::string const& method, std::string const& target,
                        std::string const& body = {}, headers const& extra = {});

// The same over TLS, trusting only the certificate in `ca_file`, as "localhost".
http_reply https_request(std::uint16_t port, std::string const& ca_file, std::string const& method,
                         std::string const& target, std::string const& body = {}, headers const& extra = {});

// The subject ("/CN=...") of the certificate a TLS listener presents.
std::string tls_peer_subject(std::uint16_t port);

// Sends raw bytes, returns whatever comes back until the server closes (or 5 s).
std::string raw_exchange(std::uint16_t port, std::string const& bytes);

// POST /api/v1/alerts as a publisher.
http_reply publish(std::uint16_t port, boost::json::value const& body);

struct ws_event {
    enum kind_t { text, binary, closed, timeout, error } kind = error;
    std::string data;
    int close_code = 0;
    std::string close_reason;
};

class ws_client {
public:
    // Connects and upgrades. On a refused handshake returns nullptr and fills `refusal`.
    // With a `ca_file`, over TLS (wss://) trusting only that certificate.
    static std::unique_ptr<ws_client> connect(std::uint16_t port, std::string const& target,
                                              http_reply* refusal = nullptr, headers const& extra = {},
                                              std::string const& ca_file = {});
    // Connects /ws/alerts/{user}?token=...[&since=]; throws if refused.
    static std::unique_ptr<ws_client> connect_user(std::uint16_t port, std::string const& user,
                                                   std::optional<std::uint64_t> since = std::nullopt);
    ~ws_client();

    void send_text(std::string const& text);
    void send_binary(std::string const& data);
    void send_json(boost::json::value const& v);

    // The next message or close. Auto-answers protocol pings while reading. A
    // read that times out stays pending: the next call goes on waiting for it.
    ws_event read(std::chrono::milliseconds timeout = std::chrono::milliseconds{5000});

    // The next text message parsed, skipping server pings ({"type":"ping"}).
    // Throws on close, timeout or non-JSON.
    boost::json::object read_json(std::chrono::milliseconds timeout = std::chrono::milliseconds{5000});

    // Reads until the close frame; returns its code (or -1 if none came in time).
    int wait_close(std::chrono::milliseconds timeout = std::chrono::milliseconds{10000});

    void close(int code = 1000);

    struct impl;

private:
    explicit ws_client(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace vigil::test
