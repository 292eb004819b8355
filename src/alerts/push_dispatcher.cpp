#include "alerts/push_dispatcher.hpp"

#include "alerts/alert_validation.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "push/push_request.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <optional>
#include <thread>
#include <unordered_map>

namespace vigil {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// At most `n` bytes, cut at a character's start.
std::string cut(std::string_view s, std::size_t n) { return std::string{utf8_prefix(s, n)}; }

std::string capitalised(std::string s) {
    if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
    return s;
}

// "person on cam-3", or "alert on cam-3" when the detection names no type.
std::string what_on(stored_alert const& a) {
    auto type = cut(detection_type_of(a.detection_json), 64);
    return (type.empty() ? std::string{"alert"} : type) + " on " + cut(a.stream_id, 128);
}

}  // namespace

struct push_dispatcher::impl : std::enable_shared_from_this<impl> {
    impl(push_dispatcher& owner, push::sender_options sender_options)
        : owner(owner), sender(io, std::move(sender_options)) {}

    push_dispatcher& owner;
    asio::io_context io{1};    // the sender's connections
    asio::io_context work{1};  // store reads and writes, encryption: one job at a time, in order
    asio::executor_work_guard<asio::io_context::executor_type> io_guard = asio::make_work_guard(io);
    asio::executor_work_guard<asio::io_context::executor_type> work_guard = asio::make_work_guard(work);
    push::push_sender sender;
    std::thread io_thread, work_thread;
    std::atomic<std::size_t> pending{0};
    std::atomic<bool> stopping{false};

    // Runs `job` on the work thread, unless too many wait already.
    template <class Job>
    void post(Job job) {
        if (stopping.load(std::memory_order_acquire)) return;
        if (pending.fetch_add(1, std::memory_order_acq_rel) >= owner.options_.max_pending) {
            pending.fetch_sub(1, std::memory_order_acq_rel);
            metrics::global().push_failed.inc("queue_full");
            return;
        }
        asio::post(work, [self = shared_from_this(), job = std::move(job)]() mutable {
            self->pending.fetch_sub(1, std::memory_order_acq_rel);
            if (self->stopping.load(std::memory_order_acquire)) return;
            try {
                job();
            } catch (std::exception const& e) {
                metrics::global().push_failed.inc("store");
                log::warn("push.store_failed", {{"error", e.what()}});
            }
        });
    }

    // One message to every subscription of the user. `alert_id`, when set,
    // is marked pushed on the first delivery. `started_ns`: for the latency.
    void send_all(std::vector<push_subscription_record> const& subscriptions, push::push_message const& message,
                  std::string const& alert_id, std::int64_t started_ns) {
        auto const now_s = now_ms() / 1000;
        for (auto const& s : subscriptions) {
            push::push_subscription target{s.endpoint, s.p256dh, s.auth, std::nullopt};
            auto request = push::build_push_request(
                target, message,
                push::push_signer{owner.key_, owner.options_.subject, now_s, owner.options_.allow_insecure_endpoints});
            if (!request) {
                // Keys that do not work (or an endpoint the policy now refuses): not this device's fault to retry.
                metrics::global().push_failed.inc("invalid_subscription");
                log::warn("push.request_failed", {{"user_id", s.user_id}, {"error", request.error().message()}});
                continue;
            }
            sender.send(std::move(*request), [self = shared_from_this(), endpoint = s.endpoint, user = s.user_id,
                                              alert_id, started_ns](push::push_result r) {
                // Back to the work thread: what follows writes to the store.
                asio::post(self->work, [self, endpoint, user, alert_id, started_ns, r = std::move(r)] {
                    self->finished(endpoint, user, alert_id, started_ns, r);
                });
            });
        }
    }

