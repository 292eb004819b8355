#pragma once
// The configured API keys (--admin-api-keys, --publisher-api-keys), which a
// SIGHUP may replace while the server runs: a lookup sees the old set or the
// new one whole. Keys are compared in constant time, with every key.
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::auth {

class api_keys {
public:
    enum class role { none, admin, publisher };

    api_keys() = default;
    api_keys(std::vector<std::string> admin, std::vector<std::string> publisher) {
        replace(std::move(admin), std::move(publisher));
    }

    // Thread-safe.
    void replace(std::vector<std::string> admin, std::vector<std::string> publisher);
    role find(std::string_view key) const;

private:
    struct lists {
        std::vector<std::string> admin, publisher;
    };
    mutable std::mutex mutex_;
    std::shared_ptr<lists const> current_ = std::make_shared<lists const>();
};

}  // namespace vigil::auth
