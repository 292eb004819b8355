#include "app/server.hpp"

#include "alerts/alert_service.hpp"
#include "alerts/escalation_worker.hpp"
#include "alerts/push_dispatcher.hpp"
#include "alerts/webhook_dispatcher.hpp"
#include "app/heartbeat_sweep.hpp"
#include "auth/jwt_verifier.hpp"
#include "bus/local_alert_bus.hpp"
#include "bus/redis_alert_bus.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "hub/connection_registry.hpp"
#include "net/listener.hpp"
#include "net/server_context.hpp"
#include "net/tls_identity.hpp"
#include "push/vapid.hpp"
#include "store/memory_alert_store.hpp"
#include "store/postgres_alert_store.hpp"
#include "store/sqlite_alert_store.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <openssl/rand.h>

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

namespace vigil {

namespace asio = boost::asio;

namespace {

settings prepared(settings s) {
    if (s.dev && s.jwt.algorithm == "HS256" && s.jwt.secret.empty()) {
        unsigned char bytes[32];
        if (RAND_bytes(bytes, sizeof bytes) != 1) throw config_error("no randomness for a development secret");
        static constexpr char hex[] = "0123456789abcdef";
        for (unsigned char b : bytes) {
            s.jwt.secret.push_back(hex[b >> 4]);
            s.jwt.secret.push_back(hex[b & 15]);
        }
        log::warn("config.dev_secret", {{"detail",
                                         "no VIGIL_JWT_SECRET: using a random secret for this run; "
                                         "set VIGIL_JWT_SECRET to mint tokens with `vigil token`"}});
    }
    return s;
}

std::unique_ptr<alert_store> make_store(settings const& s) {
    retention_policy retention{std::int64_t(s.store.retention_days) * 24 * 3600 * 1000, s.store.retention_per_user};
    if (s.store.engine == "memory") return std::make_unique<memory_alert_store>(retention);
    if (s.store.engine == "postgres") {
        postgres_options o;
        o.url = s.store.postgres_url;
        o.retention = retention;
        o.pool_size = s.store.postgres_pool_size;
        return std::make_unique<postgres_alert_store>(std::move(o));
    }
    auto const path = (std::filesystem::path{s.data_dir} / "vigil.db").string();
    return std::make_unique<sqlite_alert_store>(sqlite_options{path, s.store.synchronous == "full", retention});
}

std::unique_ptr<net::tls_identity> make_tls(settings const& s) {
    if (!s.tls.enabled()) return nullptr;
    try {
        auto tls = std::make_unique<net::tls_identity>(s.tls.cert_file, s.tls.key_file);
        log::info("tls.loaded",
                  {{"cert_file", s.tls.cert_file}, {"subject", tls->subject()}, {"not_after", tls->not_after()}});
        return tls;
    } catch (net::tls_error const& e) {
        throw config_error(e.what());
    }
}

// A node is named by --node-id, else by its host name and port, which tell
// apart the nodes of one machine (with port 0, the process id does).
std::string node_name(settings const& s) {
    if (!s.node_id.empty()) return s.node_id;
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || !*host) std::strcpy(host, "local");
    auto const port = s.tls.only ? s.tls.port : s.port;
    return std::string{host} + ":" + (port != 0 ? std::to_string(port) : "pid" + std::to_string(getpid()));
}

std::unique_ptr<alert_bus> make_bus(settings const& s) {
    if (s.bus.engine != "redis") return std::make_unique<local_alert_bus>(node_name(s));
    redis_bus_options o;
    o.url = s.bus.redis_url;
    o.prefix = s.bus.redis_prefix;
    o.node_id = node_name(s);
    try {
        return std::make_unique<redis_alert_bus>(std::move(o));
    } catch (std::invalid_argument const& e) {
        throw config_error(std::string{"bus.redis_url, bus.redis_prefix or node_id: "} + e.what());
    }
}

// Web Push's VAPID key: --vapid-private-key-file, else the data directory's
// (generated on first start), else, for a memory store, one for this run.
push::vapid_key vapid_key_for(settings const& s) {
    try {
        if (!s.push.vapid_private_key_file.empty()) return push::vapid_key::load(s.push.vapid_private_key_file);
        if (s.store.engine == "memory") {
            log::warn("push.ephemeral_key",
                      {{"detail",
                        "a memory store and no --vapid-private-key-file: a VAPID key for this run only; "
                        "browsers subscribed now must subscribe again after a restart"}});
            return push::vapid_key{push::p256_key::generate()};
        }
        if (s.bus.engine == "redis")
            log::warn("push.node_key", {{"detail",
                                         "each node of a cluster generates its own VAPID key in its data directory; "
                                         "give every node the same --vapid-private-key-file"}});
        return push::vapid_key::load_or_create(s.data_dir);
    } catch (push::vapid_error const& e) {
        throw config_error(e.what());
    }
}

std::unique_ptr<push_dispatcher> make_push(settings const& s, alert_store& store) {
    auto* state = dynamic_cast<push_state*>(&store);
    if (!state) return nullptr;  // every engine keeps push state; kept for one that would not
    push_dispatch_options o;
    o.subject = s.push.vapid_subject;
    o.ttl_seconds = s.push.ttl_seconds;
    o.group_window_ms = std::int64_t{s.push.group_window_seconds} * 1000;
    o.allow_insecure_endpoints = s.push.allow_insecure_endpoints;
    auto d = std::make_unique<push_dispatcher>(store, *state, vapid_key_for(s), std::move(o));
    if (s.push.vapid_subject == push_settings{}.vapid_subject)
        log::warn("push.placeholder_subject",
                  {{"subject", s.push.vapid_subject},
                   {"detail",
                    "push services may refuse pushes from this placeholder contact (Apple does): "
                    "set --vapid-subject to a mailto: address or https: URL that reaches you"}});
    if (s.push.allow_insecure_endpoints)
        log::warn("push.insecure_endpoints", {{"detail", "pushing to plain http:// loopback endpoints: tests only"}});
    log::info("push.ready", {{"public_key", d->public_key()}, {"subject", s.push.vapid_subject}});
    return d;
}

handling_store& handling_of(alert_store& store) {
    auto* h = dynamic_cast<handling_store*>(&store);
    if (!h) throw std::logic_error("this store engine keeps no handling state");  // every engine does
    return *h;
}

// Webhooks, when URLs are configured: the store learns them here, before
// the alert service writes anything, so that every change has its rows.
std::unique_ptr<webhook_dispatcher> make_webhooks(settings const& s, alert_store& store) {
    if (s.webhooks.urls.empty()) return nullptr;
    webhook_options o;
    o.urls = s.webhooks.urls;
    o.secret = s.webhooks.secret;
    return std::make_unique<webhook_dispatcher>(handling_of(store), std::move(o));
}

alert_service_options service_options(settings const& s) {
    alert_service_options o;
    o.group_commit = s.store.group_commit;
    o.replay_batch = s.store.replay_batch;
    o.inline_frames = s.inline_frames;
    // SQLite's commits wait for the disk (the WAL's fdatasync, or under
    // synchronous=NORMAL its writes) and stay on the service's worker: on the
    // I/O threads they cost throughput and p99 (docs/decisions/0014-sqlite-worker-and-io-threads.md).
    o.drain_on_work_sites = s.store.engine == "memory";
    return o;
}

}  // namespace

