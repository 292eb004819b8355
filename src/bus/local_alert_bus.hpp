#pragma once
// The single-node bus: a publish goes straight to this process's handler.
// There are no other nodes, so control messages have nobody to reach and
// presence is this node's alone. Only for a store that one node uses.
#include "bus/alert_bus.hpp"

#include <atomic>

namespace vigil {

class local_alert_bus final : public alert_bus {
public:
    explicit local_alert_bus(std::string node_id = "local");

    std::string const& node_id() const noexcept override { return node_id_; }
    void start(bus_handler& handler) override;
    void stop() override;
    void publish(bus_alert const& alert) override;
    void publish_control(bus_control const&) override {}
    bool connected_elsewhere(std::string_view) const override { return false; }
    void remote_connections(std::function<void(std::vector<node_connection>)> done) const override;
    bus_status status() const override { return {true, "local", {}}; }

private:
    std::string const node_id_;
    // Set once by start(), cleared by stop(): a publish before start or after
    // stop reaches nobody, as on a networked engine.
    std::atomic<bus_handler*> handler_{nullptr};
};

}  // namespace vigil
