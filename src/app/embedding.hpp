#pragma once
// The embedding API: what the quick reference's backend does with its
// WebSocket manager, in C++.
//
//   vigil::server srv{settings};
//   srv.start();
//   auto& api = srv.embedding();
//   api.send_anomaly_alert("user_123", "stream_456", detection, frame);
//   if (auto stats = api.get_connection_stats("user_123"))
//       std::cout << "User uptime: " << stats->uptime_seconds << "s\n";
//
// Alerts sent here follow the same path as HTTP publishes: stored durably,
// then delivered, replayed on reconnect until acknowledged.
#include "alerts/alert_service.hpp"
#include "alerts/alert_validation.hpp"
#include "hub/connection_registry.hpp"
#include "hub/connection_report.hpp"

#include <boost/json/value.hpp>

#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace vigil {

// An alert the HTTP API would refuse, with the refusal it would give.
struct alert_rejected : std::invalid_argument {
    explicit alert_rejected(refusal e) : std::invalid_argument(e.detail), error(std::move(e)) {}
    refusal error;
};

class embedding {
public:
    // `limits`: the server's (alert_limits_from(settings.limits)), so that an
    // embedded publish is held to what an HTTP one is.
    embedding(alert_service& alerts, connection_registry& registry, alert_limits limits = {})
        : alerts_(alerts), registry_(registry), limits_(limits) {}

    // Stores the alert and delivers it to the user's live connection, if any.
    // The future holds the result once the alert is durable, or a store_error.
    // Throws alert_rejected (a std::invalid_argument) at once for an alert the
    // HTTP API would refuse, by the same check (check_new_alert): bad user id,
    // stream id or idempotency key, detection not an object or over 64 KiB,
    // frame not JPEG/PNG or over --max-frame-bytes. The detection is sent as
    // JSON text, numbers in their shortest form (0.93).
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
    alert_limits limits_;
};

}  // namespace vigil
