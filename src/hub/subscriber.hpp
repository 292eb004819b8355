#pragma once
// A live user connection as the hub sees it. Implemented by net::ws_session;
// the hub never knows about sockets. Every member is thread-safe.
#include "proto/close_codes.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

struct connection_stats {
    std::string user_id;
    std::int64_t connected_at_ms = 0;
    std::int64_t last_heartbeat_ms = 0;
    std::string connection_id;  // for logs and the bus; unique per connection
};

using shared_message = std::shared_ptr<std::string const>;

// A message for one connection. For an anomaly_detected message: its per-user
// seq, for ordering and dedupe, and when this node received it (steady-clock
// ns, for the delivery-latency metric; 0 for replayed ones). Other messages
// have seq 0.
struct sequenced_message {
    shared_message text;
    std::uint64_t seq = 0;
    std::int64_t received_ns = 0;
};

// One read of a user's alerts from the store, for one connection.
struct replay_delivery {
    std::vector<sequenced_message> alerts;  // seq > after, oldest first
    std::uint64_t after = 0;                // where the read started: the client's position from here on
    std::uint64_t head = 0;                 // replay_page::head
    bool more = false;                      // the page was full: more may follow
    bool unacked_only = false;              // only unacknowledged alerts were read
};

class subscriber {
public:
    virtual ~subscriber() = default;

    virtual std::string const& user_id() const noexcept = 0;

    // Queues a live message for the client without blocking. Returns false
    // when the connection is already closing (the message will not be sent).
    // A message is serialised once and shared by every connection it goes to.
    virtual bool deliver(sequenced_message message) = 0;

    // A page of stored alerts: the answer to the connection's opening, or to
    // a read it asked for (alert_service::fetch). The connection's
    // delivery_sequencer merges pages and live alerts into one ordered stream.
    virtual void replay(replay_delivery page) = 0;

    // Starts the closing handshake with this code; idempotent.
    virtual void close(std::uint16_t code, std::string_view reason) = 0;

    virtual connection_stats stats() const = 0;

    // Whether on_tick has anything to do now. The heartbeat sweep asks every
    // connection under the registry's lock without taking ownership (which
    // would cost an atomic write per connection per pass), possibly while the
    // connection's destructor waits for that lock in detach(): so it may only
    // read atomics and immutable state.
    virtual bool tick_due(std::int64_t now_ms) const noexcept = 0;

    // Called by the heartbeat sweep when tick_due: ping when due, close when
    // the client has been silent too long or its token expired.
    virtual void on_tick(std::int64_t now_ms) = 0;
};

}  // namespace vigil
