#include "bus/redis_alert_bus.hpp"

#include "bus/redis_connection.hpp"
#include "bus/redis_url.hpp"
#include "bus/redis_wire.hpp"
#include "common/clock.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"

#include <hiredis/hiredis.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <pthread.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_set>

namespace vigil {

namespace net = boost::asio;
using boost::system::error_code;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr std::size_t presence_chunk = 500;  // fields per HSET: bounded commands at 19,000 connections
constexpr std::string_view presence_scan_count = "1000";
constexpr std::size_t max_nodes = 1024;
// A superseded snapshot lives this much longer, for readers in the middle of it.
constexpr milliseconds snapshot_grace{5000};
// Nodes silent this many TTLs leave the sorted set.
constexpr int prune_after_ttls = 6;

// Marks this node alive at the server's time, forgets nodes silent for long,
// and returns the nodes seen within the TTL: one round trip, one clock, so
// the nodes' own clocks never decide who is alive.
constexpr std::string_view heartbeat_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
return redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[2]), '+inf')
)lua";

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// What the other nodes hold, as last read; immutable once published.
struct presence_view {
    std::vector<node_connection> connections;
    std::unordered_set<std::string, string_hash, std::equal_to<>> users;
};

struct command_deleter {
    void operator()(char* p) const noexcept { redisFreeCommand(p); }
};

// A PUBLISH formatted on the publishing thread, waiting for the engine's.
// Shared: a command in flight keeps it, to send it again if its connection
// is lost before Redis answered.
struct outgoing {
    std::shared_ptr<char> resp;
    std::size_t size = 0;
    std::int64_t queued_ns = 0;
};

void validate_node_id(std::string const& id) {
    if (id.empty() || id.size() > 128) throw std::invalid_argument("node id: 1-128 bytes");
    for (unsigned char c : id)
        if (c <= 0x20 || c == 0x7f) throw std::invalid_argument("node id: no spaces or control characters");
}

// One entry per connection (per user, for a connection without an id),
// sorted by its presence field.
std::vector<connection_stats> normalised(std::vector<connection_stats> in) {
    std::erase_if(in, [](connection_stats const& s) {
        return s.user_id.empty() || s.user_id.size() > redis_wire::max_field_bytes ||
               s.connection_id.size() > redis_wire::max_field_bytes;
    });
    std::sort(in.begin(), in.end(), [](auto const& a, auto const& b) {
        auto const fa = redis_wire::presence_field(a), fb = redis_wire::presence_field(b);
        return fa != fb ? fa < fb : a.connected_at_ms > b.connected_at_ms;
    });
    in.erase(std::unique(in.begin(), in.end(),
                         [](auto const& a, auto const& b) {
                             return redis_wire::presence_field(a) == redis_wire::presence_field(b);
                         }),
             in.end());
    return in;
}

bool same_members(std::vector<connection_stats> const& a, std::vector<connection_stats> const& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](auto const& x, auto const& y) {
        return x.user_id == y.user_id && x.connection_id == y.connection_id && x.connected_at_ms == y.connected_at_ms;
    });
}

bool same_heartbeats(std::vector<connection_stats> const& a, std::vector<connection_stats> const& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](auto const& x, auto const& y) { return x.last_heartbeat_ms == y.last_heartbeat_ms; });
}

std::string random_hex(int digits) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < digits; ++i) out.push_back(hex[random_below(16)]);
    return out;
}

std::string_view text_of(redisReply const* r) { return {r->str, r->len}; }

bool is_error(redisReply const* r) { return r->type == REDIS_REPLY_ERROR; }

}  // namespace

struct redis_alert_bus::engine {
    enum class link_state : std::uint8_t { down, connecting, subscribing, ready };

    engine(redis_bus_options o, redis_endpoint ep)
        : opts_(std::move(o)),
          endpoint_(std::move(ep)),
          names_(opts_.prefix),
          probe_channel_(names_.probe_channel(opts_.node_id)),
          presence_key_(names_.presence_key(opts_.node_id)),
          instance_(random_hex(12)),
          work_(ioc_.get_executor()),
          cmd_retry_(ioc_),
          sub_retry_(ioc_),
          presence_timer_(ioc_),
          probe_timer_(ioc_),
          probe_deadline_(ioc_),
          stop_timer_(ioc_) {
        for (std::uint32_t s = 0; s < redis_wire::shard_count; ++s) shard_channels_.push_back(names_.alert_channel(s));
        sub_channels_ = shard_channels_;
        sub_channels_.push_back(names_.control_channel());
        sub_channels_.push_back(probe_channel_);
        status_ = {false, "redis", "connecting to " + endpoint_.describe()};
        down_reason_ = status_.detail;
        view_ = std::make_shared<presence_view const>();
    }

