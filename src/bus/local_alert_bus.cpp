#include "bus/local_alert_bus.hpp"

namespace vigil {

bool local_alert_bus::publish(std::string const& user_id, std::uint64_t seq, shared_message const& message) {
    return registry_.deliver(user_id, message, seq);
}

}  // namespace vigil
