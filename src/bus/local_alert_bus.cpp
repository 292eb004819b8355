#include "bus/local_alert_bus.hpp"

namespace vigil {

bool local_alert_bus::publish(std::string const& user_id, sequenced_message const& message) {
    return registry_.deliver(user_id, message);
}

}  // namespace vigil
