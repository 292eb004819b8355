// vigil_micro_bench: Google Benchmark micro-benchmarks of the hot path.
//
//   JWT verification (every upgrade and every HTTP publish), client message
//   parse (every ack/ping), publish body parse and validation, alert
//   serialisation (once per alert), the registry's lookup + hand-off
//   (connection_registry::deliver, once per alert), and the alert service's
//   whole commit -> serialise -> deliver path on the memory and SQLite engines.
//
// Run: build/vigil_micro_bench [--benchmark_filter=...]  (no timed assertions anywhere)
#include "alerts/alert_service.hpp"
#include "alerts/alert_validation.hpp"
#include "auth/jwt_verifier.hpp"
#include "auth/token_minter.hpp"
#include "bus/local_alert_bus.hpp"
#include "common/clock.hpp"
#include "common/ids.hpp"
#include "hub/connection_registry.hpp"
#include "proto/messages.hpp"
#include "store/memory_alert_store.hpp"
#include "store/postgres_alert_store.hpp"
#include "store/sqlite_alert_store.hpp"
#include "support/postgres_process.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <unistd.h>

namespace {

std::string const secret = "micro-bench-secret-0123456789abcdef0123456789";
std::string const detection =
    R"({"type":"intrusion","confidence":0.93,"boxes":[[10,20,110,220],[300,40,380,200]],"model":"yolo-v8n","t_us":123456789})";

// A live connection that only counts what it is handed.
class counting_subscriber final : public vigil::subscriber {
public:
    explicit counting_subscriber(std::string user) : user_(std::move(user)) {}
    std::string const& user_id() const noexcept override { return user_; }
    bool deliver(vigil::sequenced_message m) override {
        bytes.fetch_add(m.text->size(), std::memory_order_relaxed);
        return true;
    }
    void replay(vigil::replay_delivery) override {}
    void close(std::uint16_t, std::string_view) override {}
    vigil::connection_stats stats() const override { return {user_, 0, 0, {}}; }
    bool tick_due(std::int64_t) const noexcept override { return false; }
    void on_tick(std::int64_t) override {}
    std::atomic<std::size_t> bytes{0};

private:
    std::string user_;
};

std::string user(std::size_t i) { return "user-" + std::to_string(i); }

void BM_JwtVerifyHS256(benchmark::State& state) {
    vigil::jwt_settings js;
    js.secret = secret;
    vigil::auth::jwt_verifier v{js};
    auto const now = vigil::now_ms() / 1000;
    auto const token = vigil::auth::mint_hs256(secret, "user_123", "publisher", 3600, now);
    for (auto _ : state) {
        auto r = v.verify(token, now);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JwtVerifyHS256);

void BM_ParseClientMessage(benchmark::State& state) {
    std::string const ack = R"({"type":"ack","alert_id":"01a216da-795e-7270-b59a-30fbe5456e0f"})";
    std::string const pong = R"({"type":"pong"})";
    auto const& text = state.range(0) ? ack : pong;
    for (auto _ : state) {
        auto r = vigil::proto::parse_client_message(text);
        benchmark::DoNotOptimize(r);
    }
    state.SetLabel(state.range(0) ? "ack" : "pong");
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseClientMessage)->Arg(0)->Arg(1);

void BM_ParsePublishBody(benchmark::State& state) {
    auto const n = std::size_t(state.range(0));
    std::string body = n > 1 ? "[" : "";
    for (std::size_t i = 0; i < n; ++i) {
        if (i) body += ',';
        body += R"({"user_id":")" + user(i) + R"(","stream_id":"cam-7","detection":)" + detection + "}";
    }
    if (n > 1) body += "]";
    vigil::alert_limits limits;
    auto const now = vigil::iso8601(vigil::now_ms());
    for (auto _ : state) {
        auto r = vigil::parse_publish_body(body, limits, now);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations() * std::int64_t(n));
}
BENCHMARK(BM_ParsePublishBody)->Arg(1)->Arg(100);

void BM_AnomalyMessage(benchmark::State& state) {
    vigil::stored_alert a;
    a.alert_id = vigil::new_alert_id();
    a.seq = 4242;
    a.user_id = "user_123";
    a.stream_id = "stream_456";
    a.detection_json = detection;
    a.timestamp = vigil::iso8601(vigil::now_ms());
    for (auto _ : state) {
        auto m = vigil::proto::anomaly_message(a, false, "3f2a9c01d4e5b6a7");
        benchmark::DoNotOptimize(m);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AnomalyMessage);

void BM_NewAlertId(benchmark::State& state) {
    for (auto _ : state) {
        auto id = vigil::new_alert_id();
        benchmark::DoNotOptimize(id);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NewAlertId);

// connection_registry::deliver: shard lookup, weak_ptr lock, virtual hand-off.
void BM_RegistryDeliver(benchmark::State& state) {
    auto const n = std::size_t(state.range(0));
    vigil::connection_registry registry;
    std::vector<std::shared_ptr<counting_subscriber>> subs;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < n; ++i) {
        names.push_back(user(i));
        subs.push_back(std::make_shared<counting_subscriber>(names.back()));
        registry.attach(subs.back());
    }
    auto const message = std::make_shared<std::string const>(std::string(300, 'x'));
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(registry.deliver(names[i], vigil::sequenced_message{message, i + 1, 0}));
        if (++i == n) i = 0;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RegistryDeliver)->Arg(1000)->Arg(19000)->Arg(100000);

// The alert service end to end without sockets: queue -> store.write ->
// anomaly_message -> bus -> registry -> subscriber, in batches of range(0),
// with up to 64 jobs queued (group commit gathers them).
template <class Store>
void service_publish(benchmark::State& state, Store& store) {
    auto const batch = std::size_t(state.range(0));
    std::size_t const users = 1000;
    vigil::connection_registry registry;
    vigil::local_alert_bus bus;
    std::vector<std::shared_ptr<counting_subscriber>> subs;
    for (std::size_t i = 0; i < users; ++i) {
        subs.push_back(std::make_shared<counting_subscriber>(user(i)));
        registry.attach(subs.back());
    }
    vigil::alert_service service{store, bus, registry, vigil::alert_service_options{}};
    bus.start(service.bus_receiver());
    std::mutex m;
    std::condition_variable cv;
    std::size_t outstanding = 0;
    std::size_t next = 0;
    auto const ts = vigil::iso8601(vigil::now_ms());
    for (auto _ : state) {
        std::vector<vigil::new_alert> alerts;
        alerts.reserve(batch);
        for (std::size_t k = 0; k < batch; ++k, ++next)
            alerts.push_back({user(next % users), "cam-7", detection, std::nullopt, ts, {}});
        {
            std::unique_lock lock{m};
            cv.wait(lock, [&] { return outstanding < 64; });
            ++outstanding;
        }
        service.publish(std::move(alerts), [&](vigil::publish_outcome) {
            std::lock_guard lock{m};
            --outstanding;
            cv.notify_all();
        });
    }
    {
        std::unique_lock lock{m};
        cv.wait(lock, [&] { return outstanding == 0; });
    }
    service.stop();
    bus.stop();
    state.SetItemsProcessed(state.iterations() * std::int64_t(batch));
}

void BM_ServicePublishMemory(benchmark::State& state) {
    vigil::memory_alert_store store{vigil::retention_policy{0, 10000}};
    service_publish(state, store);
}
BENCHMARK(BM_ServicePublishMemory)->Arg(1)->Arg(100)->UseRealTime();

// A database in a fresh temporary directory, removed with it; declared before
// the store so that the store closes first.
struct scratch_dir {
    std::filesystem::path path = std::filesystem::temp_directory_path() / ("vigil-micro-" + std::to_string(getpid()));
    scratch_dir() { std::filesystem::create_directories(path); }
    ~scratch_dir() { std::filesystem::remove_all(path); }
    std::string db() const { return (path / "vigil.db").string(); }
};

// synchronous=NORMAL: the CPU cost of the SQLite path, not the disk's fsync.
void BM_ServicePublishSqliteNoFsync(benchmark::State& state) {
    scratch_dir const dir;
    vigil::sqlite_alert_store store{vigil::sqlite_options{dir.db(), false, {0, 10000}}};
    service_publish(state, store);
}
BENCHMARK(BM_ServicePublishSqliteNoFsync)->Arg(1)->Arg(100)->UseRealTime();

// sqlite_alert_store::write alone, durable (synchronous=FULL: an fdatasync
// per commit), commits of range(0) alerts for 1,000 users: what durability
// costs per alert beside the memory store. Process CPU time, so the kernel's
// share of the WAL write and its sync counts; the database grows as it runs.
void BM_SqliteDurableWrite(benchmark::State& state) {
    auto const batch = std::size_t(state.range(0));
    scratch_dir const dir;
    vigil::sqlite_alert_store store{vigil::sqlite_options{dir.db(), true, {0, 10000}}};
    auto const ts = vigil::iso8601(vigil::now_ms());
    std::size_t next = 0;
    for (auto _ : state) {
        vigil::write_batch b;
        b.alerts.reserve(batch);
        for (std::size_t k = 0; k < batch; ++k, ++next)
            b.alerts.push_back({user(next % 1000), "cam-7", detection, std::nullopt, ts, {}, true});
        benchmark::DoNotOptimize(store.write(b, vigil::now_ms()));
    }
    state.SetItemsProcessed(state.iterations() * std::int64_t(batch));
}
BENCHMARK(BM_SqliteDurableWrite)->Arg(16)->Arg(100);

// postgres_alert_store::write alone, the same batches, against a throwaway
// PostgreSQL on this machine (support/postgres_process.hpp) with fsync and
// synchronous_commit on: one round trip and one WAL flush per batch. Real
// time, since most of the work is the server's (another process). Skipped
// where PostgreSQL's binaries are not installed.
void BM_PostgresDurableWrite(benchmark::State& state) {
    if (!vigil::test::postgres_process::available()) {
        state.SkipWithError("PostgreSQL's binaries not found (postgresql-15)");
        return;
    }
    static vigil::test::postgres_process server{{.durable = true, .database = "vigil_bench"}};
    auto const batch = std::size_t(state.range(0));
    vigil::postgres_options o;
    o.url = server.url();
    o.schema = "bench_" + std::to_string(batch);
    o.retention = {0, 10000};
    vigil::postgres_alert_store store{o};
    auto const ts = vigil::iso8601(vigil::now_ms());
    std::size_t next = 0;
    for (auto _ : state) {
        vigil::write_batch b;
        b.alerts.reserve(batch);
        for (std::size_t k = 0; k < batch; ++k, ++next)
            b.alerts.push_back({user(next % 1000), "cam-7", detection, std::nullopt, ts, {}, true});
        benchmark::DoNotOptimize(store.write(b, vigil::now_ms()));
    }
    state.SetItemsProcessed(state.iterations() * std::int64_t(batch));
}
BENCHMARK(BM_PostgresDurableWrite)->Arg(16)->Arg(100)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