    redis_bus_options const opts_;
    redis_endpoint const endpoint_;
    redis_wire::names const names_;
    std::string const probe_channel_;
    std::string const presence_key_;
    std::string const instance_;  // makes this run's snapshot generations unlike any earlier run's
    std::vector<std::string> shard_channels_;
    std::vector<std::string> sub_channels_;

    // Declared before everything bound to it, so it is destroyed last.
    net::io_context ioc_{1};
    net::executor_work_guard<net::io_context::executor_type> work_;
    std::thread thread_;

    // ---- shared with the publishing and querying threads
    std::atomic<bus_handler*> handler_{nullptr};
    std::mutex queue_mutex_;
    std::vector<outgoing> queue_;
    std::size_t queued_bytes_ = 0;
    bool accepting_ = false;
    bool flush_posted_ = false;  // or the command connection is down: its return flushes
    mutable std::mutex status_mutex_;
    bus_status status_;
    mutable std::mutex view_mutex_;
    std::shared_ptr<presence_view const> view_;

    // ---- the engine's thread only
    redis_connection cmd_;
    redis_connection sub_;
    link_state cmd_state_ = link_state::down;
    link_state sub_state_ = link_state::down;
    int cmd_failures_ = 0;
    int sub_failures_ = 0;
    bool cmd_was_ready_ = false;
    bool sub_was_ready_ = false;
    net::steady_timer cmd_retry_;
    net::steady_timer sub_retry_;
    net::steady_timer presence_timer_;
    net::steady_timer probe_timer_;
    net::steady_timer probe_deadline_;
    net::steady_timer stop_timer_;
    bool stopping_ = false;
    bool finished_ = false;
    bool link_reported_ = false;     // on_link_changed called at least once
    bool link_reported_up_ = false;  // with this
    bool connect_failed_ = false;    // a connection attempt has failed since start
    std::string down_reason_;
    std::uint64_t sub_generation_ = 0;  // changes whenever the subscriber connection does
    std::uint64_t probe_counter_ = 0;
    std::string probe_nonce_;  // the probe awaited; empty: none
    std::int64_t last_bad_message_log_ms_ = 0;
    std::int64_t last_command_error_log_ms_ = 0;
    // Presence, as this node wrote it.
    std::uint64_t generation_counter_ = 0;
    std::string written_generation_;
    std::vector<connection_stats> written_;
    steady::time_point written_at_{};
    bool must_rewrite_ = true;
    bool presence_busy_ = false;
    // Presence, as read from the other nodes.
    struct node_cache {
        std::string generation;
        std::vector<connection_stats> connections;
    };
    std::map<std::string, node_cache, std::less<>> nodes_;
    steady::time_point last_read_{};

    redis_connection::options connection_options() const {
        return {opts_.connect_timeout, opts_.command_timeout, opts_.max_in_flight};
    }

    // ---- starting and stopping

    void start(bus_handler& handler) {
        handler_.store(&handler, std::memory_order_release);
        {
            std::lock_guard lock{queue_mutex_};
            accepting_ = true;
        }
        thread_ = std::thread([this] {
            // hiredis writes with write(2): on a connection the server closed
            // that raises SIGPIPE, which would end the process. Blocked on
            // this thread, it stays pending and write() fails with EPIPE.
            sigset_t pipe;
            sigemptyset(&pipe);
            sigaddset(&pipe, SIGPIPE);
            pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
            ioc_.run();
        });
        net::post(ioc_, [this] {
            connect_cmd();
            connect_sub();
            schedule_presence();
            schedule_probe();
        });
    }

    void stop() {
        handler_.store(nullptr, std::memory_order_release);
        {
            std::lock_guard lock{queue_mutex_};
            accepting_ = false;
        }
        net::post(ioc_, [this] { shutdown(); });
        thread_.join();
    }

    // Sends what is queued, withdraws this node's presence, then lets the
    // io_context run out of work.
    void shutdown() {
        stopping_ = true;
        for (auto* t : {&cmd_retry_, &sub_retry_, &presence_timer_, &probe_timer_, &probe_deadline_}) t->cancel();
        sub_.close();
        sub_state_ = link_state::down;
        if (cmd_state_ != link_state::ready) return finish();
        flush();
        cmd_.command({"DEL", presence_key_}, nullptr);
        if (!written_generation_.empty() && !written_.empty())
            cmd_.command({"DEL", names_.snapshot_key(written_generation_, opts_.node_id)}, nullptr);
        if (!cmd_.command({"ZREM", names_.nodes_key(), opts_.node_id},
                          [this](error_code, redisReply const*) { finish(); }))
            return finish();
        stop_timer_.expires_after(opts_.command_timeout);
        stop_timer_.async_wait([this](error_code ec) {
            if (!ec) finish();
        });
    }

