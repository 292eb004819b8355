#pragma once
// Carries committed alerts to whichever node holds the user's connection.
//
// Contract: publish() is called in commit order, so each user's alerts arrive
// in seq order; delivery is at most once per publish (the store, replay and
// acknowledgements make the end-to-end guarantee at-least-once). The in-process
// engine (local_alert_bus) serves a single node; a Redis engine fans out
// across nodes.
#include "hub/subscriber.hpp"

#include <cstdint>
#include <string>

namespace vigil {

class alert_bus {
public:
    virtual ~alert_bus() = default;

    // Returns true when the message was queued to a live connection on this node.
    virtual bool publish(std::string const& user_id, sequenced_message const& message) = 0;
};

}  // namespace vigil
