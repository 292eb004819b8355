// The Redis bus between several nodes of one process, against a running
// redis-server (docs/decisions/0020-redis-bus.md):
//
//   vigil_redis_bus_bench fanout URL [nodes=3] [alerts=20000] [rate=2000] [text_bytes=400]
//     node 0 publishes `alerts` alerts at `rate` per second; every other node
//     counts what it receives: lost, duplicated, publish -> receive latency
//     (one process, one clock), and this process's CPU per alert received.
//   vigil_redis_bus_bench presence URL [nodes=3] [connections=19000] [seconds=30] [heartbeat_refresh_ms=10000]
//     every node holds `connections` connections whose heartbeats advance
//     (each one every 30 s, spread out); how long until every node sees the
//     others', then Redis's and this process's CPU per second while they hold.
//
// Start the server without persistence, as the tests do:
//   redis-server --port 6390 --save "" --appendonly no &
#include "bus/redis_alert_bus.hpp"
#include "bus/redis_url.hpp"

#include <hiredis/hiredis.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace vigil;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count();
}

double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// used_cpu_sys + used_cpu_user of the server, from INFO cpu.
double redis_cpu_seconds(std::string const& url) {
    auto const ep = parse_redis_url(url);
    redisContext* c = redisConnect(ep.host.c_str(), ep.port);
    if (!c || c->err) return -1;
    auto* r = static_cast<redisReply*>(redisCommand(c, "INFO cpu"));
    double total = 0;
    if (r && r->type == REDIS_REPLY_STRING) {
        std::string const info(r->str, r->len);
        for (char const* key : {"used_cpu_sys:", "used_cpu_user:"}) {
            auto const at = info.find(key);
            if (at != std::string::npos) total += std::atof(info.c_str() + at + std::strlen(key));
        }
    }
    if (r) freeReplyObject(r);
    redisFree(c);
    return total;
}

class handler final : public bus_handler {
public:
    explicit handler(std::size_t expected) : seen_(expected + 1) {}

    void on_alert(bus_alert const& a) override {
        auto const t = now_ns();
        std::lock_guard lock{mutex_};
        if (a.seq < seen_.size()) ++seen_[a.seq];
        received_at_.emplace_back(a.seq, t);
    }
    void on_control(bus_control const&) override {}
    void on_link_changed(bool) override {}
    std::vector<connection_stats> local_connections() const override {
        std::lock_guard lock{mutex_};
        return connections_;
    }

    void set_connections(std::vector<connection_stats> c) {
        std::lock_guard lock{mutex_};
        connections_ = std::move(c);
    }
    // Advances the heartbeat of the connections whose turn it is (each every 30 s).
    void tick_heartbeats(std::int64_t now_ms) {
        std::lock_guard lock{mutex_};
        for (std::size_t i = 0; i < connections_.size(); ++i)
            if ((now_ms / 1000 + std::int64_t(i)) % 30 == 0) connections_[i].last_heartbeat_ms = now_ms;
    }
    std::size_t received() const {
        std::lock_guard lock{mutex_};
        return received_at_.size();
    }
    void tally(std::vector<std::int64_t> const& sent_at, std::size_t& lost, std::size_t& dup,
               std::vector<double>& latency_ms) const {
        std::lock_guard lock{mutex_};
        for (std::size_t seq = 1; seq < seen_.size(); ++seq) {
            if (seen_[seq] == 0) ++lost;
            if (seen_[seq] > 1) dup += seen_[seq] - 1;
        }
        for (auto const& [seq, t] : received_at_)
            if (seq < sent_at.size()) latency_ms.push_back(double(t - sent_at[seq]) / 1e6);
    }

private:
    mutable std::mutex mutex_;
    std::vector<int> seen_;
    std::vector<std::pair<std::uint64_t, std::int64_t>> received_at_;
    std::vector<connection_stats> connections_;
};

std::vector<std::unique_ptr<redis_alert_bus>> make_nodes(std::string const& url, int n,
                                                         std::chrono::milliseconds heartbeat_refresh = 10s) {
    std::vector<std::unique_ptr<redis_alert_bus>> nodes;
    for (int i = 0; i < n; ++i) {
        redis_bus_options o;
        o.url = url;
        o.node_id = "bench-" + std::to_string(i);
        o.heartbeat_refresh = heartbeat_refresh;
        nodes.push_back(std::make_unique<redis_alert_bus>(o));
    }
    return nodes;
}

