#pragma once
// One authenticated WebSocket connection, plain or TLS: reads client messages,
// writes the server's through a bounded outbox, one write in flight at a time.
//
// Runs on the io_context its socket belongs to (one thread), so its members
// need no lock; the few fields other threads read (heartbeat times, token
// expiry, closing) are atomics. Lives as long as its pending operations: the
// registry only holds a weak_ptr.
#include "alerts/alert_service.hpp"
#include "alerts/delivery_sequencer.hpp"
#include "auth/claims.hpp"
#include "common/fifo.hpp"
#include "hub/subscriber.hpp"
#include "net/http_types.hpp"
#include "net/raw_websocket.hpp"
#include "net/server_context.hpp"
#include "net/transport.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

namespace vigil::net {

// The WebSocket over a layer: our own framing over a plain socket (a fraction
// of Beast's memory per idle connection, see raw_websocket.hpp); Beast's
// stream over TLS, whose record layer it drives.
template <class Layer>
using ws_stream_t =
    std::conditional_t<std::is_same_v<Layer, lingering_socket>, raw_websocket, boost::beast::websocket::stream<Layer>>;

// Layer: lingering_socket (plain) or tls_http_stream (TLS).
template <class Layer>
class ws_session final : public subscriber, public std::enable_shared_from_this<ws_session<Layer>> {
public:
    using tls_context_ref = tls_context_ref_t<Layer>;

    // Takes over the connection slot reserved for `remote` (connection_limits).
    ws_session(Layer&& layer, server_context& ctx, boost::asio::ip::address remote, std::string user_id,
               auth::claims const& claims, tls_context_ref tls = {});
    ~ws_session() override;

    // Completes the handshake for this (already admitted) upgrade request;
    // then the alert service replays from `since` (see alert_service::open).
    void run(http_request req, std::optional<stream_position> since);

    std::string const& user_id() const noexcept override { return user_id_; }
    bool deliver(sequenced_message message) override;
    void replay(replay_delivery page) override;
    void close(std::uint16_t code, std::string_view reason) override;
    connection_stats stats() const override;
    bool tick_due(std::int64_t now_ms) const noexcept override;
    void on_tick(std::int64_t now_ms) override;

private:
    struct outgoing {
        shared_message text;  // null: a WebSocket ping frame
        std::int64_t queued_ns = 0;
        std::int64_t received_ns = 0;  // live alerts: when the bus handed them to this node (latency metric)
    };

    enum class tick_action : std::uint8_t { none, heartbeat_timeout, token_expired, ping };
    tick_action due_action(std::int64_t now_ms) const noexcept;

    void on_accept(boost::system::error_code ec, std::optional<stream_position> const& since);
    void do_read();
    void on_read(boost::system::error_code ec, std::size_t bytes);
    void handle_message(std::string_view text);
    bool within_rate(std::int64_t now_ms);
    void on_live(sequenced_message message);
    void on_replay(replay_delivery& page);
    void pump();
    void send(shared_message message, std::int64_t received_ns = 0);
    void push(shared_message message, std::int64_t received_ns = 0);
    void send_ping();
    void do_write();
    void on_write(boost::system::error_code ec, std::size_t bytes);
    void drop_queued();
    void start_close(std::uint16_t code, std::string reason);
    void do_close();
    void finish(std::string_view why);

    [[no_unique_address]] tls_context_ref tls_;  // outlives ws_
    static constexpr bool own_framing = std::is_same_v<ws_stream_t<Layer>, raw_websocket>;
    ws_stream_t<Layer> ws_;
    boost::beast::flat_buffer buffer_;
    server_context& ctx_;
    boost::asio::ip::address const remote_;
    std::string const user_id_;
    std::string const conn_id_;
    std::int64_t const connected_at_ms_;

    // Read by the heartbeat sweep and the monitoring endpoints.
    std::atomic<std::int64_t> last_heartbeat_ms_;
    std::atomic<std::int64_t> last_ping_ms_;
    std::atomic<std::int64_t> token_expires_s_;
    std::atomic<bool> closing_{false};

    // Owned by the session's thread.
    fifo<outgoing> outbox_;
    std::size_t outbox_bytes_ = 0;
    // Which alerts go out, in what order, and when to read the store.
    delivery_sequencer sequencer_;
    bool writing_ = false;
    std::uint8_t in_flight_messages_ = 0;  // outbox entries the write in flight sends
    bool answers_json_pings_ = false;      // then protocol pings are not needed
    bool open_ = false;                    // handshake done
    std::optional<std::pair<std::uint16_t, std::string>> pending_close_;
    std::unique_ptr<boost::asio::steady_timer> close_deadline_;
    double rate_tokens_;
    std::int64_t rate_refilled_ms_;
    bool finished_ = false;
};

extern template class ws_session<lingering_socket>;
extern template class ws_session<tls_http_stream>;

}  // namespace vigil::net