    void finish() {
        if (finished_) return;
        finished_ = true;
        stop_timer_.cancel();
        cmd_.close();
        cmd_state_ = link_state::down;
        log::info("bus.stopped", {{"node", opts_.node_id}});
        work_.reset();
    }

    // ---- connections

    void connect_cmd() {
        if (stopping_) return;
        cmd_ = redis_connection(ioc_.get_executor(), connection_options());
        cmd_state_ = link_state::connecting;
        cmd_.connect(
            endpoint_, [this](error_code ec, std::string_view detail) { on_cmd_ready(ec, detail); },
            [this](error_code ec, std::string_view detail) { on_cmd_down(ec, detail); });
    }

    void on_cmd_ready(error_code ec, std::string_view detail) {
        if (stopping_) return;
        if (ec) {
            cmd_state_ = link_state::down;
            return connection_failed("command", cmd_retry_, cmd_failures_, &engine::connect_cmd, detail);
        }
        cmd_state_ = link_state::ready;
        cmd_failures_ = 0;
        if (cmd_was_ready_) metrics::global().bus_reconnects.inc();
        cmd_was_ready_ = true;
        must_rewrite_ = true;  // the server may be a new one, or have lost its data
        flush();
        presence_cycle();
        update_link();
    }

    void on_cmd_down(error_code ec, std::string_view detail) {
        if (stopping_) return;
        cmd_state_ = link_state::down;
        metrics::global().bus_errors.inc(ec == redis_errc::timeout ? "timeout" : "disconnect");
        connection_lost("command", cmd_retry_, cmd_failures_, &engine::connect_cmd, detail);
    }

    void connect_sub() {
        if (stopping_) return;
        ++sub_generation_;
        sub_ = redis_connection(ioc_.get_executor(), connection_options());
        sub_state_ = link_state::connecting;
        sub_.connect(
            endpoint_, [this](error_code ec, std::string_view detail) { on_sub_ready(ec, detail); },
            [this](error_code ec, std::string_view detail) { on_sub_down(ec, detail); });
    }

    void on_sub_ready(error_code ec, std::string_view detail) {
        if (stopping_) return;
        if (ec) {
            sub_state_ = link_state::down;
            return connection_failed("subscriber", sub_retry_, sub_failures_, &engine::connect_sub, detail);
        }
        sub_state_ = link_state::subscribing;
        auto const generation = sub_generation_;
        bool const sent = sub_.subscribe(
            sub_channels_, [this](std::string_view channel, std::string_view payload) { on_message(channel, payload); },
            [this, generation](error_code ec) {
                if (!ec && generation == sub_generation_ && !stopping_) on_subscribed();
            });
        if (!sent) {
            sub_.close();
            sub_state_ = link_state::down;
            connection_failed("subscriber", sub_retry_, sub_failures_, &engine::connect_sub, "SUBSCRIBE not sent");
        }
    }

    void on_subscribed() {
        sub_state_ = link_state::ready;
        sub_failures_ = 0;
        if (sub_was_ready_) metrics::global().bus_reconnects.inc();
        sub_was_ready_ = true;
        update_link();
    }

    void on_sub_down(error_code ec, std::string_view detail) {
        if (stopping_) return;
        sub_state_ = link_state::down;
        ++sub_generation_;
        probe_nonce_.clear();
        probe_deadline_.cancel();
        metrics::global().bus_errors.inc(ec == redis_errc::timeout ? "timeout" : "disconnect");
        connection_lost("subscriber", sub_retry_, sub_failures_, &engine::connect_sub, detail);
    }

    // A connection that could not be made: retried with backoff. Logged as a
    // warning the first time in a row, then quietly.
    void connection_failed(std::string_view which, net::steady_timer& timer, int& failures, void (engine::*again)(),
                           std::string_view detail) {
        metrics::global().bus_errors.inc("connect");
        connect_failed_ = true;
        auto const delay = schedule_reconnect(timer, failures, again);
        auto const level = failures == 1 ? log::level::warn : log::level::debug;
        if (log::enabled(level))
            log::write(level, "bus.connect_failed",
                       {{"node", opts_.node_id},
                        {"connection", which},
                        {"redis", endpoint_.describe()},
                        {"reason", detail},
                        {"retry_ms", std::int64_t(delay.count())}});
        mark_down(std::string(which) + " connection: " + std::string(detail));
    }

