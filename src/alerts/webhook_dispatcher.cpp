#include "alerts/webhook_dispatcher.hpp"

#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "push/endpoint.hpp"
#include "push/push_sender.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

namespace vigil {

namespace asio = boost::asio;
namespace json = boost::json;

std::string webhook_signature(std::string_view secret, std::string_view body) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), secret.data(), int(secret.size()), reinterpret_cast<unsigned char const*>(body.data()),
         body.size(), mac, &size);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "sha256=";
    for (unsigned int i = 0; i < size; ++i) {
        out.push_back(hex[mac[i] >> 4]);
        out.push_back(hex[mac[i] & 15]);
    }
    return out;
}

std::chrono::milliseconds webhook_backoff(int failures, double u) {
    constexpr std::int64_t first_ms = 1000, cap_ms = 300'000;
    std::int64_t base = first_ms;
    for (int i = 1; i < failures && base < cap_ms; ++i) base *= 2;
    base = std::min(base, cap_ms);
    return std::chrono::milliseconds{base + std::int64_t(double(base) / 10 * std::clamp(u, 0.0, 1.0))};
}

namespace {

// X-Vigil-Event and X-Vigil-Delivery: the body's `type` and `id`, when they
// are short printable strings (the engines write them; a header must not be
// where a body's oddity ends a line early).
struct body_names {
    std::string type, id;
};

std::string header_safe(json::object const& o, std::string_view key) {
    auto const* v = o.if_contains(key);
    if (!v || !v->is_string()) return {};
    auto const& s = v->get_string();
    if (s.size() > 128 || std::any_of(s.begin(), s.end(), [](char c) { return c < 0x21 || c > 0x7e; })) return {};
    return std::string{s};
}

body_names names_of(std::string const& body) {
    boost::system::error_code ec;
    auto const v = json::parse(body, ec);
    if (ec || !v.is_object()) return {};
    return {header_safe(v.get_object(), "type"), header_safe(v.get_object(), "id")};
}

// One request's end, handed from the sender's thread to the worker.
struct answer {
    std::string id;  // the row's
    std::string origin;
    int failures_before = 0;  // the row's attempts when claimed
    push::push_result result;
    bool sent = true;  // went to the sender (and held a slot)
};

push::sender_options sender_options_for(webhook_options const& o) {
    push::sender_options s;
    s.allow_plain_http = true;  // the administrator's URLs, not user input
    s.allow_private_addresses = true;
    s.log_outcomes = false;  // the worker logs each outcome with its retry
    s.connect_timeout = o.timeout;
    s.exchange_timeout = o.timeout;
    s.max_concurrent = o.max_in_flight;
    s.retry.max_attempts = 1;  // retries are the outbox's, after webhook_backoff()
    s.user_agent = "vigil";
    return s;
}

}  // namespace

struct webhook_dispatcher::impl : std::enable_shared_from_this<impl> {
    impl(handling_store& store, webhook_options o)
        : store(store), options(std::move(o)), sender(io, sender_options_for(options)) {}

    handling_store& store;
    webhook_options const options;
    asio::io_context io{1};  // the sender's connections
    asio::executor_work_guard<asio::io_context::executor_type> io_guard = asio::make_work_guard(io);
    push::push_sender sender;
    std::thread io_thread, worker;

    std::mutex mutex;
    std::condition_variable wake;
    bool stopping = false;
    bool poked = false;
    std::vector<answer> answers;  // finished requests the worker has not seen

    // The worker's own.
    std::size_t in_flight = 0;
    bool store_failing = false;
    std::mt19937_64 rng{std::random_device{}()};

    void run() {
        auto next_drop = std::chrono::steady_clock::now();
        std::vector<answer> done;
        for (;;) {
            {
                std::unique_lock lock{mutex};
                wake.wait_for(lock, options.poll_interval, [&] { return stopping || poked || !answers.empty(); });
                if (stopping) return;
                poked = false;
                done.swap(answers);
            }
            for (auto& a : done) finished(a);
            done.clear();
            if (auto const now = std::chrono::steady_clock::now(); now >= next_drop) {
                // Tried again at the next tick if the store fails.
                if (guarded("drop", [&] { drop_old(); })) next_drop = now + options.drop_interval;
            }
            guarded("claim", [&] { claim_and_send(); });
        }
    }

    // Runs a store step; a failing store is logged when it starts and ends
    // failing, not at every tick.
    template <class Step>
    bool guarded(std::string_view what, Step step) {
        try {
            step();
            if (store_failing) log::info("webhook.store_recovered");
            store_failing = false;
            return true;
        } catch (std::exception const& e) {
            if (!store_failing) log::warn("webhook.store_failed", {{"step", what}, {"error", e.what()}});
            store_failing = true;
            return false;
        }
    }

