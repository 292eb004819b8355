#include "alerts/escalation_worker.hpp"

#include "alerts/audience.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"

namespace vigil {

std::optional<next_step> step_after(escalation_policy const& policy, int step, int round) {
    if (std::size_t(step) + 1 < policy.steps.size()) return next_step{step + 1, round};
    if (round < policy.repeat) return next_step{0, round + 1};
    return std::nullopt;
}

escalation_worker::escalation_worker(handling_store& store, alert_service& alerts, escalation_worker_options options)
    : store_(store), alerts_(alerts), options_(options) {}

escalation_worker::~escalation_worker() { stop(); }

void escalation_worker::start() {
    thread_ = std::thread{[this] { run(); }};
}

void escalation_worker::stop() {
    {
        std::lock_guard lock{mutex_};
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void escalation_worker::run() {
    auto next_count = std::chrono::steady_clock::now();
    std::unique_lock lock{mutex_};
    while (!stopping_) {
        lock.unlock();
        try {
            run_once(now_ms());
        } catch (std::exception const& e) {
            log::warn("escalation.failed", {{"error", e.what()}});  // the store is down: the next look tries again
        }
        if (std::chrono::steady_clock::now() >= next_count) {
            count_open();
            next_count = std::chrono::steady_clock::now() + options_.open_count_interval;
        }
        lock.lock();
        wake_.wait_for(lock, options_.poll_interval, [&] { return stopping_; });
    }
}

void escalation_worker::count_open() {
    try {
        auto const counts = store_.open_by_severity();
        for (auto s : metrics::severity_counter::severities) {
            auto it = counts.find(std::string{s});
            metrics::global().alerts_open.set(s, it == counts.end() ? 0 : it->second);
        }
    } catch (std::exception const& e) {
        log::warn("store.open_count_failed", {{"error", e.what()}});
    }
}

std::size_t escalation_worker::run_once(std::int64_t now) {
    std::size_t fired = 0;
    auto const due = store_.claim_due_escalations(now, options_.lease.count(), 64);
    for (auto const& timer : due) {
        auto const policy = store_.get_policy(timer.policy);
        escalation_fire fire;
        fire.from = timer;
        fire.now_ms = now_ms();
        auto const step = policy ? step_after(*policy, timer.step, timer.round) : std::nullopt;
        if (step) {
            auto const& s = policy->steps[std::size_t(step->step)];
            fire.level = step->step + 1;
            fire.notify = s.notify;
            fire.recipients = audience_of(s.notify, store_);
            if (auto after = step_after(*policy, step->step, step->round))
                fire.next = escalation_timer{timer.alert_id, timer.policy, step->step, step->round,
                                             fire.now_ms + s.ack_within_seconds * 1000};
        } else {
            // The policy has no step after this one (a one-step policy, the
            // last round done) or is gone: the clock ends, nobody is notified
            // and nothing is recorded (level 0).
            fire.level = 0;
        }
        auto const result = store_.escalate(fire);
        if (fire.level == 0) {
            log::info("escalation.ended", {{"alert_id", timer.alert_id}, {"policy", timer.policy}});
            continue;
        }
        if (!result.applied) continue;  // acknowledged meanwhile, or another node fired it
        ++fired;
        log::info("escalation.fired", {{"alert_id", timer.alert_id},
                                       {"policy", timer.policy},
                                       {"level", fire.level},
                                       {"recipients", fire.recipients.size()},
                                       {"late_ms", fire.now_ms - timer.due_ms}});
        alerts_.announce_escalation(result, fire);
    }
    return fired;
}

}  // namespace vigil
