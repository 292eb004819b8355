#pragma once
// What else happens around a commit, beside delivery to live connections:
// the Web Push dispatcher (alerts/push_dispatcher.hpp) is one.
#include "alerts/alert.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vigil {

class alert_observer {
public:
    virtual ~alert_observer() = default;

    // Before the alerts are stored, on the thread that commits them: may set
    // `suppressed`. May read the store (the committing thread may wait for
    // it), must not throw, and is on every publish's path: keep it short.
    virtual void before_commit(std::vector<new_alert>& alerts, std::int64_t now_ms) noexcept = 0;

    // Once an alert is committed (not a duplicate), on the committing
    // thread, after it went on the bus. `live`: a connection of its user was
    // live here or, as far as the bus knows, on another node. Must not block.
    virtual void committed(stored_alert const& alert, bool live) noexcept = 0;

    // Once an acknowledgement is committed (the first for that alert). Must not block.
    virtual void acknowledged(std::string const& alert_id, std::string const& user_id,
                              std::string const& by) noexcept = 0;
};

}  // namespace vigil