    void drop_old() {
        auto const keep_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.keep).count();
        auto const dropped = store.drop_webhooks_before(now_ms() - keep_ms);
        if (dropped == 0) return;
        metrics::global().webhook_dropped.inc(dropped);
        log::warn("webhook.dropped", {{"rows", dropped}, {"older_than_hours", options.keep.count()}});
    }

    void claim_and_send() {
        if (in_flight >= options.max_in_flight) return;
        // No more than free slots: a row claimed waits for nobody, so its
        // lease covers its one request.
        auto const limit = std::min(options.claim_limit, options.max_in_flight - in_flight);
        auto rows = store.claim_webhooks(now_ms(), options.lease.count(), limit);
        for (auto& row : rows) send(std::move(row));
    }

    void send(webhook_delivery row) {
        auto endpoint = push::parse_configured_url(row.url);
        if (!endpoint) {
            // Not this node's URL list (config validates those): another's, or an older one's.
            push::push_result r;
            r.detail = "the row's URL is not usable: " + endpoint.error().detail;
            return finished(answer{std::move(row.id), "(invalid URL)", row.attempts, std::move(r), false});
        }
        auto const names = names_of(row.body);
        push::push_request request;
        request.endpoint = std::move(*endpoint);
        request.headers = {{"Content-Type", "application/json"},
                           {"X-Vigil-Signature", webhook_signature(options.secret, row.body)}};
        if (!names.type.empty()) request.headers.emplace_back("X-Vigil-Event", names.type);
        if (!names.id.empty()) request.headers.emplace_back("X-Vigil-Delivery", names.id);
        request.body = std::move(row.body);
        auto origin = request.endpoint.origin;
        ++in_flight;
        sender.send(std::move(request), [self = shared_from_this(), id = std::move(row.id), origin,
                                         attempts = row.attempts](push::push_result r) mutable {
            {
                std::lock_guard lock{self->mutex};
                self->answers.push_back(answer{std::move(id), std::move(origin), attempts, std::move(r)});
            }
            self->wake.notify_one();
        });
    }

    // After a stop: requests it cut short are due again at once rather than
    // after their lease, so the next start (or another node) sends them
    // without waiting; an answer that came in meanwhile is recorded.
    void release_unfinished() {
        std::vector<answer> done;
        {
            std::lock_guard lock{mutex};
            done.swap(answers);
        }
        for (auto const& a : done) {
            if (a.result.outcome == push::push_outcome::delivered)
                guarded("delivered", [&] { store.webhook_delivered(a.id); });
            else
                guarded("release", [&] { store.webhook_failed(a.id, now_ms()); });
        }
        if (!done.empty()) log::info("webhook.released", {{"rows", done.size()}});
    }

    void finished(answer const& a) {
        auto& m = metrics::global();
        auto const& r = a.result;
        if (a.sent) --in_flight;
        if (r.attempts > 0)
            m.webhook_delivery.observe_ns(std::chrono::duration_cast<std::chrono::nanoseconds>(r.elapsed).count());
        if (r.outcome == push::push_outcome::delivered) {
            guarded("delivered", [&] { store.webhook_delivered(a.id); });
            m.webhook_delivered.inc();
            log::debug("webhook.delivered",
                       {{"origin", a.origin},
                        {"status", r.status},
                        {"attempt", a.failures_before + 1},
                        {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed).count()}});
            return;
        }
        int const failures = a.failures_before + 1;
        double const u = std::uniform_real_distribution<double>{0.0, 1.0}(rng);
        auto const delay = webhook_backoff(failures, u);
        guarded("failed", [&] { store.webhook_failed(a.id, now_ms() + delay.count()); });
        m.webhook_failed.inc();
        log::warn("webhook.failed", {{"origin", a.origin},
                                     {"status", r.status},
                                     {"attempt", failures},
                                     {"retry_in_ms", delay.count()},
                                     {"detail", r.detail}});
    }
};

webhook_dispatcher::webhook_dispatcher(handling_store& store, webhook_options options) {
    store.set_webhook_urls(options.urls);
    impl_ = std::make_shared<impl>(store, std::move(options));
    impl_->io_thread = std::thread{[i = impl_.get()] { i->io.run(); }};
    impl_->worker = std::thread{[i = impl_.get()] { i->run(); }};
    std::vector<std::string> origins;
    for (auto const& url : impl_->options.urls)
        if (auto const e = push::parse_configured_url(url);
            e && std::find(origins.begin(), origins.end(), e->origin) == origins.end())
            origins.push_back(e->origin);
    std::string shown;
    for (auto const& o : origins) shown += (shown.empty() ? "" : ", ") + o;
    log::info("webhook.ready", {{"urls", impl_->options.urls.size()}, {"origins", shown}});
}

webhook_dispatcher::~webhook_dispatcher() { stop(); }

void webhook_dispatcher::poke() noexcept {
    {
        std::lock_guard lock{impl_->mutex};
        impl_->poked = true;
    }
    impl_->wake.notify_one();
}

void webhook_dispatcher::stop() {
    auto& i = *impl_;
    {
        std::lock_guard lock{i.mutex};
        if (i.stopping) return;
        i.stopping = true;
    }
    i.wake.notify_all();
    if (i.worker.joinable()) i.worker.join();
    i.sender.stop();  // what is in flight ends "stopped"
    i.io_guard.reset();
    i.io.stop();
    if (i.io_thread.joinable()) i.io_thread.join();
    // Handlers still queued hold the impl: run them out.
    i.io.restart();
    i.io.poll();
    i.release_unfinished();
}

}  // namespace vigil