    void finished(std::string const& endpoint, std::string const& user, std::string const& alert_id,
                  std::int64_t started_ns, push::push_result const& r) {
        auto& m = metrics::global();
        if (started_ns) m.push_latency.observe_ns(metrics::now_ns() - started_ns);
        try {
            switch (r.outcome) {
                case push::push_outcome::delivered:
                    if (!alert_id.empty()) first_delivery(alert_id);
                    m.push_sent.inc();
                    return;
                case push::push_outcome::gone:
                    m.push_failed.inc("gone");
                    if (owner.state_.forget_endpoint(endpoint)) {
                        m.push_subscriptions_removed.inc();
                        log::info("push.subscription_removed", {{"user_id", user}, {"status", r.status}});
                    }
                    return;
                case push::push_outcome::gave_up: m.push_failed.inc("gave_up"); return;
                case push::push_outcome::failed:
                    m.push_failed.inc(r.detail == "stopped" ? "stopped" : r.status ? "rejected" : "unreachable");
                    return;
            }
        } catch (std::exception const& e) {
            m.push_failed.inc("store");
            log::warn("push.store_failed", {{"error", e.what()}});
        }
    }

    // The alert reached a device for the first time: remember it, so that
    // its acknowledgement replaces the notification; if the acknowledgement
    // came while the push was under way, send the replacement now.
    void first_delivery(std::string const& alert_id) {
        if (owner.state_.was_pushed(alert_id)) return;
        owner.state_.mark_pushed(alert_id, now_ms());
        if (auto const a = owner.store_.get(alert_id); a && a->acked_ms) send_acknowledged(*a, a->acked_by);
    }

