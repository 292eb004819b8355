#pragma once
// The embedding API: what the quick reference's backend does with its
// WebSocket manager, in C++.
//
//   vigil::server srv{settings};
//   srv.start();
//   auto& hub = srv.hub();
//   hub.send_anomaly_alert("user_123", "stream_456", detection, frame);
//   if (auto stats = hub.get_connection_stats("user_123"))
//       std::cout << "User uptime: " << stats->uptime_seconds << "s\n";
//
// Alerts sent here follow the same path as HTTP publishes: stored durably,
// then delivered, replayed on reconnect until acknowledged.
#include "alerts/alert_service.hpp"
#include "hub/connection_registry.hpp"
#include "hub/connection_report.hpp"

#include <boost/json/value.hpp>

#include <future>
#include <optional>
#include <string>
#include <vector>

namespace vigil {

class hub {
public:
    hub(alert_service& alerts, connection_registry& registry) : alerts_(alerts), registry_(registry) {}

    // Stores the alert and delivers it to the user's live connection, if any.
    // The future holds the result once the alert is durable, or a store_error.
    // Throws std::invalid_argument at once for an alert the HTTP API would refuse
    // (bad user id, empty stream id, detection not an object, frame not JPEG/PNG).
    std::future<publish_result> send_anomaly_alert(std::string user_id, std::string stream_id,
                                                   boost::json::value const& detection,
                                                   std::optional<annotated_frame> annotated_frame = {},
                                                   std::string idempotency_key = {});

    // The same, with a callback run on the thread that commits it, the alert
    // service's worker or an I/O thread (keep it short):
    // the cheapest way to publish at high rates.
    void send_anomaly_alert_async(std::string user_id, std::string stream_id, boost::json::value const& detection,
                                  std::optional<annotated_frame> annotated_frame,
                                  std::function<void(publish_outcome)> done);

    // Empty when the user has no live connection on this node.
    std::optional<connection_report> get_connection_stats(std::string const& user_id) const;
    std::vector<connection_report> get_all_connection_stats() const;

private:
    new_alert make_alert(std::string user_id, std::string stream_id, boost::json::value const& detection,
                         std::optional<annotated_frame> frame, std::string idempotency_key) const;

    alert_service& alerts_;
    connection_registry& registry_;
};

}  // namespace vigil
