// vigil_embedded_bench: fan-out through the embedding API.
//
//   vigil_embedded_bench [--connections 1000] [--alerts 200000] [--store memory|sqlite]
//                        [--inflight 4096] [--duration 20] [--threads 0] [--group-commit true|false]
//
// Starts vigil::server in this process, connects N WebSocket clients to it
// (a vbench::engine on its own thread, over loopback), and publishes alerts
// with embedding::send_anomaly_alert_async from the main thread, at most --inflight
// unconfirmed at a time. Reports delivered alerts per second and per server
// CPU-second, where the server's CPU is this process's minus the client
// engine's thread (so the caller's thread, which runs the embedding API's validation and
// serialisation, counts as server), latency, loss and duplicates. Prints a
// table and one JSON line; exits 1 on any loss, duplicate or error.
#include "app/server.hpp"
#include "common/log.hpp"
#include "load_engine.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

namespace {

double process_cpu_s() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double thread_cpu_s() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

std::string fmt(double v, int prec = 1) {
    if (!std::isfinite(v)) return "null";
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", prec, v);
    return b;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint32_t connections = 1000;
    std::uint64_t alerts = 200000;
    std::string store = "memory";
    std::uint64_t inflight = 4096;
    double duration = 20;
    unsigned threads = 0;
    bool group_commit = true;
    std::string label;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string const a = argv[i], v = argv[i + 1];
        if (a == "--connections")
            connections = std::uint32_t(std::stoul(v));
        else if (a == "--alerts")
            alerts = std::stoull(v);
        else if (a == "--store")
            store = v;
        else if (a == "--inflight")
            inflight = std::stoull(v);
        else if (a == "--duration")
            duration = std::stod(v);
        else if (a == "--threads")
            threads = unsigned(std::stoul(v));
        else if (a == "--group-commit")
            group_commit = v == "true" || v == "1";
        else if (a == "--label")
            label = v;
        else {
            std::fprintf(stderr,
                         "usage: vigil_embedded_bench [--connections N] [--alerts M] [--store memory|sqlite] "
                         "[--inflight K] [--duration S] [--threads T] [--group-commit true|false]\n");
            return 2;
        }
    }
    if (alerts > 50'000'000 || duration > 600) {
        std::fprintf(stderr, "vigil_embedded_bench: --alerts <= 50M and --duration <= 600 s\n");
        return 2;
    }

