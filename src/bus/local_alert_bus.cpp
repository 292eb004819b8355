#include "bus/local_alert_bus.hpp"

#include <stdexcept>

namespace vigil {

local_alert_bus::local_alert_bus(std::string node_id) : node_id_(std::move(node_id)) {}

void local_alert_bus::start(bus_handler& handler) {
    bus_handler* expected = nullptr;
    if (!handler_.compare_exchange_strong(expected, &handler)) throw std::logic_error("local_alert_bus started twice");
}

// stop() must not return while a publish() on another thread is still inside
// the handler; the alert service stops publishing before it stops the bus
// (server::wait), so clearing the pointer is enough.
void local_alert_bus::stop() { handler_.store(nullptr, std::memory_order_release); }

void local_alert_bus::publish(bus_alert const& alert) {
    if (auto* h = handler_.load(std::memory_order_acquire)) h->on_alert(alert);
}

void local_alert_bus::remote_connections(std::function<void(std::vector<node_connection>)> done) const { done({}); }

}  // namespace vigil