    void connection_lost(std::string_view which, net::steady_timer& timer, int& failures, void (engine::*again)(),
                         std::string_view detail) {
        schedule_reconnect(timer, failures, again);
        mark_down(std::string(which) + " connection: " + std::string(detail));
    }

    // Exponential backoff from reconnect_min to reconnect_max, each delay
    // drawn between half and all of it so nodes that lost Redis together do
    // not come back together.
    milliseconds schedule_reconnect(net::steady_timer& timer, int& failures, void (engine::*again)()) {
        int const n = std::min(failures++, 20);
        auto base = std::min<milliseconds>(opts_.reconnect_max, opts_.reconnect_min * (std::int64_t{1} << n));
        auto const half = base.count() / 2;
        milliseconds const delay{half + std::int64_t(random_below(std::uint64_t(base.count() - half) + 1))};
        timer.expires_after(delay);
        timer.async_wait([this, again](error_code ec) {
            if (!ec && !stopping_) (this->*again)();
        });
        return delay;
    }

    // ---- the link, as the handler and status() see it

    void mark_down(std::string reason) {
        down_reason_ = std::move(reason);
        update_link();
    }

    void update_link() {
        bool const up = cmd_state_ == link_state::ready && sub_state_ == link_state::ready;
        {
            std::lock_guard lock{status_mutex_};
            status_.up = up;
            status_.detail = up ? std::string{} : down_reason_;
        }
        // At start the link is down without being lost: that is reported
        // once an attempt has failed (Redis unreachable at start), not while
        // the first connections are being made.
        bool const changed = link_reported_ ? up != link_reported_up_ : (up || connect_failed_);
        if (!changed || stopping_) return;
        link_reported_ = true;
        link_reported_up_ = up;
        if (up)
            log::info("bus.link_up", {{"node", opts_.node_id}, {"redis", endpoint_.describe()}});
        else
            log::warn("bus.link_down",
                      {{"node", opts_.node_id}, {"redis", endpoint_.describe()}, {"reason", down_reason_}});
        if (auto* h = handler_.load(std::memory_order_acquire)) h->on_link_changed(up);
    }

    // ---- publishing

    // Any thread.
    void enqueue(std::string_view channel, std::string const& payload) {
        auto& m = metrics::global();
        if (payload.size() > redis_wire::max_text_bytes + 4 * redis_wire::max_field_bytes) {
            m.bus_publish_dropped.inc();
            return;
        }
        char* resp = nullptr;
        char const* argv[3] = {"PUBLISH", channel.data(), payload.data()};
        std::size_t const lens[3] = {7, channel.size(), payload.size()};
        int const len = redisFormatCommandArgv(&resp, 3, argv, lens);
        if (len <= 0 || !resp) {
            m.bus_publish_dropped.inc();
            return;
        }
        outgoing o{std::shared_ptr<char>(resp, command_deleter{}), std::size_t(len), metrics::now_ns()};
        bool post = false;
        {
            std::lock_guard lock{queue_mutex_};
            if (!accepting_ || queue_.size() >= opts_.max_queued || queued_bytes_ + o.size > opts_.max_queued_bytes) {
                m.bus_publish_dropped.inc();
                return;
            }
            queued_bytes_ += o.size;
            queue_.push_back(std::move(o));
            post = !flush_posted_;
            flush_posted_ = true;
        }
        if (post) net::post(ioc_, [this] { flush(); });
    }

    // Hands the queue to the command connection, which pipelines it.
    void flush() {
        std::vector<outgoing> batch;
        {
            std::lock_guard lock{queue_mutex_};
            if (cmd_state_ != link_state::ready) return;  // flush_posted_ stays set until it is
            flush_posted_ = false;
            batch.swap(queue_);
            queued_bytes_ = 0;
        }
        for (auto& o : batch) {
            bool const sent = cmd_.formatted(
                std::string_view(o.resp.get(), o.size), [this, o](error_code ec, redisReply const* r) mutable {
                    if (ec) return send_again(std::move(o));
                    if (is_error(r)) return command_failed("PUBLISH", r);
                    metrics::global().bus_publish.observe_ns(metrics::now_ns() - o.queued_ns);
                });
            if (sent) continue;
            if (cmd_state_ == link_state::ready)
                metrics::global().bus_publish_dropped.inc();  // max_in_flight: back-pressure, as documented
            else
                send_again(std::move(o));
        }
    }

