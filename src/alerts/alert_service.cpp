#include "alerts/alert_service.hpp"

#include <algorithm>
#include <utility>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "proto/alert_json.hpp"
#include "proto/messages.hpp"

namespace vigil {

namespace {
// Delivery counts are bookkeeping, not part of the guarantee: they ride along
// with the next commit, or get their own once this many wait or the queue idles.
constexpr std::size_t max_pending_deliveries = 4096;
constexpr std::size_t prune_chunk = 1000;

thread_local work_site* this_thread_site = nullptr;

// Whether a connection here, opened at `here_ms`, gives way to one `other`
// opened at `other_ms`: the newer wins; at the same millisecond, the node
// whose id sorts first, so that both nodes decide alike.
bool gives_way(std::int64_t here_ms, std::int64_t other_ms, std::string const& self, std::string const& other) {
    return here_ms < other_ms || (here_ms == other_ms && other < self);
}
}  // namespace

void alert_service::set_work_site(work_site* site) noexcept { this_thread_site = site; }

alert_service::alert_service(alert_store& store, alert_bus& bus, connection_registry& registry,
                             alert_service_options options)
    : store_(store), bus_(bus), registry_(registry), options_(options) {
    next_prune_ms_ = now_ms() + options_.prune_interval_ms;
    worker_ = std::thread{[this] { run_worker(); }};
}

alert_service::~alert_service() { stop(); }

void alert_service::enqueue(job j) {
    work_site* site = options_.drain_on_work_sites ? this_thread_site : nullptr;
    bool wake = false;
    {
        std::unique_lock lock{mutex_};
        if (stopped_) {
            lock.unlock();
            return refuse(j);
        }
        queue_.push_back(std::move(j));
        if (draining_) return;  // the holder takes it with its next round
        draining_ = true;
        if (stopping_) site = nullptr;  // the worker finishes what is left
        if (!site) {
            worker_has_drain_ = true;
            wake = worker_waiting_;
        }
    }
    if (site)
        site->defer([this, site] { drain_on(*site); });
    else if (wake)
        wake_.notify_one();
}

void alert_service::refuse(job& j) {
    refusal const why{503, "store_unavailable", "the server is stopping; retry it"};
    if (auto* p = std::get_if<publish_job>(&j))
        p->done(why);
    else if (auto* a = std::get_if<transition_job>(&j))
        a->done(why);
    else if (auto const c = std::get<open_job>(j).target.lock())
        c->close(close_code::going_away, "server going away");
}

void alert_service::publish(std::vector<new_alert> alerts, std::function<void(publish_outcome)> done) {
    enqueue(publish_job{std::move(alerts), std::move(done)});
}

void alert_service::open(std::shared_ptr<subscriber> connection, std::optional<stream_position> since) {
    // Here rather than in the drain: a second attach there, behind other
    // jobs, could come after a newer connection's and replace it (4001 to the
    // newer one). Before the job is queued, so before its replay query.
    registry_.attach(connection);
    auto const stats = connection->stats();
    bus_.publish_control({bus_control::kind::connection_replaced, stats.user_id, bus_.node_id(), stats.connection_id,
                          stats.connected_at_ms});
    bool const resumes = since && (since->epoch.empty() || since->epoch == store_.epoch());
    if (since && !resumes)
        log::info("ws.resume_new_epoch", {{"conn", stats.connection_id},
                                          {"user_id", stats.user_id},
                                          {"since", since->seq},
                                          {"epoch", since->epoch},
                                          {"current", store_.epoch()}});
    enqueue(open_job{connection, resumes ? since->seq : 0, !resumes, resumes});
}

void alert_service::fetch(std::weak_ptr<subscriber> connection, std::uint64_t after_seq, bool unacked_only) {
    enqueue(open_job{std::move(connection), after_seq, unacked_only, false});
}

void alert_service::transition(transition_request request, std::function<void(transition_outcome_or_error)> done) {
    enqueue(transition_job{std::move(request), std::move(done)});
}

void alert_service::stop() {
    {
        std::lock_guard lock{mutex_};
        if (stopped_) return;
        stopping_ = true;
    }
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
}

// One round on the I/O thread that holds the drain. Work that arrived
// meanwhile gets another round here, after the thread's other handlers. A
// prune that is due, and a stop, go to the worker: deleting a chunk of rows is
// not for an I/O thread.
void alert_service::drain_on(work_site& site) {
    std::deque<job> jobs;
    {
        std::lock_guard lock{mutex_};
        jobs.swap(queue_);
    }
    take_due_retries(jobs, now_ms());
    run_round(jobs);
    {
        std::lock_guard lock{mutex_};
        if (!stopping_ && now_ms() < next_prune_ms_) {
            if (queue_.empty())
                draining_ = false;
            else
                site.defer([this, &site] { drain_on(site); });
            return;
        }
        worker_has_drain_ = true;
    }
    wake_.notify_all();
}

void alert_service::run_worker() {
    std::deque<job> jobs;
    std::unique_lock lock{mutex_};
    for (;;) {
        worker_waiting_ = true;
        // Wakes for a hand-over; at stop once no site drains; and now and then
        // to record delivery counts and prune.
        wake_.wait_for(lock, std::chrono::milliseconds{options_.maintenance_interval_ms},
                       [&] { return worker_has_drain_ || (stopping_ && !draining_); });
        worker_waiting_ = false;
        if (worker_has_drain_)
            worker_has_drain_ = false;  // handed over: draining_ is already ours
        else if (!draining_)
            draining_ = true;
        else
            continue;  // a site is draining; maintenance can wait
        for (;;) {
            jobs.swap(queue_);
            lock.unlock();
            take_due_retries(jobs, now_ms());
            if (jobs.empty())
                flush_deliveries();
            else
                run_round(jobs);  // empties jobs
            prune_if_due(now_ms());
            follow_feed_if_due(now_ms());
            lock.lock();
            if (queue_.empty()) break;
        }
        draining_ = false;
        if (stopping_) {
            stopped_ = true;  // from here on work is refused, so no one else drains
            lock.unlock();
            flush_deliveries();  // what the last round replayed
            return;
        }
    }
}

void alert_service::run_round(std::deque<job>& jobs) {
    // Consecutive publishes and acks form one commit; an open() is a barrier
    // so that its replay sees exactly what was committed before it.
    std::vector<publish_job*> publishes;
    std::vector<transition_job*> acks;
    std::size_t pending_alerts = 0;
    for (auto& j : jobs) {
        if (auto* p = std::get_if<publish_job>(&j)) {
            if (!publishes.empty() &&
                (!options_.group_commit || pending_alerts + p->alerts.size() > options_.max_alerts_per_commit)) {
                commit(publishes, acks);
                pending_alerts = 0;
            }
            publishes.push_back(p);
            pending_alerts += p->alerts.size();
        } else if (auto* a = std::get_if<transition_job>(&j)) {
            acks.push_back(a);
        } else {
            commit(publishes, acks);
            pending_alerts = 0;
            replay(std::get<open_job>(j));
        }
    }
    commit(publishes, acks);
    jobs.clear();
    bool full = false;
    {
        std::lock_guard lock{delivered_mutex_};
        full = delivered_.size() >= max_pending_deliveries;
    }
    if (full) flush_deliveries();
}

void alert_service::commit(std::vector<publish_job*>& publishes, std::vector<transition_job*>& acks) {
    if (publishes.empty() && acks.empty()) return;
    write_batch batch;
    for (auto* p : publishes)
        for (auto& a : p->alerts) {
            a.delivered_on_commit = registry_.connected(a.user_id);
            batch.alerts.push_back(std::move(a));
        }
    for (auto* a : acks) batch.transitions.push_back(a->request);
    batch.node = bus_.node_id();
    {
        std::lock_guard lock{delivered_mutex_};
        batch.delivered.swap(delivered_);
    }

    write_result result;
    auto& m = metrics::global();
    if (observer_ && !batch.alerts.empty()) observer_->before_commit(batch.alerts, now_ms());
    auto const started = metrics::now_ns();
    try {
        result = store_.write(batch, now_ms());
    } catch (std::exception const& e) {
        log::error("store.write_failed", {{"error", e.what()}, {"alerts", batch.alerts.size()}});
        auto const why = store_unavailable();
        for (auto* p : publishes) p->done(why);
        for (auto* a : acks) a->done(why);
        publishes.clear();
        acks.clear();
        return;
    }

    m.store_commit.observe_ns(metrics::now_ns() - started);

    // Publish in commit order, then answer: the producer's 201 means "stored",
    // and `delivered` says whether a live connection was there to take it, as
    // far as this node knows (its own, or one the bus knows of elsewhere).
    std::size_t i = 0;
    std::string_view last_counted;  // a team alert's copies are neighbours: count the alert once
    for (auto* p : publishes) {
        std::vector<publish_result> out;
        out.reserve(p->alerts.size());
        for (std::size_t k = 0; k < p->alerts.size(); ++k, ++i) {
            auto& appended = result.appended[i];
            publish_result r{appended.alert.alert_id, appended.alert.seq, false, appended.duplicate};
            if (!appended.duplicate) {
                if (options_.inline_frames && batch.alerts[i].frame)
                    appended.alert.frame_bytes = std::move(batch.alerts[i].frame->bytes);
                bool const here = batch.alerts[i].delivered_on_commit;
                // The insert counted one delivery when a connection was here;
                // one that arrives meanwhile is counted by the receiver. (One
                // that closed in that instant leaves a count one too high.)
                bus_.publish({appended.alert.user_id, appended.alert.seq, appended.alert.alert_id, bus_.node_id(), here,
                              std::make_shared<std::string const>(
                                  proto::anomaly_message(appended.alert, false, store_.epoch()))});
                r.delivered = here || bus_.connected_elsewhere(appended.alert.user_id);
                if (observer_) observer_->committed(appended.alert, r.delivered);
                if (appended.alert.alert_id != last_counted) {
                    m.alerts_published.inc();
                    m.alerts_by_severity.inc(appended.alert.severity);
                    last_counted = appended.alert.alert_id;
                }
            } else {
                m.alerts_duplicate.inc();
            }
            out.push_back(std::move(r));
        }
        p->done(std::move(out));
    }
    bool changed = false;
    for (std::size_t k = 0; k < acks.size(); ++k) {
        auto const& t = result.transitions[k];
        auto const& request = acks[k]->request;
        if (t.outcome == transition_outcome::applied && t.alert) {
            changed = true;
            auto const& a = *t.alert;
            std::string_view change = "acknowledged";
            if (request.kind == transition_kind::resolve) change = "resolved";
            if (request.kind == transition_kind::reopen) change = "reopened";
            m.alert_transitions.inc(change);
            // The first acknowledgement: an alert resolved while open is acknowledged by it.
            if (request.kind != transition_kind::reopen && a.acked_ms == t.at_ms) {
                m.alerts_acked.inc();
                m.time_to_acknowledge.observe_ms(a.severity, t.at_ms - a.created_ms);
                if (observer_)
                    for (auto const& u : t.recipients) observer_->acknowledged(request.alert_id, u, request.actor);
            }
            if (request.kind == transition_kind::resolve)
                m.time_to_resolve.observe_ms(a.severity, t.at_ms - a.created_ms);
            // The actor's answer first (ack_ok before alert_updated), then everyone's update.
            acks[k]->done(t);
            announce_change(a, t.recipients, change, request.actor);
            continue;
        }
        acks[k]->done(t);
    }
    if (changed && on_change_) on_change_();
    publishes.clear();
    acks.clear();
}

void alert_service::announce_change(stored_alert const& alert, std::vector<std::string> const& recipients,
                                    std::string_view change, std::string_view actor) {
    auto const text = std::make_shared<std::string const>(proto::alert_updated_message(alert, change, actor));
    for (auto const& u : recipients) {
        registry_.deliver(u, {text, 0, 0});
        bus_.publish_control({bus_control::kind::user_message, u, bus_.node_id(), {}, 0, text});
    }
}

void alert_service::announce_escalation(escalation_result const& result, escalation_fire const& fire) {
    if (!result.applied || !result.alert) return;
    auto& m = metrics::global();
    m.escalations.inc();
    m.alert_transitions.inc("escalated");
    std::vector<std::string> others;
    for (auto const& u : result.recipients)
        if (std::none_of(result.added.begin(), result.added.end(), [&](auto const& a) { return a.user_id == u; }))
            others.push_back(u);
    for (auto const& copy : result.added)  // as a fresh alert: the receiving node records its delivery
        bus_.publish({copy.user_id, copy.seq, copy.alert_id, bus_.node_id(), false,
                      std::make_shared<std::string const>(proto::anomaly_message(copy, false, store_.epoch()))});
    announce_change(*result.alert, others, "escalated", "escalation");
    // Everyone the step reached is pushed, connected or not (SPEC section 9).
    if (observer_) {
        for (auto const& u : fire.recipients) {
            auto copy = *result.alert;
            copy.user_id = u;
            copy.suppressed = false;
            observer_->committed(copy, false);
        }
    }
    if (on_change_) on_change_();
}

void alert_service::replay(open_job& j) {
    auto const connection = j.target.lock();
    if (!connection) return;  // gone before its turn
    replay_page page;
    try {
        auto const& user = connection->user_id();
        page = store_.after(user, j.after_seq, j.unacked_only, options_.replay_batch, options_.inline_frames);
        if (j.from_client && j.after_seq > page.head) {
            // Beyond the user's last seq: the client's numbering is from a
            // store that no longer exists (given without its epoch). Start over.
            log::info("ws.resume_beyond_head", {{"user_id", user}, {"since", j.after_seq}, {"head", page.head}});
            j.after_seq = 0;
            j.unacked_only = true;
            page = store_.after(user, 0, true, options_.replay_batch, options_.inline_frames);
        }
    } catch (std::exception const& e) {
        // Read again later, backing off to 16 s; the connection stays. Logged
        // once per page, not per attempt: a store that is down for a while
        // would otherwise log every connection every few seconds.
        if (j.failures == 0)
            log::warn("store.replay_failed", {{"user_id", connection->user_id()},
                                              {"error", e.what()},
                                              {"action", "retrying until the store answers"}});
        auto const delay = std::int64_t{1000} << std::min(j.failures, 4);
        ++j.failures;
        retries_.push_back({std::move(j), now_ms() + delay});
        return;
    }
    replay_delivery out;
    out.after = j.after_seq;
    out.head = page.head;
    out.unacked_only = j.unacked_only;
    out.more = page.alerts.size() == options_.replay_batch;
    out.alerts.reserve(page.alerts.size());
    for (auto const& a : page.alerts)
        out.alerts.push_back(
            {std::make_shared<std::string const>(proto::anomaly_message(a, true, store_.epoch())), a.seq, 0});
    {
        std::lock_guard lock{delivered_mutex_};
        for (auto& a : page.alerts) delivered_.push_back({std::move(a.alert_id), std::move(a.user_id)});
    }
    metrics::global().alerts_replayed.inc(page.alerts.size());
    connection->replay(std::move(out));
}

void alert_service::take_due_retries(std::deque<job>& jobs, std::int64_t now) {
    if (retries_.empty()) return;
    auto const due = std::partition(retries_.begin(), retries_.end(), [&](retry const& r) { return r.due_ms > now; });
    for (auto it = due; it != retries_.end(); ++it)
        if (!it->read.target.expired()) jobs.push_front(std::move(it->read));
    retries_.erase(due, retries_.end());
}

void alert_service::record_delivery(delivery_mark mark) {
    std::lock_guard lock{delivered_mutex_};
    delivered_.push_back(std::move(mark));
}

void alert_service::flush_deliveries() {
    write_batch batch;
    batch.node = bus_.node_id();
    {
        std::lock_guard lock{delivered_mutex_};
        batch.delivered.swap(delivered_);
    }
    if (batch.delivered.empty()) return;
    try {
        store_.write(batch, now_ms());
    } catch (std::exception const& e) {
        log::warn("store.delivery_count_failed", {{"error", e.what()}});
    }
}

// ---------------------------------------------------------------- bus

void alert_service::receiver::on_alert(bus_alert const& alert) {
    if (!s_.registry_.deliver(alert.user_id, {alert.text, alert.seq, metrics::now_ns()})) return;
    metrics::global().alerts_delivered.inc();
    if (!alert.delivery_recorded || alert.origin_node != s_.bus_.node_id())
        s_.record_delivery({alert.alert_id, alert.user_id});
}

// A newer connection of the user opened on another node: the one here goes,
// unless it is the newer of the two (both opened at about the same time).
void alert_service::receiver::on_control(bus_control const& message) {
    if (message.node == s_.bus_.node_id()) return;
    if (message.what == bus_control::kind::user_message) {
        if (message.text) s_.registry_.deliver(message.user_id, {message.text, 0, 0});
        return;
    }
    if (message.what != bus_control::kind::connection_replaced) return;
    s_.registry_.close_if(message.user_id, close_code::replaced, "replaced by a newer connection on another node",
                          [&](connection_stats const& here) {
                              return gives_way(here.connected_at_ms, message.connected_at_ms, s_.bus_.node_id(),
                                               message.node);
                          });
}

void alert_service::receiver::on_link_changed(bool up) {
    s_.link_up_.store(up, std::memory_order_release);
    if (!up) s_.link_lost_.store(true, std::memory_order_release);
    if (up)
        log::info("bus.link_up", {{"node", s_.bus_.node_id()}});
    else
        log::warn("bus.link_down", {{"node", s_.bus_.node_id()}, {"detail", s_.bus_.status().detail}});
}

std::vector<connection_stats> alert_service::receiver::local_connections() const { return s_.registry_.all_stats(); }

void alert_service::check_ownership() {
    bus_.remote_connections([this](std::vector<node_connection> const& remote) {
        auto const& self = bus_.node_id();
        for (auto const& r : remote) {
            if (r.node == self) continue;
            registry_.close_if(r.stats.user_id, close_code::replaced, "replaced by a newer connection on another node",
                               [&](connection_stats const& here) {
                                   return gives_way(here.connected_at_ms, r.stats.connected_at_ms, self, r.node);
                               });
        }
    });
}

// The worker's: while the bus cannot bring other nodes' alerts, read them from
// the store (every user's, in commit order) and deliver those whose user is
// connected here. The connections' sequencers drop what they already have.
void alert_service::follow_feed_if_due(std::int64_t now) {
    if (bus_.status().engine == "local" || now < next_feed_ms_) return;  // one node: nothing to miss
    bool const up = link_up_.load(std::memory_order_acquire);
    // A loss since the last look, even one that is over: its gap is read once.
    bool const lost = link_lost_.exchange(false, std::memory_order_acq_rel);
    try {
        if (up && !lost && !following_feed_) {
            older_mark_ = std::exchange(recent_mark_, store_.feed("", 0).cursor);
            next_feed_ms_ = now + 2000;
            return;
        }
        if (!following_feed_) {
            following_feed_ = true;
            feed_cursor_ = older_mark_.empty() ? recent_mark_ : older_mark_;
            log::warn("bus.following_store",
                      {{"node", bus_.node_id()},
                       {"detail", "the bus lost the other nodes: reading their alerts from the store"}});
        }
        next_feed_ms_ = now + options_.feed_poll_interval_ms;
        constexpr std::size_t page_size = 500, max_pages = 20;  // bounded per round
        for (std::size_t pages = 0; pages < max_pages; ++pages) {
            auto page = store_.feed(feed_cursor_, page_size);
            feed_cursor_ = page.cursor;
            for (auto& a : page.alerts) {
                if (!registry_.connected(a.user_id)) continue;
                bool const first = a.delivery_count == 0;
                auto text = std::make_shared<std::string const>(proto::anomaly_message(a, false, store_.epoch()));
                if (registry_.deliver(a.user_id, {std::move(text), a.seq, metrics::now_ns()}) && first)
                    record_delivery({std::move(a.alert_id), std::move(a.user_id)});
            }
            if (page.alerts.size() < page_size) break;
        }
        if (up) {  // the last read after the link came back covered the gap
            following_feed_ = false;
            recent_mark_ = older_mark_ = feed_cursor_;
            log::info("bus.following_bus", {{"node", bus_.node_id()}});
        }
    } catch (std::exception const& e) {
        log::warn("store.feed_failed", {{"error", e.what()}});
    }
}

void alert_service::prune_if_due(std::int64_t now) {
    if (now < next_prune_ms_) return;
    next_prune_ms_ = now + options_.prune_interval_ms;
    try {
        // One chunk per idle moment: deletion never holds up a publish for long.
        if (auto const n = store_.prune_expired(now, prune_chunk); n > 0) {
            log::info("store.pruned", {{"alerts", n}});
            if (n == prune_chunk) next_prune_ms_ = now;  // more to do on the next idle pass
        }
    } catch (std::exception const& e) {
        log::warn("store.prune_failed", {{"error", e.what()}});
    }
}

}  // namespace vigil
