#include "auth/api_keys.hpp"

#include <openssl/crypto.h>

namespace vigil::auth {

namespace {

bool same_secret(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool listed(std::vector<std::string> const& keys, std::string_view key) {
    bool found = false;
    for (auto const& k : keys) found |= same_secret(k, key);  // no early exit: constant time
    return found;
}

}  // namespace

void api_keys::replace(std::vector<std::string> admin, std::vector<std::string> publisher) {
    auto fresh = std::make_shared<lists const>(lists{std::move(admin), std::move(publisher)});
    std::lock_guard lock{mutex_};
    current_ = std::move(fresh);
}

api_keys::role api_keys::find(std::string_view key) const {
    std::shared_ptr<lists const> keys;
    {
        std::lock_guard lock{mutex_};
        keys = current_;
    }
    bool const admin = listed(keys->admin, key);
    bool const publisher = listed(keys->publisher, key);
    return admin ? role::admin : publisher ? role::publisher : role::none;
}

}  // namespace vigil::auth
