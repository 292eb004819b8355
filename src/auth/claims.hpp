#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::auth {

// What vigil uses from a verified token or API key.
struct claims {
    std::string subject;             // the configured subject claim, as text
    std::int64_t expires_at = 0;     // `exp`, seconds since the epoch (0: never, API keys)
    std::vector<std::string> roles;  // from `role` (a string) and `roles` (a list)
    bool api_key = false;            // a configured API key: a role, no user behind it

    bool has_role(std::string_view r) const {
        for (auto const& x : roles)
            if (x == r) return true;
        return false;
    }
    bool is_admin() const { return has_role("admin"); }
    bool can_publish() const { return is_admin() || has_role("publisher"); }
};

}  // namespace vigil::auth
