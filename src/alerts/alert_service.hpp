#pragma once
// The business rules between producers, the store and live connections:
// accept -> commit -> publish on the bus, and attach -> replay -> live.
//
// Every store write and every replay read goes through one queue, drained by
// one thread at a time; publishes queued together commit in one transaction
// (group commit). Once committed, each alert goes on the bus, which hands it
// to every node, this one included (bus/alert_bus.hpp); the node that holds
// the user's connection delivers it and records the delivery. Order does not
// rest on any of this: alerts committed by several writers (threads, or other
// nodes sharing the store) may reach a connection in any order, and each
// connection's delivery_sequencer sends every seq once, in order, reading from
// the store whatever the bus did not bring. A connection is attached before
// its first replay read, so an alert committed after that read reaches it
// live: never neither.
//
// Who drains the queue: the service's worker thread; or, with
// drain_on_work_sites (a store that commits in memory), the I/O thread where
// the work arrived, right after its event loop's current turn (so what that
// turn read commits together). An alert is then committed and delivered on
// the thread that read it, without waking another: on these machines a
// hand-off between threads costs more than a memory-store commit
// (docs/decisions/0006-drains-on-io-thread.md). The worker also prunes, and
// finishes the queue at stop.
#include "alerts/alert.hpp"
#include "alerts/alert_observer.hpp"
#include "bus/alert_bus.hpp"
#include "common/refusal.hpp"
#include "hub/connection_registry.hpp"
#include "store/alert_store.hpp"
#include "store/handling_store.hpp"

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
    // While the bus has lost the other nodes, how often the store's feed is
    // read for the alerts they commit (SPEC section 5: delivered within 2 s).
    std::int64_t feed_poll_interval_ms = 1000;
    // How often an idle worker records delivery counts and looks for a prune.
    std::int64_t maintenance_interval_ms = 200;
    // Drain on the work site (I/O thread) where work arrives. Only for a store
    // whose commit is a few µs in memory: one that waits for the disk would
    // hold up every connection of that thread meanwhile.
    bool drain_on_work_sites = false;
};

// Where a client says it stands: its last seq and the epoch it was numbered in
// (empty: not given, as by clients older than epochs).
struct stream_position {
    std::uint64_t seq = 0;
    std::string epoch;
};

// Either the results, or the refusal to answer (the store failed, or the
// server is stopping: nothing was applied; the reason is logged here).
using publish_outcome = or_refusal<std::vector<publish_result>>;
using transition_outcome_or_error = or_refusal<transition_result>;

// A thread with an event loop that can run the service's drain between its
// own work (an I/O thread). The server registers one per I/O thread.
class work_site {
public:
    virtual ~work_site() = default;
    // Runs `drain` on this thread soon, after what is already queued there.
    // Must run it: the service waits for a drain it handed out before it stops.
    virtual void defer(std::function<void()> drain) = 0;
};

class alert_service {
public:
    alert_service(alert_store& store, alert_bus& bus, connection_registry& registry, alert_service_options options);
    ~alert_service();  // stop()s

    // What the bus hands this node (start the bus with it once the service exists).
    bus_handler& bus_receiver() noexcept { return receiver_; }

    // Who else hears of commits (Web Push); set once, before any publish.
    void set_observer(alert_observer* observer) noexcept { observer_ = observer; }

    // Makes `site` the calling thread's work site (nullptr: none); work
    // submitted from this thread is then drained there.
    static void set_work_site(work_site* site) noexcept;

    // Stores the alerts durably, then publishes them. `done` runs on the
    // draining thread once the commit is on disk (possibly this one, later):
    // keep it short (post elsewhere). After stop(), `done` gets an error at once.
    void publish(std::vector<new_alert> alerts, std::function<void(publish_outcome)> done);

    // Attaches the connection at once, on the caller's thread (replacing the
    // user's previous one, here and, through the bus, on other nodes:
    // connections opened one after the other replace each other in that
    // order), then reads its first page: every retained alert after `since`,
    // or every unacknowledged one when there is no `since`, when it comes from
    // another epoch, or when it lies beyond the user's last seq (numbering
    // started again: an old position must not skip new alerts).
    void open(std::shared_ptr<subscriber> connection, std::optional<stream_position> since);

    // Reads a page for a connection (its delivery_sequencer asked): alerts
    // after `after_seq`, only unacknowledged ones when asked.
    void fetch(std::weak_ptr<subscriber> connection, std::uint64_t after_seq, bool unacked_only);

    // Acknowledges, resolves or reopens (docs/handling.md). Grouped with
    // publishes into one commit; once applied, every recipient's live
    // connection, on any node, gets an alert_updated.
    void transition(transition_request request, std::function<void(transition_outcome_or_error)> done);

