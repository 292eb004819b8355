#pragma once
// A push service on loopback for tests (RFC 8030's receiving side, without
// the internet): it accepts HTTP/1.1 (plain, or TLS with a given certificate),
// checks each push's VAPID header against the application server's public
// key, decrypts its body with the subscriber's keys, records what arrived and
// answers as scripted (201 once the script is used up).
#include "support/vapid_check.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::test {

struct mock_answer {
    int status = 201;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::chrono::milliseconds delay{0};  // before answering
    bool close_after = false;  // close the connection after answering, without saying so (no Connection: close)
    bool never = false;        // never answer; keep the connection open
};

struct received_push {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // names in lowercase
    std::string body;
    std::optional<std::string> plaintext;  // when the body decrypted with the subscriber's keys
    std::string decrypt_error;
    std::optional<vapid_token> vapid;  // when the Authorization header verified
    std::string vapid_error;
    std::chrono::steady_clock::time_point at;
    int connection = 0;  // which accepted connection (1, 2, ...) it came on

    std::string header(std::string const& lowercase_name) const {
        auto const it = headers.find(lowercase_name);
        return it == headers.end() ? std::string{} : it->second;
    }
};

class mock_push_service {
public:
    struct options {
        std::string address = "127.0.0.1";
        std::string cert_file;  // TLS when both are set
        std::string key_file;
        std::string subscriber_private_pem;  // the browser's key, to decrypt with
        std::string subscriber_auth;         // 16 bytes
        std::string vapid_public_key;        // base64url, what k= must be
    };

    explicit mock_push_service(options o);
    ~mock_push_service();
    mock_push_service(mock_push_service const&) = delete;
    mock_push_service& operator=(mock_push_service const&) = delete;

    std::uint16_t port() const;
    // scheme://address:port<path>
    std::string endpoint(std::string_view path = "/wpush/v2/abc") const;

    // Answers for the next requests, in order.
    void script(std::vector<mock_answer> answers);

    std::vector<received_push> received() const;
    // Waits until `n` pushes have arrived; false on timeout.
    bool wait_for(std::size_t n, std::chrono::milliseconds timeout) const;
    int connections() const;      // accepted (TCP) connections so far
    int max_in_progress() const;  // most requests received and not yet answered at once

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace vigil::test
