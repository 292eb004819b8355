#pragma once
// The single-node bus: hands alerts straight to this process's registry.
#include "bus/alert_bus.hpp"
#include "hub/connection_registry.hpp"

namespace vigil {

class local_alert_bus final : public alert_bus {
public:
    explicit local_alert_bus(connection_registry& registry) : registry_(registry) {}
    bool publish(std::string const& user_id, sequenced_message const& message) override;

private:
    connection_registry& registry_;
};

}  // namespace vigil
