#pragma once
// One connection to a Redis server: hiredis 0.14's async API driven by an
// Asio executor (hiredis ships adapters for libevent, libuv, ae... but none
// for Asio; this one is modelled on them, docs/decisions/0020-redis-bus.md).
//
// What it adds to hiredis 0.14:
// - Timeouts, which its async API lacks: connect() must reach a ready
//   connection (TCP, AUTH, SELECT, PING answered) within connect_timeout, and
//   every command its reply within command_timeout, else the connection is
//   dropped and reported down.
// - Names are resolved with Asio's resolver, not hiredis's blocking getaddrinfo.
// - A bound on commands awaiting replies (pipelining is free: a command is
//   appended to the output buffer and sent with whatever else is queued, never
//   waiting for an earlier reply).
// - hiredis frees its context from inside its own callbacks; this class never
//   lets it call into a freed object: the state hiredis points to lives until
//   hiredis's cleanup hook has run, and user handlers run only from the
//   executor, never after close().
//
// A connection is made once: after it goes down, make a new one (the bus
// reconnects with backoff). Not thread-safe: every member must be called on
// the executor's thread (a single-threaded io_context or a strand), and every
// handler runs there. hiredis writes with write(2), which raises SIGPIPE when
// the server has closed the connection: the executor's thread must block (or
// the process ignore) SIGPIPE.
#include "bus/redis_url.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct redisReply;

namespace vigil {

enum class redis_errc {
    connect_failed = 1,  // the name did not resolve, or TCP refused or failed
    connect_timeout,     // not ready within the connect timeout
    handshake_failed,    // AUTH, SELECT or PING was answered with an error
    timeout,             // a command had no reply within the command timeout
    disconnected,        // the server closed the connection, or the socket failed
    protocol,            // a reply that cannot be (a subscription refused, ...)
};
boost::system::error_category const& redis_category() noexcept;
inline boost::system::error_code make_error_code(redis_errc e) noexcept { return {int(e), redis_category()}; }

class redis_connection {
public:
    struct options {
        std::chrono::milliseconds connect_timeout{2000};
        std::chrono::milliseconds command_timeout{2000};
        // Commands sent and not yet answered; command() refuses more.
        std::size_t max_in_flight = 100'000;
    };
    // A reply is valid only during the call; nullptr with an error.
    using reply_handler = std::function<void(boost::system::error_code, redisReply const*)>;
    // `detail` says why, for logs and status (hiredis's message, or ours).
    using state_handler = std::function<void(boost::system::error_code, std::string_view detail)>;
    // A message on a subscribed channel; both views valid only during the call.
    using message_handler = std::function<void(std::string_view channel, std::string_view payload)>;

    redis_connection() = default;  // not connected; make one with the constructor below
    redis_connection(boost::asio::any_io_executor const& executor, options opts);
    ~redis_connection();  // close()
    redis_connection(redis_connection&&) noexcept;
    redis_connection& operator=(redis_connection&&) noexcept;

    // Connects, logs in (AUTH, SELECT) and checks the server answers (PING).
    // Exactly one of the handlers runs once for the outcome: `on_ready` with
    // no error, or with the reason it failed; then, if it was ready, `on_down`
    // once when it is lost (never after close()).
    void connect(redis_endpoint const& endpoint, state_handler on_ready, state_handler on_down);

    // Sends a command (arguments binary-safe); its handler gets the reply,
    // which may be an error reply (REDIS_REPLY_ERROR). Returns false, without
    // calling the handler, when not ready, subscribed, or max_in_flight
    // commands already wait.
    bool command(std::span<std::string_view const> args, reply_handler handler);
    bool command(std::initializer_list<std::string_view> args, reply_handler handler) {
        return command(std::span<std::string_view const>(args.begin(), args.size()), std::move(handler));
    }
    // The same for a command already in RESP (redisFormatCommandArgv), so
    // that another thread can format it.
    bool formatted(std::string_view resp, reply_handler handler);

    // Puts the connection in subscribed mode on these channels (once; after
    // it, command() refuses: Redis accepts only (P)(UN)SUBSCRIBE/PING there,
    // and hiredis 0.14 misroutes a PING's reply). `confirmed` runs when the
    // server has confirmed every channel, under the command timeout; then
    // `on_message` for each message. Returns false when not ready.
    bool subscribe(std::vector<std::string> const& channels, message_handler on_message,
                   std::function<void(boost::system::error_code)> confirmed);

    // Drops the connection. No handler runs after this (commands still
    // waiting are forgotten). Idempotent.
    void close();

    bool ready() const noexcept;
    // Commands (and a subscription) sent and not yet answered.
    std::size_t in_flight() const noexcept;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace vigil

template <>
struct boost::system::is_error_code_enum<vigil::redis_errc> : std::true_type {};
