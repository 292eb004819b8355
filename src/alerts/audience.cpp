#include "alerts/audience.hpp"

#include "alerts/alert_validation.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"

#include <algorithm>

namespace vigil {

namespace {

refusal refused(std::string code, std::string detail, std::size_t index, int status = 400) {
    return refusal{status, std::move(code), std::move(detail), index};
}

void add_unique(std::vector<std::string>& users, std::vector<std::string> const& more) {
    for (auto const& u : more)
        if (std::find(users.begin(), users.end(), u) == users.end()) users.push_back(u);
}

}  // namespace

bool valid_notify(std::string_view notify) {
    if (notify.starts_with("team:")) return valid_handling_name(notify.substr(5));
    if (notify.starts_with("user:")) return valid_user_id(notify.substr(5));
    return false;
}

std::vector<std::string> audience_of(std::string_view notify, handling_store& handling) {
    if (notify.starts_with("user:")) return {std::string{notify.substr(5)}};
    if (notify.starts_with("team:")) {
        if (auto team = handling.get_team(notify.substr(5))) return std::move(team->members);
    }
    return {};
}

or_refusal<expanded_publish> expand_audiences(std::vector<new_alert> alerts, handling_store& handling,
                                              std::int64_t now_ms) {
    expanded_publish out;
    out.origins.reserve(alerts.size());
    for (std::size_t i = 0; i < alerts.size(); ++i) {
        auto& a = alerts[i];
        std::vector<std::string> users;
        std::string policy_name = a.escalation;
        bool const named_policy = !policy_name.empty();
        if (!a.team.empty() && a.user_id.empty()) {
            auto team = handling.get_team(a.team);
            if (!team) return refused("unknown_team", "no team named " + a.team, i);
            if (team->members.empty()) return refused("unknown_team", "team " + a.team + " has no members", i);
            users = std::move(team->members);
            if (policy_name.empty()) {
                auto const& by = team->escalation;
                if (auto it = by.find(a.severity); it != by.end())
                    policy_name = it->second;
                else if (auto d = by.find("default"); d != by.end())
                    policy_name = d->second;
            }
        } else {
            users.push_back(a.user_id);
        }

        std::optional<escalation_policy> policy;
        if (!policy_name.empty()) {
            policy = handling.get_policy(policy_name);
            if (!policy && named_policy)
                return refused("unknown_policy", "no escalation policy named " + policy_name, i);
            if (!policy || policy->steps.empty()) {
                // A team's default that was deleted since: the alert goes out without one.
                log::warn("escalation.policy_missing", {{"policy", policy_name}, {"team", a.team}});
                policy.reset();
            }
        }
        if (policy) {
            a.escalation = policy->name;
            a.escalation_level = 1;
            add_unique(users, audience_of(policy->steps.front().notify, handling));
            // A clock only when a later step (or round) has someone to reach.
            if (policy->steps.size() > 1 || policy->repeat > 0)
                a.escalation_due_ms = now_ms + policy->steps.front().ack_within_seconds * 1000;
        } else {
            a.escalation.clear();
        }

        if (out.copies.size() + users.size() > max_copies_per_publish)
            return refused("too_many_recipients",
                           "a publish may reach at most " + std::to_string(max_copies_per_publish) + " recipients", i,
                           413);
        expanded_publish::origin o{out.copies.size(), users.size(), a.user_id.empty() ? a.team : std::string{}};
        if (users.size() > 1 && a.alert_id.empty()) a.alert_id = new_alert_id(now_ms);
        if (a.user_id.empty()) a.user_id = users.front();  // (a team's: its first member)
        for (std::size_t k = 1; k < users.size(); ++k) {
            new_alert copy = a;
            copy.user_id = users[k];
            out.copies.push_back(std::move(copy));
        }
        // The original last: moved, not copied (its frame may be large).
        a.user_id = users.front();
        out.copies.insert(out.copies.begin() + std::ptrdiff_t(o.first), std::move(a));
        out.origins.push_back(std::move(o));
    }
    return out;
}

}  // namespace vigil
