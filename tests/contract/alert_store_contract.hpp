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
    store_factory make;  // a new, empty store
    // Another store on the data of the last one `make` created, as a second
    // process or node would open it; empty for an engine one process owns
    // alone (its writers are then threads sharing one instance).
    store_factory reopen = {};
};

inline std::ostream& operator<<(std::ostream& os, named_factory const& f) { return os << f.name; }

class AlertStoreContract : public ::testing::TestWithParam<named_factory> {
protected:
    std::unique_ptr<alert_store> make(retention_policy r = {}) { return GetParam().make(r); }
    // A second writer on `first`'s data: its own handle where the engine has
    // one, else `first` itself.
    alert_store& second_writer(alert_store& first, retention_policy r = {}) {
        if (!GetParam().reopen) return first;
        seconds_.push_back(GetParam().reopen(r));
        return *seconds_.back();
    }
    void TearDown() override { seconds_.clear(); }

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

private:
    std::vector<std::unique_ptr<alert_store>> seconds_;
};

}  // namespace vigil::test