// The dashboard: --web-root, else beside the binary (build tree or install).
net::static_files& load_web(net::static_files& web, settings const& s) {
    namespace fs = std::filesystem;
    std::vector<fs::path> candidates;
    if (!s.web_root.empty()) {
        candidates.push_back(s.web_root);
    } else {
        std::error_code ec;
        auto const exe_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
        candidates = {exe_dir / "web", exe_dir / ".." / "share" / "vigil" / "web"};
#ifdef VIGIL_SOURCE_DIR
        candidates.emplace_back(fs::path{VIGIL_SOURCE_DIR} / "clients" / "dashboard" / "dist");
#endif
    }
    for (auto const& dir : candidates) {
        web.load(dir.string());
        if (!web.empty()) {
            log::info("web.root", {{"path", dir.string()}});
            return web;
        }
    }
    if (!s.web_root.empty())
        log::warn("web.root_empty", {{"path", s.web_root}});
    else
        log::warn("web.none", {{"detail",
                                "no dashboard found beside the binary or in <prefix>/share/vigil/web: "
                                "/ answers 404; build it (npm) or pass --web-root"}});
    return web;
}

// Lets the alert service drain its queue on the I/O thread where the work
// arrived, between that thread's own handlers, instead of waking its worker.
struct io_work_site final : work_site {
    explicit io_work_site(asio::io_context& io) : io(io) {}
    void defer(std::function<void()> drain) override { asio::post(io, std::move(drain)); }
    asio::io_context& io;
};

struct server::impl {
    settings config;
    auth::jwt_verifier verifier;
    auth::verified_tokens api_tokens;
    std::unique_ptr<alert_store> store;
    std::unique_ptr<webhook_dispatcher> webhooks;  // made before the alert service: the store knows the URLs first
    connection_registry registry;
    std::unique_ptr<alert_bus> bus;
    alert_service alerts;
    std::unique_ptr<push_dispatcher> push;  // before the alert service stops, nothing is pushed
    handling_store& handling{handling_of(*store)};
    escalation_worker escalations{handling, alerts};
    vigil::embedding embedding{alerts, registry, alert_limits_from(config.limits)};
    net::static_files web;
    net::connection_limits limits{config.limits};
    net::ws_tickets tickets;
    asio::thread_pool store_reads{2};
    net::server_context context;
    std::unique_ptr<net::tls_identity> tls;