    char tmpl[] = "/tmp/vigil-embed-XXXXXX";
    if (!mkdtemp(tmpl)) return 2;
    std::string const secret = "embedded-bench-secret-0123456789abcdef";
    vigil::log::set_level(vigil::log::level::warn);
    vigil::settings s;
    s.host = "127.0.0.1";
    s.port = 0;
    s.threads = threads;
    s.data_dir = tmpl;
    s.log_level = "warn";
    s.jwt.secret = secret;
    s.store.engine = store;
    s.store.group_commit = group_commit;
    int rc = 0;
    {
        vigil::server srv{s};
        srv.start();
        auto& api = srv.embedding();

        vbench::engine_config cfg;
        cfg.port = srv.port();
        cfg.secret = secret;
        cfg.user_prefix = "e" + std::to_string(getpid()) + "-";
        cfg.users = connections;
        cfg.publishers = 0;

        vbench::external_feed feed;
        int go[2];
        if (pipe(go) != 0) return 2;
        std::promise<std::vector<std::string>> users_ready;
        std::promise<std::pair<vbench::phase_stats, double>> result;
        auto result_future = result.get_future();
        auto users_future = users_ready.get_future();
        std::string pad;
        std::thread clients{[&] {
            vbench::engine e{cfg};
            auto const c = e.connect(connections, 120);
            std::vector<std::string> names;
            for (std::uint32_t i = 0; i < connections; ++i) names.push_back(e.user_name(i));
            std::fprintf(stderr, "vigil_embedded_bench: %llu of %u clients connected\n",
                         (unsigned long long)c.conns_open, connections);
            users_ready.set_value(std::move(names));
            e.wait_readable(go[0], 60);
            vbench::publish_spec spec;
            spec.count = alerts;
            spec.max_seconds = duration;
            spec.drain_seconds = 10;
            spec.external = &feed;
            auto const cpu0 = thread_cpu_s();
            auto const st = e.publish(spec);
            auto const cpu1 = thread_cpu_s();
            result.set_value({st, cpu1 - cpu0});
            e.close_all(5);
        }};
        auto const users = users_future.get();

        auto const proc0 = process_cpu_s();
        auto const pub0 = thread_cpu_s();
        char byte = 1;
        if (write(go[1], &byte, 1) != 1) return 2;
        while (!feed.armed) std::this_thread::yield();
        auto const stop_at = vbench::mono_us() + std::int64_t(duration * 1e6);
        std::uint64_t id = 0;
        for (; id < alerts && vbench::mono_us() < stop_at; ++id) {
            // Sleep, not spin, while the window is full: this thread's CPU
            // counts as the server's, and an embedding program would block.
            // It wakes once half the window has drained, not at every callback.
            if (id - feed.settled.load() >= inflight) {
                feed.wake_at = id - inflight / 2;
                for (auto s = feed.settled.load(); s < feed.wake_at; s = feed.settled.load()) feed.settled.wait(s);
                feed.wake_at = ~0ull;
            }
            auto const t = vbench::mono_us();
            if (!feed.first_us.load()) feed.first_us = t;
            boost::json::object detection{{"kind", "bench"}, {"confidence", 0.93},         {"t_us", t}, {"bi", id},
                                          {"ph", 1},         {"pad", std::string(64, 'x')}};
            feed.published.fetch_add(1, std::memory_order_relaxed);
            api.send_anomaly_alert_async(users[id % users.size()], "cam-" + std::to_string(id % 16), detection,
                                         std::nullopt, [&feed](vigil::publish_outcome const& outcome) {
                                             if (!outcome)
                                                 feed.failed.fetch_add(1);
                                             else
                                                 feed.confirmed.fetch_add(1);
                                             feed.last_us = vbench::mono_us();
                                             if (feed.settled.fetch_add(1) + 1 == feed.wake_at)
                                                 feed.settled.notify_one();
                                         });
        }
        auto const confirm_deadline = vbench::mono_us() + 30'000'000;
        while (feed.confirmed + feed.failed < feed.published && vbench::mono_us() < confirm_deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds{1});
        auto const pub1 = thread_cpu_s();
        feed.done = true;
        auto [st, engine_cpu] = result_future.get();
        auto const proc1 = process_cpu_s();
        clients.join();
        srv.request_stop();
        srv.wait();

        double const server_cpu = (proc1 - proc0) - engine_cpu;
        double const wall = double(st.recv_last_us - st.pub_first_us) / 1e6;
        double const delivered_per_s = wall > 0 ? double(st.received_unique) / wall : NAN;
        double const per_cpu = server_cpu > 0 ? double(st.received_unique) / server_cpu : NAN;
        auto ms = [](double us) { return us / 1000.0; };
        std::printf("vigil_embedded_bench: %u clients, %s store, alerts through embedding::send_anomaly_alert_async\n",
                    connections, store.c_str());
        std::printf("  %-34s %llu of %llu\n", "alerts confirmed", (unsigned long long)st.alerts_confirmed,
                    (unsigned long long)st.alerts_sent);
        std::printf("  %-34s %s\n", "delivered/s", fmt(delivered_per_s, 0).c_str());
        std::printf("  %-34s %s  (caller thread %s, clients %s)\n", "server CPU (s)", fmt(server_cpu, 2).c_str(),
                    fmt(pub1 - pub0, 2).c_str(), fmt(engine_cpu, 2).c_str());
        std::printf("  %-34s %s\n", "delivered per server CPU-second", fmt(per_cpu, 0).c_str());
        std::printf("  %-34s p50 %s  p90 %s  p99 %s  p99.9 %s  max %s ms\n", "publish->receive latency",
                    fmt(ms(st.latency.percentile(50)), 2).c_str(), fmt(ms(st.latency.percentile(90)), 2).c_str(),
                    fmt(ms(st.latency.percentile(99)), 2).c_str(), fmt(ms(st.latency.percentile(99.9)), 2).c_str(),
                    fmt(ms(double(st.latency.max)), 2).c_str());
        std::printf("  %-34s %llu / %llu / %llu\n", "LOST / DUPLICATES / errors", (unsigned long long)st.lost,
                    (unsigned long long)st.duplicates, (unsigned long long)(st.errors() + feed.failed.load()));
        bool const failed = st.lost || st.duplicates || st.errors() || feed.failed.load() ||
                            st.alerts_confirmed < st.alerts_sent || st.conns_open < connections;
        std::printf(
            "{\"scenario\":\"embedded\",\"label\":\"%s\",\"store\":\"%s\",\"connections\":%u,\"alerts_sent\":%llu,"
            "\"alerts_confirmed\":%llu,\"received_unique\":%llu,\"lost\":%llu,\"duplicates\":%llu,\"errors\":%llu,"
            "\"delivered_per_s\":%s,\"server_cpu_s\":%s,\"caller_thread_cpu_s\":%s,\"loadgen_cpu_s\":%s,"
            "\"delivered_per_server_cpu_s\":%s,\"latency_p50_ms\":%s,\"latency_p90_ms\":%s,\"latency_p99_ms\":%s,"
            "\"latency_p999_ms\":%s,\"latency_max_ms\":%s,\"result\":\"%s\"}\n",
            label.c_str(), store.c_str(), connections, (unsigned long long)st.alerts_sent,
            (unsigned long long)st.alerts_confirmed, (unsigned long long)st.received_unique,
            (unsigned long long)st.lost, (unsigned long long)st.duplicates,
            (unsigned long long)(st.errors() + feed.failed.load()), fmt(delivered_per_s, 1).c_str(),
            fmt(server_cpu, 3).c_str(), fmt(pub1 - pub0, 3).c_str(), fmt(engine_cpu, 3).c_str(),
            fmt(per_cpu, 1).c_str(), fmt(ms(st.latency.percentile(50)), 3).c_str(),
            fmt(ms(st.latency.percentile(90)), 3).c_str(), fmt(ms(st.latency.percentile(99)), 3).c_str(),
            fmt(ms(st.latency.percentile(99.9)), 3).c_str(), fmt(ms(double(st.latency.max)), 3).c_str(),
            failed ? "FAIL" : "ok");
        rc = failed ? 1 : 0;
    }
    std::error_code ec;
    std::filesystem::remove_all(tmpl, ec);
    return rc;
}
