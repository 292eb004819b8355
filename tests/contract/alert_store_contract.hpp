#pragma once
// The alert_store contract (store/alert_store.hpp), run against every engine.
// Instantiate with a factory: INSTANTIATE_TEST_SUITE_P(Name, AlertStoreContract, Values(factory)).
#include "store/alert_store.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>

namespace vigil::test {

using store_factory = std::function<std::unique_ptr<alert_store>(retention_policy)>;

struct named_factory {
    std::string name;
    store_factory make;
};

inline std::ostream& operator<<(std::ostream& os, named_factory const& f) { return os << f.name; }

class AlertStoreContract : public ::testing::TestWithParam<named_factory> {
protected:
    std::unique_ptr<alert_store> make(retention_policy r = {}) { return GetParam().make(r); }

    static new_alert alert(std::string user, std::string key = {}) {
        new_alert a;
        a.user_id = std::move(user);
        a.stream_id = "s";
        a.detection_json = R"({"k":1})";
        a.timestamp = "2024-12-03T10:30:00Z";
        a.idempotency_key = std::move(key);
        return a;
    }
    static write_batch alerts(std::vector<new_alert> v) {
        write_batch b;
        b.alerts = std::move(v);
        return b;
    }
};

}  // namespace vigil::test