    // A PUBLISH whose connection was lost before Redis answered goes out again
    // once the command connection is back (on_cmd_ready flushes): Redis may
    // have sent it already, and receivers drop a seq they have (the
    // sequencer), but one never sent would reach its user only with the
    // user's next alert, since the other nodes' links stayed up and they do
    // not read the store. Engine thread.
    void send_again(outgoing o) {
        std::lock_guard lock{queue_mutex_};
        if (!accepting_ || queue_.size() >= opts_.max_queued || queued_bytes_ + o.size > opts_.max_queued_bytes) {
            metrics::global().bus_publish_dropped.inc();
            return;
        }
        queued_bytes_ += o.size;
        queue_.push_back(std::move(o));
        flush_posted_ = true;  // the connection's return flushes
    }

    // ---- receiving

    void on_message(std::string_view channel, std::string_view payload) {
        std::string_view error;
        auto msg = redis_wire::decode(payload, error);
        if (!msg) return bad_message(channel, error);
        using kind = redis_wire::message::kind;
        if (msg->what == kind::probe) {
            if (channel == probe_channel_ && msg->sender == opts_.node_id) on_probe_seen(msg->probe.nonce);
            return;
        }
        if (msg->sender == opts_.node_id) return;  // this node's own, already handled in publish()
        auto* h = handler_.load(std::memory_order_acquire);
        if (msg->what == kind::alert) {
            if (channel != shard_channels_[redis_wire::shard_of(msg->alert.user_id)])
                return bad_message(channel, "alert on another shard's channel");
            metrics::global().bus_received.inc();
            if (h) h->on_alert(msg->alert);
        } else {
            if (channel != names_.control_channel())
                return bad_message(channel, "control message off the control channel");
            metrics::global().bus_received.inc();
            if (h) h->on_control(msg->control);
        }
    }

    // Counted always, logged at most once a second: anyone who can publish on
    // the server could otherwise fill the log.
    void bad_message(std::string_view channel, std::string_view reason) {
        metrics::global().bus_errors.inc("decode");
        auto const now = now_ms();
        if (now - last_bad_message_log_ms_ < 1000) return;
        last_bad_message_log_ms_ = now;
        log::warn("bus.bad_message", {{"node", opts_.node_id}, {"channel", channel}, {"reason", reason}});
    }

