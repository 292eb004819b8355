#pragma once
// The business rules between producers, the store and live connections:
// accept -> commit -> publish, and attach -> replay -> live.
//
// One worker thread runs every store write and every replay query in a single
// queue. A connection is attached before its first replay query, so an alert
// is either committed before that query (and replayed) or published after the
// attach (and delivered live): never neither. The connection holds live
// alerts back until its replay is done and sends each seq once, so the client
// sees no gap, no duplicate and no reordering. Concurrent publishes queued
// together are committed in one transaction (group commit) and published in
// commit order, which is per-user seq order.
#include "alerts/alert.hpp"
#include "bus/alert_bus.hpp"
#include "hub/connection_registry.hpp"
#include "store/alert_store.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace vigil {

struct alert_service_options {
    bool group_commit = true;
    std::size_t max_alerts_per_commit = 4096;
    std::size_t replay_batch = 100;
    bool inline_frames = false;
    std::int64_t prune_interval_ms = 60'000;
};

// Either the results, or why the store refused (the publish was not applied).
using publish_outcome = std::variant<std::vector<publish_result>, std::string>;
using ack_outcome_or_error = std::variant<ack_result, std::string>;

class alert_service {
public:
    alert_service(alert_store& store, alert_bus& bus, connection_registry& registry,
                  alert_service_options options);
    ~alert_service();  // stop()s

    // Stores the alerts durably, then publishes them. `done` runs on the worker
    // thread once the commit is on disk: keep it short (post elsewhere).
    void publish(std::vector<new_alert> alerts, std::function<void(publish_outcome)> done);

    // Attaches the connection at once, on the caller's thread (replacing the
    // user's previous one: connections opened one after the other replace each
    // other in that order), then queues to it every retained alert after
    // `since`, or every unacknowledged one when there is no `since`, before
    // any live alert.
    void open(std::shared_ptr<subscriber> connection, std::optional<std::uint64_t> since);

    // The next replay batch for a connection: alerts after `after_seq` (only
    // unacknowledged ones when the connection came without `since`).
    void replay_more(std::weak_ptr<subscriber> connection, std::uint64_t after_seq, bool unacked_only);

    void acknowledge(ack_request request, std::function<void(ack_outcome_or_error)> done);

    // Finishes queued work, records pending delivery counts, joins the worker.
    void stop();

    alert_store& store() noexcept { return store_; }

private:
    struct publish_job {
        std::vector<new_alert> alerts;
        std::function<void(publish_outcome)> done;
    };
    struct open_job {
        std::weak_ptr<subscriber> target;
        std::uint64_t after_seq = 0;
        bool unacked_only = false;
    };
    struct ack_job {
        ack_request request;
        std::function<void(ack_outcome_or_error)> done;
    };
    using job = std::variant<publish_job, open_job, ack_job>;

    void enqueue(job j);
    void run();
    void commit(std::vector<publish_job*>& publishes, std::vector<ack_job*>& acks);
    void replay(open_job& j);
    void flush_deliveries();
    void prune_if_due(std::int64_t now);

    alert_store& store_;
    alert_bus& bus_;
    connection_registry& registry_;
    alert_service_options options_;

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<job> queue_;
    bool stopping_ = false;
    bool worker_waiting_ = false;  // only then does enqueue() need to wake it

    // Worker-thread state.
    std::vector<std::string> delivered_;  // recorded with the next commit
    std::int64_t next_prune_ms_ = 0;
    std::thread worker_;
};

}  // namespace vigil