bool wait_up(std::vector<std::unique_ptr<redis_alert_bus>> const& nodes) {
    auto const deadline = steady::now() + 10s;
    while (steady::now() < deadline) {
        if (std::all_of(nodes.begin(), nodes.end(), [](auto const& n) { return n->status().up; })) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    auto const k = std::size_t(p * double(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(k), v.end());
    return v[k];
}

int fanout(std::string const& url, int n_nodes, std::size_t alerts, double rate, std::size_t text_bytes) {
    auto nodes = make_nodes(url, n_nodes);
    std::vector<std::unique_ptr<handler>> handlers;
    for (int i = 0; i < n_nodes; ++i) {
        handlers.push_back(std::make_unique<handler>(alerts));
        nodes[std::size_t(i)]->start(*handlers.back());
    }
    if (!wait_up(nodes)) return std::fprintf(stderr, "the bus did not come up\n"), 1;
    auto const text = std::make_shared<std::string const>(text_bytes, 'x');
    std::vector<std::int64_t> sent_at(alerts + 1);
    auto const cpu0 = cpu_seconds();
    auto const redis0 = redis_cpu_seconds(url);
    auto const start = steady::now();
    for (std::size_t seq = 1; seq <= alerts; ++seq) {
        if (rate > 0)
            std::this_thread::sleep_until(start + std::chrono::nanoseconds(std::int64_t(double(seq) * 1e9 / rate)));
        bus_alert a;
        a.user_id = "user-" + std::to_string(seq % 1000);
        a.seq = seq;
        a.alert_id = "alert-" + std::to_string(seq);
        a.origin_node = nodes[0]->node_id();
        a.text = text;
        sent_at[seq] = now_ns();
        nodes[0]->publish(a);
    }
    auto const sent_s = std::chrono::duration<double>(steady::now() - start).count();
    auto const deadline = steady::now() + 30s;
    for (int i = 1; i < n_nodes; ++i)
        while (handlers[std::size_t(i)]->received() < alerts && steady::now() < deadline)
            std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(200ms);  // late duplicates, if any
    auto const cpu = cpu_seconds() - cpu0;
    auto const redis_cpu = redis_cpu_seconds(url) - redis0;
    std::size_t lost = 0, dup = 0, received = 0;
    std::vector<double> latency;
    for (int i = 1; i < n_nodes; ++i) {
        handlers[std::size_t(i)]->tally(sent_at, lost, dup, latency);
        received += handlers[std::size_t(i)]->received();
    }
    for (auto& node : nodes) node->stop();
    std::printf("fanout: %d nodes, %zu alerts of %zu B at %.0f/s (sent in %.2f s)\n", n_nodes, alerts, text_bytes,
                double(alerts) / sent_s, sent_s);
    std::printf("  received %zu, lost %zu, duplicated %zu\n", received, lost, dup);
    std::printf("  publish -> receive: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", percentile(latency, 0.5),
                percentile(latency, 0.9), percentile(latency, 0.99), percentile(latency, 1.0));
    std::printf("  CPU: this process %.1f us, redis-server %.1f us per alert received\n", cpu / double(received) * 1e6,
                redis_cpu / double(received) * 1e6);
    return lost == 0 && dup == 0 ? 0 : 2;
}

int presence(std::string const& url, int n_nodes, std::size_t connections, int seconds,
             std::chrono::milliseconds heartbeat_refresh) {
    auto nodes = make_nodes(url, n_nodes, heartbeat_refresh);
    std::vector<std::unique_ptr<handler>> handlers;
    auto const now =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    for (int i = 0; i < n_nodes; ++i) {
        handlers.push_back(std::make_unique<handler>(0));
        std::vector<connection_stats> c;
        for (std::size_t k = 0; k < connections; ++k)
            c.push_back({"node" + std::to_string(i) + "-user-" + std::to_string(k), now, now,
                         "c" + std::to_string(i) + "-" + std::to_string(k)});
        handlers.back()->set_connections(std::move(c));
    }
    auto const start = steady::now();
    for (int i = 0; i < n_nodes; ++i) nodes[std::size_t(i)]->start(*handlers[std::size_t(i)]);
    auto const expected = connections * std::size_t(n_nodes - 1);
    auto seen_by_all = [&] {
        for (auto const& node : nodes) {
            std::size_t count = 0;
            node->remote_connections([&](std::vector<node_connection> c) { count = c.size(); });
            if (count != expected) return false;
        }
        return true;
    };
    while (!seen_by_all() && steady::now() - start < 60s) std::this_thread::sleep_for(50ms);
    auto const converged_s = std::chrono::duration<double>(steady::now() - start).count();
    auto const cpu0 = cpu_seconds();
    auto const redis0 = redis_cpu_seconds(url);
    auto const hold_start = steady::now();
    while (steady::now() - hold_start < std::chrono::seconds(seconds)) {
        auto const wall =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        for (auto& h : handlers) h->tick_heartbeats(wall);
        std::this_thread::sleep_for(1s);
    }
    auto const held_s = std::chrono::duration<double>(steady::now() - hold_start).count();
    auto const cpu = cpu_seconds() - cpu0;
    auto const redis_cpu = redis_cpu_seconds(url) - redis0;
    bool const still = seen_by_all();
    for (auto& node : nodes) node->stop();
    std::printf(
        "presence: %d nodes x %zu connections, heartbeats rewritten every %lld ms at most; every node saw the "
        "others' in %.2f s\n",
        n_nodes, connections, static_cast<long long>(heartbeat_refresh.count()), converged_s);
    std::printf(
        "  holding %.0f s with heartbeats advancing: this process %.1f%% of a core (all %d nodes), "
        "redis-server %.1f%%; views still complete: %s\n",
        held_s, cpu / held_s * 100, n_nodes, redis_cpu / held_s * 100, still ? "yes" : "no");
    return still ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s fanout|presence redis://HOST:PORT [numbers...]\n", argv[0]);
        return 64;
    }
    std::string const mode = argv[1], url = argv[2];
    auto arg = [&](int i, double fallback) { return argc > i ? std::atof(argv[i]) : fallback; };
    if (mode == "fanout")
        return fanout(url, int(arg(3, 3)), std::size_t(arg(4, 20000)), arg(5, 2000), std::size_t(arg(6, 400)));
    if (mode == "presence")
        return presence(url, int(arg(3, 3)), std::size_t(arg(4, 19000)), int(arg(5, 30)),
                        std::chrono::milliseconds(std::int64_t(arg(6, 10000))));
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 64;
}
