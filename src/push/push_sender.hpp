#pragma once
// Sends push requests to push services: HTTP/1.1 over TLS with Boost.Beast
// on Asio and OpenSSL (docs/decisions/0019-web-push-http-client.md), and
// retries as push_response.hpp says.
//
// - TLS: certificates verified against the system's store (plus
//   extra_ca_file), the host name checked by OpenSSL, SNI sent for names,
//   TLS 1.2 at least.
// - Plain http:// only to a loopback address, and only with
//   allow_insecure_loopback (`--push-allow-insecure-endpoints`, for tests).
// - Push services are on the public internet: an endpoint whose address is
//   loopback, private, link-local or otherwise not public is refused unless
//   allow_private_addresses is set, so a subscription (user input) cannot
//   make vigil send requests into its own network.
// - Webhooks (alerts/webhook_dispatcher.hpp) go through it too: their URLs
//   are the administrator's, so plain http:// and private addresses are
//   allowed there (allow_plain_http, allow_private_addresses).
// - Timeouts on connecting (DNS, TCP and TLS together) and on each exchange;
//   one idle keep-alive connection per origin is kept for the next push to
//   the same push service, which saves a TLS handshake per push.
// - At most max_concurrent requests in flight, max_queued behind them.
//
// Logs name the push service's origin, never the endpoint's path (a
// capability) nor the Authorization header.
#include "push/push_request.hpp"
#include "push/push_response.hpp"

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace vigil::push {

enum class push_outcome {
    delivered,  /// the push service took it (2xx)
    gone,       /// 404 or 410: the subscription no longer exists; forget it
    failed,     /// refused for good: another status, a certificate that does not verify,
                /// an endpoint not allowed, a full queue, or the sender stopped
    gave_up,    /// 429, 5xx or no answer, until the retry policy's bound
};
std::string_view to_string(push_outcome o) noexcept;

struct push_result {
    push_outcome outcome = push_outcome::failed;
    int status = 0;      // the last HTTP status; 0 when no answer came
    int attempts = 0;    // requests tried, the first included
    std::string detail;  // for logs: the error, or the answer's first bytes (printable, at most 200)
    std::chrono::steady_clock::duration elapsed{};  // from send() to the outcome, waits included
};

struct sender_options {
    bool allow_insecure_loopback = false;                // plain http:// to 127.0.0.0/8 and ::1 (tests only)
    bool allow_private_addresses = false;                // endpoints that are not on the public internet
    bool allow_plain_http = false;                       // http:// to any host (URLs an admin configured: webhooks)
    bool log_outcomes = true;                            // false: the caller logs each result itself
    std::string extra_ca_file;                           // PEM certificates trusted beside the system's store
    std::chrono::milliseconds connect_timeout{10'000};   // DNS, TCP and TLS handshake together
    std::chrono::milliseconds exchange_timeout{30'000};  // writing the request and reading the answer
    std::chrono::milliseconds idle_timeout{50'000};      // reuse an idle connection younger than this
    std::size_t max_concurrent = 32;
    std::size_t max_queued = 10'000;
    std::size_t max_answer_body = 16 * 1024;  // what is read of an answer's body; answers are small
    retry_policy retry;
    std::string user_agent = "vigil";
};

// Whether an address is one push services could have: not unspecified,
// loopback, private (RFC 1918, unique local), shared (100.64/10),
// link-local, multicast or reserved; IPv4-mapped IPv6 judged as IPv4.
bool is_public_address(boost::asio::ip::address const& a) noexcept;

class push_sender {
public:
    using completion = std::function<void(push_result)>;

    // Runs on `ioc`, through a strand of its own: any number of threads may
    // run the context. Throws std::runtime_error when the TLS context cannot
    // be made (an unreadable extra_ca_file).
    push_sender(boost::asio::io_context& ioc, sender_options options);
    ~push_sender();  // stop()s; destroy it before its io_context
    push_sender(push_sender const&) = delete;
    push_sender& operator=(push_sender const&) = delete;

    // Sends `request`, retrying as options.retry says. `done` runs once, on
    // the sender's strand, unless the io_context is stopped for good first.
    // Thread-safe.
    void send(push_request request, completion done);

    // Ends everything queued, waiting or in flight (each completes `failed`,
    // "stopped") and closes idle connections; later sends fail at once.
    // Thread-safe.
    void stop();

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace vigil::push