    // A command Redis refused (NOPERM, OOM, scripts disabled...): counted
    // always, logged at most once a minute, as it would repeat every cycle.
    void command_failed(std::string_view command, redisReply const* r) {
        metrics::global().bus_errors.inc("command");
        auto const now = now_ms();
        if (now - last_command_error_log_ms_ < 60'000) return;
        last_command_error_log_ms_ = now;
        log::warn("bus.command_failed", {{"node", opts_.node_id},
                                         {"command", command},
                                         {"reason", is_error(r) ? text_of(r) : std::string_view("unexpected reply")}});
    }

    // ---- the probe: does the subscriber connection still deliver?

    void schedule_probe() {
        probe_timer_.expires_after(opts_.probe_interval);
        probe_timer_.async_wait([this](error_code ec) {
            if (ec || stopping_) return;
            send_probe();
            schedule_probe();
        });
    }

    void send_probe() {
        if (cmd_state_ != link_state::ready || sub_state_ != link_state::ready || !probe_nonce_.empty()) return;
        probe_nonce_ = std::to_string(++probe_counter_);
        auto const payload = redis_wire::encode_probe(opts_.node_id, probe_nonce_);
        bool const sent =
            cmd_.command({"PUBLISH", probe_channel_, payload},
                         [this, generation = sub_generation_, nonce = probe_nonce_](
                             error_code ec, redisReply const* r) { on_probe_published(generation, nonce, ec, r); });
        if (!sent) probe_nonce_.clear();
    }

    // The deadline runs from Redis accepting the PUBLISH, so a slow command
    // connection (which has its own timeout) is not taken for a deaf subscriber.
    void on_probe_published(std::uint64_t generation, std::string const& nonce, error_code ec, redisReply const* r) {
        if (stopping_ || generation != sub_generation_ || nonce != probe_nonce_) return;  // seen, or stale
        if (ec || r->type != REDIS_REPLY_INTEGER) {
            probe_nonce_.clear();
            return;
        }
        if (r->integer == 0) return probe_failed("Redis has no subscriber on the probe channel");
        probe_deadline_.expires_after(opts_.probe_timeout);
        probe_deadline_.async_wait([this, generation, nonce](error_code ec) {
            if (ec || stopping_ || generation != sub_generation_ || nonce != probe_nonce_) return;
            probe_failed("probe not received within " + std::to_string(opts_.probe_timeout.count()) + " ms");
        });
    }

    void on_probe_seen(std::string_view nonce) {
        if (nonce != probe_nonce_) return;
        probe_nonce_.clear();
        probe_deadline_.cancel();
    }

    void probe_failed(std::string const& reason) {
        probe_nonce_.clear();
        metrics::global().bus_errors.inc("probe");
        log::warn("bus.probe_failed", {{"node", opts_.node_id}, {"reason", reason}});
        ++sub_generation_;
        sub_.close();
        sub_state_ = link_state::down;
        connection_lost("subscriber", sub_retry_, sub_failures_, &engine::connect_sub, reason);
    }

    // ---- presence

    void schedule_presence() {
        presence_timer_.expires_after(opts_.presence_interval);
        presence_timer_.async_wait([this](error_code ec) {
            if (ec || stopping_) return;
            presence_cycle();
            schedule_presence();
        });
    }

    // Writes this node's connections if they changed, refreshes its
    // liveness, then reads the other nodes' changed snapshots. One cycle at a
    // time; all of it pipelined on the command connection.
    void presence_cycle() {
        forget_stale_view();
        auto* h = handler_.load(std::memory_order_acquire);
        if (stopping_ || !h || cmd_state_ != link_state::ready || presence_busy_) return;
        auto entries = normalised(h->local_connections());
        auto const now = steady::now();
        bool const rewrite = must_rewrite_ || !same_members(entries, written_) ||
                             (!same_heartbeats(entries, written_) && now - written_at_ >= opts_.heartbeat_refresh);
        presence_busy_ = true;

        auto ok = std::make_shared<bool>(true);
        auto send = [&](std::span<std::string_view const> args, redis_connection::reply_handler check) {
            if (!cmd_.command(args, std::move(check))) *ok = false;
        };
        auto send_list = [&](std::initializer_list<std::string_view> args, redis_connection::reply_handler check) {
            send(std::span<std::string_view const>(args.begin(), args.size()), std::move(check));
        };
        auto check = [ok](error_code ec, redisReply const* r) {
            if (ec || is_error(r)) *ok = false;
        };
        auto check_refreshed = [ok](error_code ec, redisReply const* r) {  // PEXPIRE found the key
            if (ec || r->type != REDIS_REPLY_INTEGER || r->integer != 1) *ok = false;
        };
        auto const ttl = std::to_string(opts_.presence_ttl.count());
        auto const snapshot_ttl = std::to_string((opts_.presence_ttl + snapshot_grace).count());
        std::string generation;
        if (rewrite) {
            generation = instance_ + '-' + std::to_string(++generation_counter_);
            if (!entries.empty())
                write_snapshot(names_.snapshot_key(generation, opts_.node_id), entries, snapshot_ttl, send, check);
            send_list({"SET", presence_key_, redis_wire::encode_pointer({generation, entries.size()}), "PX", ttl},
                      check);
            if (!written_generation_.empty() && !written_.empty())
                send_list({"PEXPIRE", names_.snapshot_key(written_generation_, opts_.node_id),
                           std::to_string(snapshot_grace.count())},
                          nullptr);
        } else {
            send_list({"PEXPIRE", presence_key_, ttl}, check_refreshed);
            if (!written_.empty())
                send_list({"PEXPIRE", names_.snapshot_key(written_generation_, opts_.node_id), snapshot_ttl},
                          check_refreshed);
        }
        auto const prune = std::to_string((opts_.presence_ttl * prune_after_ttls).count());
        bool const sent = cmd_.command({"EVAL", heartbeat_script, "1", names_.nodes_key(), opts_.node_id, ttl, prune},
                                       [this, ok, rewrite, generation, entries = std::move(entries), now](
                                           error_code ec, redisReply const* r) mutable {
                                           if (stopping_) return;
                                           // Replies come in order: every write above has been answered.
                                           if (!ec && *ok) {
                                               if (rewrite) {
                                                   written_generation_ = std::move(generation);
                                                   written_ = std::move(entries);
                                                   written_at_ = now;
                                               }
                                               must_rewrite_ = false;
                                           } else {
                                               must_rewrite_ = true;
                                           }
                                           if (ec || r->type != REDIS_REPLY_ARRAY) {
                                               if (!ec) command_failed("EVAL (presence heartbeat)", r);
                                               presence_busy_ = false;
                                               return;
                                           }
                                           read_presence(r);
                                       });
        if (!sent) {
            must_rewrite_ = true;
            presence_busy_ = false;
        }
    }

    // The snapshot in chunks: the first inside MULTI with its expiry, so that
    // a connection lost half-way never leaves a key without one.
    template <class Send, class Check>
    void write_snapshot(std::string const& key, std::vector<connection_stats> const& entries, std::string const& ttl,
                        Send& send, Check const& check) {
        std::vector<std::string> values;
        std::vector<std::string_view> args;
        for (std::size_t begin = 0; begin < entries.size(); begin += presence_chunk) {
            auto const end = std::min(entries.size(), begin + presence_chunk);
            values.clear();
            args.assign({"HSET", key});
            for (std::size_t i = begin; i < end; ++i) values.push_back(redis_wire::encode_presence(entries[i]));
            for (std::size_t i = begin; i < end; ++i) {
                args.push_back(redis_wire::presence_field(entries[i]));
                args.push_back(values[i - begin]);
            }
            if (begin == 0) {
                std::string_view const multi[] = {"MULTI"};
                send(multi, check);
                send(args, check);
                std::string_view const expire[] = {"PEXPIRE", key, ttl};
                send(expire, check);
                std::string_view const exec[] = {"EXEC"};
                send(exec, [check](error_code ec, redisReply const* r) {
                    check(ec, r);
                    if (!ec && r->type != REDIS_REPLY_ARRAY) check(redis_errc::protocol, nullptr);
                });
            } else {
                send(args, check);
            }
        }
    }

    struct read_round {
        std::size_t scans = 0;  // snapshots still being read
        bool changed = false;
    };

    // The live nodes (from the heartbeat script): which snapshot each points at.
    void read_presence(redisReply const* live_reply) {
        std::vector<std::string> live;
        for (std::size_t i = 0; i < live_reply->elements && live.size() < max_nodes; ++i) {
            auto const* e = live_reply->element[i];
            if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > 128) continue;
            if (text_of(e) == opts_.node_id) continue;
            live.emplace_back(text_of(e));
        }
        auto round = std::make_shared<read_round>();
        std::erase_if(nodes_, [&](auto const& entry) {
            bool const gone = std::find(live.begin(), live.end(), entry.first) == live.end();
            round->changed |= gone;
            return gone;
        });
        if (live.empty()) return finish_read(*round);
        std::vector<std::string> keys;
        keys.reserve(live.size());
        for (auto const& node : live) keys.push_back(names_.presence_key(node));
        std::vector<std::string_view> args{"MGET"};
        args.insert(args.end(), keys.begin(), keys.end());
        bool const sent = cmd_.command(args, [this, round, live = std::move(live)](error_code ec, redisReply const* r) {
            if (stopping_) return;
            if (ec || r->type != REDIS_REPLY_ARRAY || r->elements != live.size()) {
                if (!ec) command_failed("MGET (presence)", r);
                presence_busy_ = false;
                return;
            }
            for (std::size_t i = 0; i < live.size(); ++i) {
                auto const* e = r->element[i];
                std::optional<redis_wire::presence_pointer> pointer;
                if (e->type == REDIS_REPLY_STRING) pointer = redis_wire::decode_pointer(text_of(e));
                if (!pointer) {  // withdrawn or expired since the heartbeat, or garbage
                    if (e->type != REDIS_REPLY_NIL) metrics::global().bus_errors.inc("decode");
                    round->changed |= nodes_.erase(live[i]) > 0;
                    continue;
                }
                auto it = nodes_.find(live[i]);
                if (it != nodes_.end() && it->second.generation == pointer->generation) continue;
                if (pointer->count == 0) {
                    nodes_[live[i]] = {pointer->generation, {}};
                    round->changed = true;
                    continue;
                }
                ++round->scans;
                scan_snapshot(live[i], std::move(*pointer), "0", round,
                              std::make_shared<std::map<std::string, connection_stats, std::less<>>>());
            }
            if (round->scans == 0) finish_read(*round);
        });
        if (!sent) presence_busy_ = false;
    }