    void send_alert(stored_alert const& a, std::int64_t started_ns) {
        auto const subscriptions = owner.state_.subscriptions(a.user_id);
        if (subscriptions.empty()) return;
        auto const topic = group_topic(a.user_id, a.group_key);
        auto const count = owner.state_.count_group_push(a.user_id, topic, now_ms(), owner.options_.group_window_ms);
        json::object o;
        o["type"] = "alert";
        o["alert_id"] = a.alert_id;
        o["user_id"] = a.user_id;
        o["stream_id"] = a.stream_id;
        o["severity"] = a.severity;
        o["title"] = capitalised(a.severity) + ": " + what_on(a);
        if (count > 1) {
            auto const minutes = std::max<std::int64_t>(1, (owner.options_.group_window_ms + 59'999) / 60'000);
            o["body"] = std::to_string(count) + " alerts like this in " + std::to_string(minutes) +
                        " min, the last at " + cut(a.timestamp, 64);
        } else {
            o["body"] = "Detected at " + cut(a.timestamp, 64);
        }
        o["tag"] = topic;
        o["count"] = count;
        if (a.has_frame()) o["thumbnail_url"] = "/api/v1/alerts/" + a.alert_id + "/frame";
        o["url"] = "/?alert=" + a.alert_id;
        o["timestamp"] = cut(a.timestamp, 64);
        push::push_message message{json::serialize(o), owner.options_.ttl_seconds,
                                   push::urgency_for_severity(a.severity), topic};
        send_all(subscriptions, message, a.alert_id, started_ns);
    }

    void send_acknowledged(stored_alert const& a, std::string const& by) {
        auto const subscriptions = owner.state_.subscriptions(a.user_id);
        if (subscriptions.empty()) return;
        auto const topic = group_topic(a.user_id, a.group_key);
        json::object o;
        o["type"] = "acknowledged";
        o["alert_id"] = a.alert_id;
        o["stream_id"] = a.stream_id;
        o["by"] = by;
        o["tag"] = topic;
        o["title"] = "Acknowledged: " + what_on(a);
        o["body"] = "by " + cut(by, 128);
        push::push_message message{json::serialize(o), owner.options_.ttl_seconds, push::urgency::normal, topic};
        send_all(subscriptions, message, {}, metrics::now_ns());
    }
};

push_dispatcher::push_dispatcher(alert_store& store, push_state& state, push::vapid_key key,
                                 push_dispatch_options options)
    : store_(store), state_(state), key_(std::move(key)), options_(std::move(options)) {
    auto sender_options = options_.sender;
    sender_options.allow_insecure_loopback = options_.allow_insecure_endpoints;
    impl_ = std::make_shared<impl>(*this, std::move(sender_options));
    impl_->io_thread = std::thread{[i = impl_.get()] { i->io.run(); }};
    impl_->work_thread = std::thread{[i = impl_.get()] { i->work.run(); }};
}

push_dispatcher::~push_dispatcher() { stop(); }

void push_dispatcher::stop() {
    auto& i = *impl_;
    if (i.stopping.exchange(true)) return;
    i.sender.stop();  // what is in flight completes "stopped"
    i.work_guard.reset();
    if (i.work_thread.joinable()) i.work_thread.join();
    i.io_guard.reset();
    i.io.stop();
    if (i.io_thread.joinable()) i.io_thread.join();
    // Handlers still queued hold the impl: run them out (they find it stopping).
    i.io.restart();
    i.io.poll();
    i.work.restart();
    i.work.poll();
}

std::string push_dispatcher::group_topic(std::string_view user_id, std::string_view group_key) {
    std::string key{user_id};
    key.push_back('\n');
    key += group_key;
    return push::topic_for(key);
}

void push_dispatcher::before_commit(std::vector<new_alert>& alerts, std::int64_t now) noexcept {
    // One read for the batch's users that have an alert that could be held back.
    try {
        if (!state_.any_rules(now)) return;  // the usual case: nobody has a rule in force
    } catch (std::exception const&) {
        // Read the rules themselves below; their failure is logged there.
    }
    std::unordered_map<std::string_view, std::size_t> index;
    std::vector<std::string_view> users;
    for (auto const& a : alerts)
        if (a.severity != "critical" && index.try_emplace(a.user_id, users.size()).second) users.push_back(a.user_id);
    if (users.empty()) return;
    std::vector<push_rules> rules;
    try {
        rules = state_.rules_of_users(users, now);
    } catch (std::exception const& e) {
        // Not knowing the users' wishes, push: a blind spot is worse than noise.
        log::warn("push.rules_unavailable", {{"users", users.size()}, {"error", e.what()}});
        return;
    }
    for (auto& a : alerts)
        if (auto const it = index.find(a.user_id); it != index.end() && it->second < rules.size())
            a.suppressed = rules[it->second].suppresses(a.stream_id, a.severity, now);
}

void push_dispatcher::committed(stored_alert const& alert, bool live) noexcept {
    if (live || alert.suppressed) return;
    try {
        // What a push names, without the frame's bytes (inline frames): it
        // points to the frame's URL, and copying megabytes to drop them is waste.
        stored_alert a;
        a.alert_id = alert.alert_id;
        a.user_id = alert.user_id;
        a.stream_id = alert.stream_id;
        a.detection_json = alert.detection_json;
        a.timestamp = alert.timestamp;
        a.severity = alert.severity;
        a.group_key = alert.group_key;
        a.frame_content_type = alert.frame_content_type;
        impl_->post([i = impl_.get(), a = std::move(a), started = metrics::now_ns()] { i->send_alert(a, started); });
    } catch (std::exception const&) {
        metrics::global().push_failed.inc("queue_full");  // out of memory: as good as a full queue
    }
}

void push_dispatcher::acknowledged(std::string const& alert_id, std::string const& user_id,
                                   std::string const& by) noexcept {
    try {
        impl_->post([i = impl_.get(), alert_id, user_id, by] {
            if (!i->owner.state_.was_pushed(alert_id)) return;
            // The recipient's own copy: a team alert's acknowledgement reaches each member's devices.
            if (auto const a = i->owner.store_.get(alert_id, user_id)) i->send_acknowledged(*a, by);
        });
    } catch (std::exception const&) {
        metrics::global().push_failed.inc("queue_full");
    }
}

std::size_t push_dispatcher::send_test(std::string const& user_id) {
    auto const subscriptions = state_.subscriptions(user_id);
    if (subscriptions.empty()) return 0;
    json::object o{{"type", "test"},
                   {"tag", "vigil-test"},
                   {"title", "vigil: test notification"},
                   {"body", "Alerts will reach this device while vigil is closed."}};
    push::push_message message{json::serialize(o), options_.ttl_seconds, push::urgency::normal, "vigil-test"};
    asio::post(impl_->work, [i = impl_, subscriptions, message] {
        if (!i->stopping.load()) i->send_all(subscriptions, message, {}, 0);
    });
    return subscriptions.size();
}

}  // namespace vigil