    std::vector<std::unique_ptr<asio::io_context>> contexts;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    std::vector<std::unique_ptr<io_work_site>> sites;  // one per context
    std::atomic<std::size_t> next_context{0};
    std::shared_ptr<net::listener> listener;      // plain; null with tls.only
    std::shared_ptr<net::listener> tls_listener;  // null without TLS
    heartbeat_sweep sweep;
    asio::signal_set signals;
    std::vector<std::thread> threads;

    std::function<settings()> reread;  // set_settings_source

    std::mutex stop_mutex;
    std::condition_variable stop_cv;
    bool stop_requested = false;
    bool stopped = false;

    explicit impl(settings s)
        : config(prepared(std::move(s))),
          verifier(config.jwt),
          store(make_store(config)),
          webhooks(make_webhooks(config, *store)),
          bus(make_bus(config)),
          alerts(*store, *bus, registry, service_options(config)),
          push(make_push(config, *store)),
          context{config, verifier, api_tokens,  alerts,  registry, *bus, load_web(web, config),
                  limits, tickets,  store_reads, now_ms()},
          tls(make_tls(config)),
          contexts(make_contexts(config.threads)),
          sweep(*contexts[0], registry, limits, alerts, *bus, config.ping_interval, config.heartbeat_timeout),
          signals(*contexts[0]) {
        alerts.set_observer(push.get());
        if (webhooks) alerts.set_change_listener([w = webhooks.get()] { w->poke(); });
        context.push = push.get();
        context.handling = &handling;
        for (auto& c : contexts) {
            guards.push_back(asio::make_work_guard(*c));
            sites.push_back(std::make_unique<io_work_site>(*c));
        }
        auto const address = asio::ip::make_address(config.host);
        auto const pick = [this]() -> asio::io_context& { return *contexts[next_context++ % contexts.size()]; };
        if (!config.tls.only)
            listener = std::make_shared<net::listener>(*contexts[0], pick,
                                                       asio::ip::tcp::endpoint{address, config.port}, context);
        if (tls)
            tls_listener = std::make_shared<net::listener>(
                *contexts[0], pick, asio::ip::tcp::endpoint{address, config.tls.port}, context, tls.get());
    }

    void for_each_listener(auto&& f) {
        for (auto* l : {&listener, &tls_listener})
            if (*l) f(**l);
    }

    // SIGINT/SIGTERM stop the server; SIGHUP reloads the TLS certificate and
    // key (and is otherwise ignored rather than killing the process).
    void wait_for_signal(server& owner) {
        signals.async_wait([this, &owner](boost::system::error_code ec, int sig) {
            if (ec) return;
            log::info("server.signal", {{"signal", sig}});
            if (sig != SIGHUP) return owner.request_stop();
            owner.reload();
            wait_for_signal(owner);
        });
    }

#if defined(BOOST_ASIO_HAS_IO_URING) && defined(BOOST_ASIO_DISABLE_EPOLL)
    static constexpr bool on_io_uring = true;
#else
    static constexpr bool on_io_uring = false;
#endif
    static constexpr char const* io_backend = on_io_uring ? "io_uring" : "epoll";

    static std::vector<std::unique_ptr<asio::io_context>> make_contexts(unsigned n) {
        std::vector<std::unique_ptr<asio::io_context>> out;
        for (unsigned i = 0; i < std::max(1u, n); ++i) out.push_back(std::make_unique<asio::io_context>(1));
        if constexpr (on_io_uring) {
            // Each context's ring is created with its first I/O object: create
            // it now, so that a kernel forbidding io_uring is named as the cause.
            try {
                for (auto& c : out) asio::steady_timer{*c};
            } catch (boost::system::system_error const& e) {
                throw std::runtime_error(
                    std::string{e.what()} +
                    ": this build runs on io_uring, which the kernel or a seccomp profile forbids here"
                    " (allow io_uring_setup and io_uring_enter, or build with -DVIGIL_IO_URING=OFF)");
            }
        }
        return out;
    }
};

server::server(settings s) : impl_(std::make_unique<impl>(std::move(s))) {}

server::~server() {
    request_stop();
    wait();
}

