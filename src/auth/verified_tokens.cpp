#include "auth/verified_tokens.hpp"

namespace vigil::auth {

std::optional<claims> verified_tokens::find(std::string_view token, std::int64_t now) {
    std::lock_guard lock{mutex_};
    auto it = tokens_.find(std::string{token});
    if (it == tokens_.end()) return std::nullopt;
    if (it->second.expires_at <= now) {
        tokens_.erase(it);
        return std::nullopt;
    }
    return it->second;
}

void verified_tokens::remember(std::string_view token, claims const& c) {
    std::lock_guard lock{mutex_};
    if (tokens_.size() >= capacity) tokens_.clear();  // crude, but bounded and rare
    tokens_.insert_or_assign(std::string{token}, c);
}

}  // namespace vigil::auth
