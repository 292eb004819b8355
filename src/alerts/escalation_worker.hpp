#pragma once
// Fires escalation steps when their deadlines pass (docs/handling.md). Every
// node runs one; the store hands each due timer to one of them at a time
// (handling_store::claim_due_escalations) and applies a step once, whoever
// claims it, so a cluster fires each step once, and a node that died after a
// claim leaves it to be claimed again when its lease runs out.
#include "alerts/alert_service.hpp"
#include "store/handling_store.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace vigil {

struct escalation_worker_options {
    std::chrono::milliseconds poll_interval{250};           // a step fires within this of its deadline
    std::chrono::milliseconds lease{10'000};                // how long a claim holds a timer
    std::chrono::milliseconds open_count_interval{15'000};  // vigil_alerts_open's refresh
};

class escalation_worker {
public:
    escalation_worker(handling_store& store, alert_service& alerts, escalation_worker_options options = {});
    ~escalation_worker();  // stop()s
    escalation_worker(escalation_worker const&) = delete;
    escalation_worker& operator=(escalation_worker const&) = delete;

    void start();
    void stop();

    // One look: fires every due step. Returns how many fired. (The thread's
    // body; tests call it directly.)
    std::size_t run_once(std::int64_t now_ms);

private:
    void run();
    void count_open();

    handling_store& store_;
    alert_service& alerts_;
    escalation_worker_options options_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

// The step after `from` in `policy`, and its round: none after the last step
// of the last round.
struct next_step {
    int step = 0;
    int round = 0;
};
std::optional<next_step> step_after(escalation_policy const& policy, int step, int round);

}  // namespace vigil