void server::start(bool handle_signals) {
    auto& m = *impl_;
    if (handle_signals) {
        m.signals.add(SIGINT);
        m.signals.add(SIGTERM);
        m.signals.add(SIGHUP);
        m.wait_for_signal(*this);
    }
    m.bus->start(m.alerts.bus_receiver());
    m.for_each_listener([](net::listener& l) { l.run(); });
    m.sweep.start();
    m.escalations.start();
    for (std::size_t i = 0; i < m.contexts.size(); ++i)
        m.threads.emplace_back([ctx = m.contexts[i].get(), site = m.sites[i].get()] {
            alert_service::set_work_site(site);
            ctx->run();
        });
    log::info("server.listening", {{"host", m.config.host},
                                   {"port", port()},          // 0: no plain listener (tls.only)
                                   {"tls_port", tls_port()},  // 0: no TLS
                                   {"threads", m.contexts.size()},
                                   {"io", impl::io_backend},
                                   {"store", m.config.store.engine},
                                   {"epoch", m.store->epoch()},
                                   {"node", m.bus->node_id()},
                                   {"data_dir", m.config.data_dir},
                                   {"ping_interval", m.config.ping_interval},
                                   {"heartbeat_timeout", m.config.heartbeat_timeout},
                                   {"dev", m.config.dev}});
    if (m.config.dev)
        log::warn("server.dev_mode", {{"detail",
                                       "monitoring endpoints are open to loopback clients without "
                                       "credentials; never use --dev in production"}});
}

void server::request_stop() {
    {
        std::lock_guard lock{impl_->stop_mutex};
        impl_->stop_requested = true;
    }
    impl_->stop_cv.notify_all();
}

void server::wait() {
    auto& m = *impl_;
    {
        std::unique_lock lock{m.stop_mutex};
        m.stop_cv.wait(lock, [&] { return m.stop_requested; });
        if (m.stopped) return;
        m.stopped = true;
    }
    log::info("server.stopping", {{"connections", m.registry.size()}});
    m.context.shutting_down = true;
    asio::post(*m.contexts[0], [&m] {
        m.for_each_listener([](net::listener& l) { l.stop(); });
        m.sweep.stop();
        boost::system::error_code ignored;
        m.signals.cancel(ignored);
    });
    m.registry.close_all(close_code::going_away, "server going away");
    // Give closing handshakes their time; stuck clients are cut by their deadline.
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{7};
    while (m.context.live_sessions > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
    m.escalations.stop();        // a step claimed and not fired is claimed again after its lease, here or elsewhere
    m.alerts.stop();             // commits what is queued, records delivery counts (I/O threads still run its drains)
    if (m.push) m.push->stop();  // what is still queued or in flight is dropped
    if (m.webhooks) m.webhooks->stop();  // rows in flight are due again at once: the next start sends them
    m.bus->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds{50});  // let those answers be written
    m.guards.clear();
    for (auto& c : m.contexts) c->stop();
    for (auto& t : m.threads)
        if (t.joinable()) t.join();
    m.store_reads.join();  // reads under way finish before the store goes
    log::info("server.stopped");
}

void server::reload_tls() {
    auto& m = *impl_;
    if (!m.tls) return log::warn("tls.reload_skipped", {{"detail", "no TLS certificate configured"}});
    try {
        m.tls->reload();
        log::info(
            "tls.reloaded",
            {{"cert_file", m.config.tls.cert_file}, {"subject", m.tls->subject()}, {"not_after", m.tls->not_after()}});
    } catch (net::tls_error const& e) {
        log::error("tls.reload_failed", {{"error", e.what()}, {"action", "keeping the previous certificate"}});
    }
}

void server::set_settings_source(std::function<settings()> reread) { impl_->reread = std::move(reread); }

void server::reload() {
    auto& m = *impl_;
    if (m.reread) {
        try {
            auto const fresh = m.reread();
            m.context.api_keys.replace(fresh.admin_api_keys, fresh.publisher_api_keys);
            log::set_level(*log::parse_level(fresh.log_level));
            log::info("config.reloaded", {{"admin_api_keys", fresh.admin_api_keys.size()},
                                          {"publisher_api_keys", fresh.publisher_api_keys.size()},
                                          {"log_level", fresh.log_level}});
        } catch (std::exception const& e) {
            log::error("config.reload_failed", {{"error", e.what()}, {"action", "keeping the current settings"}});
        }
    }
    reload_tls();
}

std::uint16_t server::port() const { return impl_->listener ? impl_->listener->port() : 0; }
std::uint16_t server::tls_port() const { return impl_->tls_listener ? impl_->tls_listener->port() : 0; }
embedding& server::embedding() { return impl_->embedding; }
settings const& server::config() const { return impl_->config; }

}  // namespace vigil
