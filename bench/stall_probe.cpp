// vigil_stall_probe: how long this machine keeps a ready thread from running.
//
//   vigil_stall_probe [--seconds S] [--json]
//
// One thread per CPU, pinned, at real-time priority (SCHED_FIFO, when the
// process may use it), sleeps 1 ms at a time and records how late each
// wake-up is. Nothing else on the guest can hold such a thread back for
// milliseconds, so long lateness means the CPU itself was not running: on a
// shared virtual machine, the host's scheduler. An alert that is on its way
// while a CPU stalls waits too: these stalls are part of every latency tail
// measured here, more so the more threads an alert passes through.
//
// For each CPU it prints the wake-ups late by more than 1 and 2 ms, the worst,
// and the share of the time an event arriving at a random instant would have
// waited more than 1 or 2 ms for its CPU (a stall of L ms delays an event
// arriving during it by up to L; summed over the stalls).
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

std::int64_t mono_us() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

struct cpu_result {
    int cpu = 0;
    bool realtime = false;
    long wakeups = 0, late_1ms = 0, late_2ms = 0;
    std::int64_t worst_us = 0;
    std::int64_t wait_over_1ms_us = 0, wait_over_2ms_us = 0;  // summed over stalls
};

void probe(cpu_result& r, double seconds) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(r.cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    sched_param p{};
    p.sched_priority = 50;
    r.realtime = pthread_setschedparam(pthread_self(), SCHED_FIFO, &p) == 0;
    auto const end = mono_us() + std::int64_t(seconds * 1e6);
    constexpr std::int64_t period_us = 1000;
    for (std::int64_t before = mono_us(); before < end; before = mono_us()) {
        timespec const d{0, period_us * 1000};
        clock_nanosleep(CLOCK_MONOTONIC, 0, &d, nullptr);
        auto const late = mono_us() - before - period_us;
        ++r.wakeups;
        r.worst_us = std::max(r.worst_us, late);
        if (late > 1000) ++r.late_1ms, r.wait_over_1ms_us += late - 1000;
        if (late > 2000) ++r.late_2ms, r.wait_over_2ms_us += late - 2000;
    }
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 20;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = std::atof(argv[++i]);
        else if (!std::strcmp(argv[i], "--json"))
            json = true;
        else {
            std::fprintf(stderr, "usage: vigil_stall_probe [--seconds S] [--json]\n");
            return 2;
        }
    }
    int const cpus = int(std::thread::hardware_concurrency());
    std::vector<cpu_result> results(std::size_t(std::max(cpus, 1)));
    std::vector<std::thread> threads;
    for (int c = 0; c < int(results.size()); ++c) {
        results[std::size_t(c)].cpu = c;
        threads.emplace_back(probe, std::ref(results[std::size_t(c)]), seconds);
    }
    for (auto& t : threads) t.join();

    auto const pct = [&](std::int64_t us) { return 100.0 * double(us) / (seconds * 1e6); };
    if (!json) {
        std::printf("cpu  realtime  wake-ups  late>1ms  late>2ms  worst ms  wait>1ms %%  wait>2ms %%\n");
        for (auto const& r : results)
            std::printf("%3d  %8s  %8ld  %8ld  %8ld  %8.2f  %10.3f  %10.3f\n", r.cpu, r.realtime ? "yes" : "no",
                        r.wakeups, r.late_1ms, r.late_2ms, double(r.worst_us) / 1000, pct(r.wait_over_1ms_us),
                        pct(r.wait_over_2ms_us));
    }
    std::string line = "{\"scenario\":\"stall_probe\",\"seconds\":" + std::to_string(seconds) + ",\"cpus\":[";
    for (auto const& r : results) {
        char buf[320];
        std::snprintf(buf, sizeof buf,
                      "%s{\"cpu\":%d,\"realtime\":%s,\"wakeups\":%ld,\"late_1ms\":%ld,\"late_2ms\":%ld,"
                      "\"worst_ms\":%.3f,\"wait_over_1ms_pct\":%.4f,\"wait_over_2ms_pct\":%.4f}",
                      r.cpu ? "," : "", r.cpu, r.realtime ? "true" : "false", r.wakeups, r.late_1ms, r.late_2ms,
                      double(r.worst_us) / 1000, pct(r.wait_over_1ms_us), pct(r.wait_over_2ms_us));
        line += buf;
    }
    std::puts((line + "]}").c_str());
}
