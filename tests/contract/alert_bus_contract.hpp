#pragma once
// The alert_bus contract (bus/alert_bus.hpp), run against every engine.
// Instantiate with a factory that makes one node of a cluster per call, all
// calls of one test sharing the same cluster:
//   INSTANTIATE_TEST_SUITE_P(Name, AlertBusContract, Values(bus_factory{...}))
// Cases that need several nodes are skipped for an engine that has one.
#include "bus/alert_bus.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace vigil::test {

// Makes the nodes of one cluster: a new cluster per `cluster()` call.
struct bus_cluster {
    virtual ~bus_cluster() = default;
    virtual std::unique_ptr<alert_bus> node(std::string node_id) = 0;
};

struct bus_factory {
    std::string name;
    std::function<std::unique_ptr<bus_cluster>()> cluster;
    int max_nodes = 1;
};

inline std::ostream& operator<<(std::ostream& os, bus_factory const& f) { return os << f.name; }

// Records what the engine hands a node.
class recording_handler final : public bus_handler {
public:
    void on_alert(bus_alert const& a) override {
        std::lock_guard lock{mutex_};
        alerts_.push_back(a);
        changed_.notify_all();
    }
    void on_control(bus_control const& c) override {
        std::lock_guard lock{mutex_};
        controls_.push_back(c);
        changed_.notify_all();
    }
    void on_link_changed(bool up) override {
        std::lock_guard lock{mutex_};
        links_.push_back(up);
        changed_.notify_all();
    }
    std::vector<connection_stats> local_connections() const override {
        std::lock_guard lock{mutex_};
        return connections_;
    }

    void set_connections(std::vector<connection_stats> c) {
        std::lock_guard lock{mutex_};
        connections_ = std::move(c);
    }
    std::vector<bus_alert> alerts() const {
        std::lock_guard lock{mutex_};
        return alerts_;
    }
    std::vector<bus_control> controls() const {
        std::lock_guard lock{mutex_};
        return controls_;
    }
    std::vector<bool> links() const {
        std::lock_guard lock{mutex_};
        return links_;
    }
    // Waits until `done()` holds (checked under the handler's lock) or the deadline.
    bool wait_for(std::function<bool()> const& done, std::chrono::milliseconds timeout = std::chrono::seconds{5}) {
        std::unique_lock lock{mutex_};
        return changed_.wait_for(lock, timeout, [&] { return done(); });
    }
    std::size_t alert_count_locked() const { return alerts_.size(); }
    std::size_t control_count_locked() const { return controls_.size(); }

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<bus_alert> alerts_;
    std::vector<bus_control> controls_;
    std::vector<bool> links_;
    std::vector<connection_stats> connections_;
};

class AlertBusContract : public ::testing::TestWithParam<bus_factory> {
protected:
    void SetUp() override { cluster_ = GetParam().cluster(); }
    std::unique_ptr<alert_bus> node(std::string id) { return cluster_->node(std::move(id)); }
    bool has_nodes(int n) const { return GetParam().max_nodes >= n; }

    static bus_alert alert(std::string user, std::uint64_t seq, std::string origin) {
        bus_alert a;
        a.user_id = std::move(user);
        a.seq = seq;
        a.alert_id = "0190a0b0-0000-7000-8000-" + std::to_string(100000000000 + seq);
        a.origin_node = std::move(origin);
        a.text = std::make_shared<std::string const>(R"({"type":"anomaly_detected","seq":)" + std::to_string(seq) +
                                                     R"(,"detection":{"note":"é \"quoted\" \n"}})");
        return a;
    }

    // Polls `check` until it holds or the deadline passes.
    static bool eventually(std::function<bool()> const& check,
                           std::chrono::milliseconds timeout = std::chrono::seconds{5}) {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            if (check()) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds{20});
        }
        return check();
    }

private:
    std::unique_ptr<bus_cluster> cluster_;
};

}  // namespace vigil::test
