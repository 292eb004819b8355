#pragma once
// Carries committed alerts, and what a cluster needs to coordinate, between
// the nodes that share one store.
//
// Contract, shared by every engine (tests/contract/alert_bus_contract.hpp):
// - publish() is called once the alert is committed, so whatever a node
//   receives is already readable in the store. The publishing node's handler
//   gets it at once, inside publish(); every other started node's handler
//   gets it once the engine has carried it there. At most once per node, and
//   not necessarily in seq order: alerts committed on different nodes may
//   arrive in either order, and a lost message is simply lost. Each
//   connection's delivery_sequencer restores seq order and reads what is
//   missing from the store, so end to end delivery stays at-least-once until
//   acknowledged, in order.
// - Nothing here answers "was it delivered": the node that hands an alert to a
//   live connection records the delivery itself.
// - publish_control() reaches every other started node's handler (not the
//   sender's), at most once.
// - Presence: each node's engine reads its own live connections from its
//   handler (bus_handler::local_connections) and makes them visible to the
//   other nodes; remote_connections() lists what the others hold, as recently
//   as the engine knows (a dead node's entries disappear within 15 s).
// - Handlers are called from any thread (the publisher's, or the engine's own)
//   and must be thread-safe; the engine never calls them after stop() returns.
//
// The in-process engine (local_alert_bus) is a single node; a networked engine
// (Redis) spans several.
#include "hub/subscriber.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

// One committed alert for one user, as it travels between nodes.
struct bus_alert {
    std::string user_id;
    std::uint64_t seq = 0;
    std::string alert_id;
    std::string origin_node;  // the node that committed it
    // The origin node's store already counted one delivery, to its own live
    // connection, with the insert; that node does not count it again.
    bool delivery_recorded = false;
    shared_message text;  // the anomaly_detected message, serialised once
};

// Coordination between nodes.
struct bus_control {
    enum class kind : std::uint8_t {
        // A newer connection of `user_id` opened on `node`: every other node
        // closes the connection it holds for that user with 4001.
        connection_replaced = 1,
        // A message for `user_id`'s live connection, wherever it is, outside
        // the seq order (an alert_updated): every node that holds one sends `text`.
        user_message = 2,
    };
    kind what = kind::connection_replaced;
    std::string user_id;
    std::string node;                  // the sender
    std::string connection_id;         // the newer connection
    std::int64_t connected_at_ms = 0;  // when it opened (the sender's wall clock)
    shared_message text;               // user_message: what to send
};

// A connection held by some node, as monitoring lists it.
struct node_connection {
    std::string node;
    connection_stats stats;
};

// What a started engine needs from the node it serves.
class bus_handler {
public:
    virtual ~bus_handler() = default;
    // A committed alert, for a user who may or may not be connected here.
    virtual void on_alert(bus_alert const& alert) = 0;
    virtual void on_control(bus_control const& message) = 0;
    // The engine lost (false) or regained (true) its link to the other nodes.
    // While it is lost, alerts committed elsewhere arrive only through the
    // store: the node reads it for its connections' users.
    virtual void on_link_changed(bool up) = 0;
    // This node's live connections, for presence.
    virtual std::vector<connection_stats> local_connections() const = 0;
};

struct bus_status {
    bool up = true;      // linked to the other nodes (always, for a single node)
    std::string engine;  // "local", "redis"
    std::string detail;  // why not up, when not
};

class alert_bus {
public:
    virtual ~alert_bus() = default;

    // This node's name in the cluster.
    virtual std::string const& node_id() const noexcept = 0;

    // Starts receiving for `handler`, which must outlive stop(). Once.
    virtual void start(bus_handler& handler) = 0;
    // Stops receiving; after it returns no handler call runs or starts. Idempotent.
    virtual void stop() = 0;

    // Hands a committed alert to every node (this one at once, see above). Never blocks on the network.
    virtual void publish(bus_alert const& alert) = 0;
    // Hands a control message to every other node. Never blocks on the network.
    virtual void publish_control(bus_control const& message) = 0;

    // Whether another node is known to hold a live connection for the user
    // (from the engine's latest presence, without asking anyone).
    virtual bool connected_elsewhere(std::string_view user_id) const = 0;
    // The connections other nodes hold, as the engine knows them now. `done`
    // may run at once or on another thread, never after stop() returns.
    virtual void remote_connections(std::function<void(std::vector<node_connection>)> done) const = 0;

    virtual bus_status status() const = 0;
};

}  // namespace vigil