    // An escalation step the store applied (escalation_worker): the new
    // copies go out like fresh alerts, the other recipients get an
    // alert_updated, and everyone the step reached is pushed.
    void announce_escalation(escalation_result const& result, escalation_fire const& fire);

    // Called after each commit that applied a handling change (the webhook
    // dispatcher's poke); set once, before any publish.
    void set_change_listener(std::function<void()> listener) { on_change_ = std::move(listener); }

    // One connection per user across nodes, when a "replaced" message was
    // lost: every connection here whose user the bus shows connected on
    // another node more recently is closed with 4001 (the newest wins; equal
    // times go to the node whose id sorts first). Run now and then.
    void check_ownership();

    // Finishes queued work (waiting for a drain in progress on a work site),
    // records pending delivery counts, joins the worker.
    void stop();

    alert_store& store() noexcept { return store_; }

private:
    // The bus's receive side: delivers to this node's connections.
    class receiver final : public bus_handler {
    public:
        explicit receiver(alert_service& s) : s_(s) {}
        void on_alert(bus_alert const& alert) override;
        void on_control(bus_control const& message) override;
        void on_link_changed(bool up) override;
        std::vector<connection_stats> local_connections() const override;

    private:
        alert_service& s_;
    };

    struct publish_job {
        std::vector<new_alert> alerts;
        std::function<void(publish_outcome)> done;
    };
    struct open_job {
        std::weak_ptr<subscriber> target;
        std::uint64_t after_seq = 0;
        bool unacked_only = false;
        bool from_client = false;  // after_seq is the client's `since`: check it against the head
        int failures = 0;          // reads of this page that the store refused so far
    };
    // A page read the store refused, tried again once due: the connection
    // stays open meanwhile (heartbeats, live alerts held) and catches up when
    // the store is back.
    struct retry {
        open_job read;
        std::int64_t due_ms = 0;
    };
    struct transition_job {
        transition_request request;
        std::function<void(transition_outcome_or_error)> done;
    };
    using job = std::variant<publish_job, open_job, transition_job>;

    void enqueue(job j);
    void refuse(job& j);
    void run_worker();
    void drain_on(work_site& site);
    void run_round(std::deque<job>& jobs);
    void commit(std::vector<publish_job*>& publishes, std::vector<transition_job*>& changes);
    // alert_updated to every recipient, here and through the bus.
    void announce_change(stored_alert const& alert, std::vector<std::string> const& recipients, std::string_view change,
                         std::string_view actor);
    void replay(open_job& j);
    void take_due_retries(std::deque<job>& jobs, std::int64_t now);
    void follow_feed_if_due(std::int64_t now);
    void flush_deliveries();
    void record_delivery(delivery_mark mark);
    void prune_if_due(std::int64_t now);

    alert_store& store_;
    alert_bus& bus_;
    connection_registry& registry_;
    alert_service_options options_;
    alert_observer* observer_ = nullptr;
    std::function<void()> on_change_;
    receiver receiver_{*this};

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<job> queue_;
    bool draining_ = false;          // a thread holds the drain (one at a time)
    bool worker_has_drain_ = false;  // ... and it was handed to the worker
    bool stopping_ = false;
    bool stopped_ = false;         // the worker is gone: new work is refused
    bool worker_waiting_ = false;  // only then does a hand-over need to wake it

    // Deliveries to record with the next commit: from the drain (replays) and
    // from whichever thread the bus hands live alerts on.
    std::mutex delivered_mutex_;
    std::vector<delivery_mark> delivered_;

    // Owned by whoever holds the drain.
    std::int64_t next_prune_ms_ = 0;
    std::vector<retry> retries_;

    // The bus-down fallback (worker only). While the link is up, a recovery
    // point in the feed is kept, a little in the past; once it is lost, the
    // feed is read from there and its alerts delivered here, until the link is
    // back and one last read has covered the gap.
    std::atomic<bool> link_up_{true};
    // Set by every loss, taken by the worker: a loss already over when the
    // worker looks (a subscriber replaced in 100 ms) still has its gap read,
    // or what the bus dropped meanwhile would wait for the user's next alert.
    std::atomic<bool> link_lost_{false};
    bool following_feed_ = false;
    std::string feed_cursor_;  // where the next read starts, while following
    std::string recent_mark_;  // the feed's "now", taken every 2 s while linked
    std::string older_mark_;   // the one before: where following starts
    std::int64_t next_feed_ms_ = 0;
    std::thread worker_;
};

}  // namespace vigil
