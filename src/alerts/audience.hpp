#pragma once
// Who receives an alert (docs/handling.md): its user, or each member of its
// team, plus the first escalation step's audience when a policy applies. A
// publish's alerts become the copies the store keeps, one per recipient,
// sharing one alert id. Reads teams and policies from the store: call it off
// the I/O threads.
#include "alerts/alert.hpp"
#include "common/refusal.hpp"
#include "store/handling_store.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

struct expanded_publish {
    std::vector<new_alert> copies;
    // Per alert of the publish, in order: its copies are copies[first, first + count).
    struct origin {
        std::size_t first = 0;
        std::size_t count = 0;
        std::string team;  // non-empty: published to a team
    };
    std::vector<origin> origins;
};

// At most this many copies per publish (a batch of team alerts multiplies).
inline constexpr std::size_t max_copies_per_publish = 10'000;

// Refused (400): an unknown team (unknown_team) or named policy
// (unknown_policy), a team without members, too many copies (413).
or_refusal<expanded_publish> expand_audiences(std::vector<new_alert> alerts, handling_store& handling,
                                              std::int64_t now_ms);

// The users a step's `notify` names: "team:NAME" (its members now; none when
// the team is gone) or "user:ID".
std::vector<std::string> audience_of(std::string_view notify, handling_store& handling);

// Whether `notify` is "team:NAME" or "user:ID" with a valid name or id.
bool valid_notify(std::string_view notify);

}  // namespace vigil