    // Reads one node's snapshot in HSCAN pages. A snapshot never changes, so
    // the pages add up to it, unless it expired meanwhile: then the count does
    // not match and the node keeps its previous entries until the next cycle.
    void scan_snapshot(std::string node, redis_wire::presence_pointer pointer, std::string_view cursor,
                       std::shared_ptr<read_round> round,
                       std::shared_ptr<std::map<std::string, connection_stats, std::less<>>> collected) {
        auto const key = names_.snapshot_key(pointer.generation, node);
        bool const sent = cmd_.command(
            {"HSCAN", key, cursor, "COUNT", presence_scan_count},
            [this, node, pointer, round, collected](error_code ec, redisReply const* r) mutable {
                if (stopping_) return;
                if (ec) return scan_done(*round);
                if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
                    r->element[0]->len == 0 || r->element[0]->len > 20 || r->element[1]->type != REDIS_REPLY_ARRAY) {
                    command_failed("HSCAN (presence)", r);
                    return scan_done(*round);
                }
                auto const* items = r->element[1];
                for (std::size_t i = 0; i + 1 < items->elements; i += 2) {
                    auto const* field = items->element[i];
                    auto const* value = items->element[i + 1];
                    std::optional<connection_stats> s;
                    if (field->type == REDIS_REPLY_STRING && value->type == REDIS_REPLY_STRING)
                        s = redis_wire::decode_presence(text_of(field), text_of(value));
                    if (!s) {
                        metrics::global().bus_errors.inc("decode");
                        continue;
                    }
                    (*collected)[std::string(text_of(field))] = std::move(*s);
                    if (collected->size() > pointer.count) return scan_done(*round);  // not the snapshot announced
                }
                auto const next = text_of(r->element[0]);
                if (next != "0") return scan_snapshot(std::move(node), std::move(pointer), next, round, collected);
                if (collected->size() == pointer.count) {
                    node_cache entry{pointer.generation, {}};
                    entry.connections.reserve(collected->size());
                    for (auto& [user, stats] : *collected) entry.connections.push_back(std::move(stats));
                    nodes_[node] = std::move(entry);
                    round->changed = true;
                }
                scan_done(*round);
            });
        if (!sent) scan_done(*round);
    }

    void scan_done(read_round& round) {
        if (--round.scans == 0) finish_read(round);
    }

    void finish_read(read_round const& round) {
        presence_busy_ = false;
        last_read_ = steady::now();
        if (round.changed) install_view();
    }

    // Entries nobody could confirm for a whole TTL (this node's link is down)
    // are not shown as if they were current.
    void forget_stale_view() {
        if (nodes_.empty() || steady::now() - last_read_ < opts_.presence_ttl) return;
        nodes_.clear();
        install_view();
    }

    void install_view() {
        auto view = std::make_shared<presence_view>();
        for (auto const& [node, cache] : nodes_) {
            for (auto const& s : cache.connections) {
                view->connections.push_back({node, s});
                view->users.insert(s.user_id);
            }
        }
        std::lock_guard lock{view_mutex_};
        view_ = std::move(view);
    }

    std::shared_ptr<presence_view const> view() const {
        std::lock_guard lock{view_mutex_};
        return view_;
    }
};

redis_alert_bus::redis_alert_bus(redis_bus_options options) {
    validate_node_id(options.node_id);
    if (options.prefix.empty() || options.prefix.find(' ') != std::string::npos)
        throw std::invalid_argument("Redis key prefix: non-empty, no spaces");
    auto endpoint = parse_redis_url(options.url);
    engine_ = std::make_unique<engine>(std::move(options), std::move(endpoint));
}

redis_alert_bus::~redis_alert_bus() { stop(); }

std::string const& redis_alert_bus::node_id() const noexcept { return engine_->opts_.node_id; }

void redis_alert_bus::start(bus_handler& handler) {
    if (started_.exchange(true)) throw std::logic_error("redis_alert_bus started twice");
    engine_->start(handler);
}

void redis_alert_bus::stop() {
    if (!started_.load() || stopped_.exchange(true)) return;
    engine_->stop();
}

void redis_alert_bus::publish(bus_alert const& alert) {
    auto* h = engine_->handler_.load(std::memory_order_acquire);
    if (!h) return;
    h->on_alert(alert);
    engine_->enqueue(engine_->shard_channels_[redis_wire::shard_of(alert.user_id)],
                     redis_wire::encode_alert(engine_->opts_.node_id, alert));
}

void redis_alert_bus::publish_control(bus_control const& message) {
    if (!engine_->handler_.load(std::memory_order_acquire)) return;
    engine_->enqueue(engine_->names_.control_channel(), redis_wire::encode_control(engine_->opts_.node_id, message));
}

bool redis_alert_bus::connected_elsewhere(std::string_view user_id) const {
    auto const view = engine_->view();
    return view->users.find(user_id) != view->users.end();
}

void redis_alert_bus::remote_connections(std::function<void(std::vector<node_connection>)> done) const {
    done(engine_->view()->connections);
}

bus_status redis_alert_bus::status() const {
    std::lock_guard lock{engine_->status_mutex_};
    return engine_->status_;
}

}  // namespace vigil
