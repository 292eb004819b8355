// vigil_load: the WebSocket load generator of vigil (issue #5).
//
//   vigil_load SCENARIO [--url ws://127.0.0.1:PORT] [--server-pid PID] [options] [-- server command...]
//
// Scenarios: idle, fanout, durable, latency, storm, slow, smoke (see usage()).
// Works against any server of the contract (vigil, the node and FastAPI peers).
// Given a server command after `--`, it starts it ({tmpdir} in the arguments
// becomes a fresh temporary directory), reads the port it listens on from its
// log, measures it, and stops it at the end.
//
// The coordinator (this process) forks one worker per ~19k sockets; each runs a
// vbench::engine. The coordinator samples the server's /proc/PID/stat and
// /proc/PID/status between phases and adds up the workers' statistics. It
// prints a table and one JSON line ({"scenario":...}), and exits 1 when an
// alert was lost or duplicated or anything failed.
#include "load_engine.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using vbench::mono_us;
using vbench::phase_stats;

[[noreturn]] void die(std::string const& why) {
    std::fprintf(stderr, "vigil_load: %s\n", why.c_str());
    std::exit(2);
}

void usage() {
    std::puts(R"(usage: vigil_load SCENARIO [options] [-- server command ...]

scenarios (defaults in brackets):
  idle      hold a ramp of idle connections, heartbeats on: handshakes/s, RSS, bytes/connection
            [--ramp 1000,5000,10000,19000 --hold 5]
  fanout    publish as fast as answers come back to N connected users: delivered/s, per server CPU-s
            [--connections 1000 --alerts 40000 --batch 1 --publishers 32 --duration 10]
  durable   the same with many concurrent publishers: publishes/s (run with group commit on/off)
            [--connections 1000 --alerts 60000 --publishers 128 --duration 10]
  latency   paced publishing: publish->receive p50/p90/p99/p99.9/max
            [--connections 1000 --rate 1000 --duration 10]
  storm     paced publishing while every client is dropped (RST) and reconnects with ?since=
            [--connections 5000 --rate 1000 --duration 8 --storm-at 3]
  slow      paced publishing with a share of clients reading slowly (tiny receive buffer)
            [--connections 1000 --slow-fraction 0.1 --slow-bytes-per-s 4096 --rate 2000 --duration 8]
  smoke     a few hundred alerts, single and batched, acks on, to 200 clients: exits 1 on any loss,
            duplicate or error (CI; judges no speed)

options:
  --url ws://127.0.0.1:PORT   the server (loopback only) [ws://127.0.0.1:8000]; for a cluster, its
                              nodes, comma-separated: worker k holds its clients on node k mod N and
                              publishes through node k+1 mod N (never the receivers' node)
  --secret S                  HS256 secret [$VIGIL_JWT_SECRET]
  --server-pid PID[,PID...]   the server process(es) to measure (/proc, summed); implied with `-- command`
  --backing-pid PID[,PID...]  the store's and bus's servers (PostgreSQL's postmaster, redis-server): their CPU,
                              children included, is reported apart as backing_cpu_s
  --connections N --ramp a,b,c --hold S --alerts M --rate R --batch B --publishers K
  --settle S                  idle: hold S seconds unmeasured before each measured hold [0]
  --duration S (publishing bound) --drain S (wait for the last deliveries) [5]
  --ack-ratio F               acknowledge this share of alerts [0; smoke 1]
  --slow-fraction F --slow-bytes-per-s B --storm-at S --pad-bytes B [64]
  --procs P                   worker processes [one per 19000 sockets]
  --connect-window W          handshakes in flight [256]
  --source-addresses K        spread client sockets over 127.0.0.1..K [16]
  --label TEXT                copied into the JSON line
  --server-log FILE           keep the started server's log
  --latency-log FILE          one line per live alert: publish time and latency in µs (FILE.N per worker)
  --verbose
)");
}

// ------------------------------------------------------------------ options

struct options {
    std::string scenario;
    std::string host = "127.0.0.1";
    std::uint16_t port = 8000;
    std::vector<std::uint16_t> cluster_ports;  // more than one: the nodes of a cluster
    std::string secret;
    int server_pid = 0;
    std::vector<int> more_server_pids;  // a cluster's other nodes
    std::vector<int> backing_pids;      // PostgreSQL, Redis: measured apart
    std::uint32_t connections = 0;
    std::vector<std::uint32_t> ramp;
    double hold = -1;
    double settle = 0;  // idle: unmeasured hold before each measured one
    std::uint64_t alerts = 0;
    double rate = -1;
    std::uint32_t batch = 0;
    int publishers = 0;
    double duration = -1;
    double drain = 5;
    double ack_ratio = -1;
    double slow_fraction = -1;
    std::uint32_t slow_bytes_per_s = 4096;
    double storm_at = -1;
    std::uint32_t pad_bytes = 64;
    int procs = 0;
    std::uint32_t connect_window = 256;
    int source_addresses = 16;
    std::string label;
    std::string server_log;
    std::string latency_log;
    bool verbose = false;
    std::vector<std::string> spawn;
};

std::vector<std::uint32_t> parse_list(std::string const& s) {
    std::vector<std::uint32_t> out;
    std::stringstream in{s};
    std::string item;
    while (std::getline(in, item, ',')) out.push_back(std::uint32_t(std::stoul(item)));
    return out;
}

options parse(int argc, char** argv) {
    if (argc < 2 || std::string{argv[1]} == "-h" || std::string{argv[1]} == "--help") {
        usage();
        std::exit(argc < 2 ? 2 : 0);
    }
    options o;
    o.scenario = argv[1];
    for (int i = 2; i < argc; ++i) {
        std::string const a = argv[i];
        if (a == "--") {
            for (++i; i < argc; ++i) o.spawn.emplace_back(argv[i]);
            break;
        }
        if (a == "--verbose") {
            o.verbose = true;
            continue;
        }
        if (i + 1 >= argc) die("missing value for " + a);
        std::string const v = argv[++i];
        try {
            if (a == "--url") {
                std::stringstream urls{v};
                for (std::string rest; std::getline(urls, rest, ',');) {
                    if (rest.rfind("ws://", 0) == 0)
                        rest = rest.substr(5);
                    else if (rest.rfind("http://", 0) == 0)
                        rest = rest.substr(7);
                    auto const slash = rest.find('/');
                    if (slash != std::string::npos) rest = rest.substr(0, slash);
                    auto const colon = rest.rfind(':');
                    if (colon == std::string::npos) die("--url needs a port");
                    auto host = rest.substr(0, colon);
                    if (host == "localhost") host = "127.0.0.1";
                    if (!o.cluster_ports.empty() && host != o.host) die("the nodes of a cluster must share one host");
                    o.host = host;
                    o.cluster_ports.push_back(std::uint16_t(std::stoul(rest.substr(colon + 1))));
                }
                if (o.cluster_ports.empty()) die("--url needs a port");
                o.port = o.cluster_ports[0];
                if (o.cluster_ports.size() == 1) o.cluster_ports.clear();
            } else if (a == "--secret")
                o.secret = v;
            else if (a == "--server-pid") {
                std::stringstream pids{v};
                for (std::string p; std::getline(pids, p, ',');) {
                    if (o.server_pid == 0)
                        o.server_pid = std::stoi(p);
                    else
                        o.more_server_pids.push_back(std::stoi(p));
                }
            } else if (a == "--backing-pid") {
                std::stringstream pids{v};
                for (std::string p; std::getline(pids, p, ',');) o.backing_pids.push_back(std::stoi(p));
            } else if (a == "--connections")
                o.connections = std::uint32_t(std::stoul(v));
            else if (a == "--ramp")
                o.ramp = parse_list(v);
            else if (a == "--hold")
                o.hold = std::stod(v);
            else if (a == "--settle")
                o.settle = std::stod(v);
            else if (a == "--alerts")
                o.alerts = std::stoull(v);
            else if (a == "--rate")
                o.rate = std::stod(v);
            else if (a == "--batch")
                o.batch = std::uint32_t(std::stoul(v));
            else if (a == "--publishers")
                o.publishers = std::stoi(v);
            else if (a == "--duration")
                o.duration = std::stod(v);
            else if (a == "--drain")
                o.drain = std::stod(v);
            else if (a == "--ack-ratio")
                o.ack_ratio = std::stod(v);
            else if (a == "--slow-fraction")
                o.slow_fraction = std::stod(v);
            else if (a == "--slow-bytes-per-s")
                o.slow_bytes_per_s = std::uint32_t(std::stoul(v));
            else if (a == "--storm-at")
                o.storm_at = std::stod(v);
            else if (a == "--pad-bytes")
                o.pad_bytes = std::uint32_t(std::stoul(v));
            else if (a == "--procs")
                o.procs = std::stoi(v);
            else if (a == "--connect-window")
                o.connect_window = std::uint32_t(std::stoul(v));
            else if (a == "--source-addresses")
                o.source_addresses = std::stoi(v);
            else if (a == "--label")
                o.label = v;
            else if (a == "--server-log")
                o.server_log = v;
            else if (a == "--latency-log")
                o.latency_log = v;
            else
                die("unknown option " + a);
        } catch (std::invalid_argument const&) {
            die("bad value for " + a + ": " + v);
        } catch (std::out_of_range const&) {
            die("value out of range for " + a + ": " + v);
        }
    }
    if (o.host.rfind("127.", 0) != 0) die("only loopback targets (127.0.0.0/8) are allowed");
    if (o.secret.empty())
        if (char const* s = std::getenv("VIGIL_JWT_SECRET")) o.secret = s;
    if (o.secret.empty()) die("no secret: --secret or VIGIL_JWT_SECRET");

    // Scenario defaults; every loop is bounded in count and time.
    auto def = [](auto& field, auto unset, auto value) {
        if (field == unset) field = value;
    };
    auto const& s = o.scenario;
    if (s == "idle") {
        if (o.ramp.empty())
            o.ramp = o.connections ? std::vector<std::uint32_t>{o.connections}
                                   : std::vector<std::uint32_t>{1000, 5000, 10000, 19000};
        def(o.hold, -1.0, 5.0);
    } else if (s == "fanout" || s == "durable") {
        def(o.connections, 0u, 1000u);
        def(o.alerts, 0ull, s == "durable" ? 60000ull : 40000ull);
        def(o.publishers, 0, s == "durable" ? 128 : 32);
        def(o.duration, -1.0, 10.0);
        def(o.rate, -1.0, 0.0);
    } else if (s == "latency") {
        def(o.connections, 0u, 1000u);
        def(o.rate, -1.0, 1000.0);
        def(o.duration, -1.0, 10.0);
    } else if (s == "storm") {
        def(o.connections, 0u, 5000u);
        def(o.rate, -1.0, 1000.0);
        def(o.duration, -1.0, 8.0);
        def(o.storm_at, -1.0, 3.0);
        o.drain = std::max(o.drain, 15.0);
    } else if (s == "slow") {
        def(o.connections, 0u, 1000u);
        def(o.rate, -1.0, 2000.0);
        def(o.duration, -1.0, 8.0);
        def(o.slow_fraction, -1.0, 0.1);
        o.drain = std::max(o.drain, 20.0);
    } else if (s == "smoke") {
        def(o.connections, 0u, 200u);
        def(o.alerts, 0ull, 400ull);
        def(o.rate, -1.0, 200.0);
        def(o.ack_ratio, -1.0, 1.0);
        def(o.duration, -1.0, 10.0);
        def(o.publishers, 0, 4);
    } else {
        usage();
        die("unknown scenario " + s);
    }
    if (s != "idle") o.ramp = {o.connections};
    def(o.hold, -1.0, 1.0);
    def(o.batch, 0u, 1u);
    def(o.publishers, 0, 16);
    def(o.ack_ratio, -1.0, 0.0);
    def(o.slow_fraction, -1.0, 0.0);
    if (o.rate > 0 && o.alerts == 0) o.alerts = std::uint64_t(o.rate * o.duration);
    if (o.alerts > 50'000'000) die("--alerts is bounded to 50M");
    if (o.duration > 600 || o.hold > 600 || o.settle > 600 || o.settle < 0)
        die("--duration, --hold and --settle are bounded to 600 s");
    return o;
}

// ------------------------------------------------------------------ /proc

struct proc_sample {
    double cpu_s = 0;  // utime + stime
    std::int64_t rss_kib = 0;
    bool ok = false;
};

proc_sample sample_one(int pid) {
    proc_sample s;
    if (pid <= 0) return s;
    std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
    std::string line;
    if (!std::getline(stat, line)) return s;
    auto const close = line.rfind(')');
    if (close == std::string::npos) return s;
    std::istringstream rest{line.substr(close + 2)};
    std::string field;
    std::vector<std::string> f;
    while (rest >> field) f.push_back(field);
    // f[0] is field 3 (state); utime is field 14, stime 15.
    if (f.size() < 13) return s;
    double const tick = double(sysconf(_SC_CLK_TCK));
    s.cpu_s = (std::stod(f[11]) + std::stod(f[12])) / tick;
    std::ifstream status{"/proc/" + std::to_string(pid) + "/status"};
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::stoll(line.substr(6));
    s.ok = true;
    return s;
}

// A process and its children (PostgreSQL runs a process per connection,
// started after the server connected): the children living at the time of
// the sample, plus those that exited and were reaped (cutime + cstime of the
// parent), so a child that exits between two samples still counts.
double tree_cpu_s(int pid) {
    double total = 0;
    double const tick = double(sysconf(_SC_CLK_TCK));
    std::error_code ec;
    for (auto const& e : std::filesystem::directory_iterator("/proc", ec)) {
        std::string const name = e.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat{e.path() / "stat"};
        std::string line;
        if (!std::getline(stat, line)) continue;
        auto const close = line.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest{line.substr(close + 2)};
        std::vector<std::string> f;
        for (std::string field; rest >> field;) f.push_back(field);
        // f[0] is field 3 (state), f[1] the parent, utime 14, stime 15, cutime 16, cstime 17.
        if (f.size() < 15) continue;
        int const self = std::stoi(name);
        int const parent = std::stoi(f[1]);
        if (self == pid)
            total += (std::stod(f[11]) + std::stod(f[12]) + std::stod(f[13]) + std::stod(f[14])) / tick;
        else if (parent == pid)
            total += (std::stod(f[11]) + std::stod(f[12])) / tick;
    }
    return total;
}

double backing_cpu_s(std::vector<int> const& pids) {
    double s = 0;
    for (int p : pids) s += tree_cpu_s(p);
    return s;
}

// The server under test: one process, or every node of a cluster, summed.
std::vector<int> const* cluster_pids = nullptr;
proc_sample sample(int pid) {
    auto s = sample_one(pid);
    if (cluster_pids && pid != 0)
        for (int other : *cluster_pids) {
            auto const o = sample_one(other);
            s.cpu_s += o.cpu_s;
            s.rss_kib += o.rss_kib;
            s.ok = s.ok && o.ok;
        }
    return s;
}

// ------------------------------------------------------------------ workers

enum class op : int { connect = 1, hold, publish, close, quit };

struct command {
    op what;
    std::uint32_t n = 0;
    double seconds = 0;
    vbench::publish_spec spec{};  // external stays null
    int publishers = 0;
};

bool write_all(int fd, void const* data, std::size_t n) {
    auto const* p = static_cast<char const*>(data);
    while (n) {
        ssize_t const w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= std::size_t(w);
    }
    return true;
}

bool read_all(int fd, void* data, std::size_t n) {
    auto* p = static_cast<char*>(data);
    while (n) {
        ssize_t const r = ::read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= std::size_t(r);
    }
    return true;
}

struct worker {
    pid_t pid = 0;
    int fd = -1;
    std::uint32_t users = 0;
};

[[noreturn]] void worker_main(int fd, vbench::engine_config cfg) {
    auto stats = std::make_unique<phase_stats>();
    vbench::engine e{cfg};
    write_all(fd, stats.get(), sizeof *stats);  // ready (tokens minted)
    for (;;) {
        if (!e.wait_readable(fd, 3600)) continue;
        command c{};
        if (!read_all(fd, &c, sizeof c)) _exit(0);
        switch (c.what) {
            case op::connect: *stats = e.connect(c.n, c.seconds); break;
            case op::hold: *stats = e.hold(c.seconds); break;
            case op::publish: *stats = e.publish(c.spec); break;
            case op::close:
                e.close_all(c.seconds);
                *stats = phase_stats{};
                break;
            case op::quit: _exit(0);
        }
        if (!write_all(fd, stats.get(), sizeof *stats)) _exit(1);
    }
}

struct coordinator {
    options const& o;
    std::vector<worker> workers;

    explicit coordinator(options const& opts) : o(opts) {}

    void start(std::string const& prefix, std::uint32_t max_users) {
        int procs = o.procs;
        if (procs <= 0)
            procs = int((max_users + std::uint32_t(o.scenario == "idle" ? 0 : o.publishers) + 19499) / 19500);
        procs = std::max(1, std::min<int>(procs, 16));
        // A cluster: at least one worker per node, a whole number of workers each.
        if (auto const nodes = int(o.cluster_ports.size()); nodes > 1)
            procs = std::min(16, (std::max(procs, nodes) + nodes - 1) / nodes * nodes);
        std::uint32_t first = 0;
        for (int w = 0; w < procs; ++w) {
            std::uint32_t const share =
                max_users / std::uint32_t(procs) + (std::uint32_t(w) < max_users % std::uint32_t(procs));
            int sv[2];
            if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair failed");
            vbench::engine_config cfg;
            cfg.host = o.host;
            cfg.port = o.port;
            if (auto const nodes = o.cluster_ports.size(); nodes > 1) {
                cfg.port = o.cluster_ports[std::size_t(w) % nodes];
                cfg.publish_port = o.cluster_ports[(std::size_t(w) + 1) % nodes];
            }
            cfg.secret = o.secret;
            cfg.user_prefix = prefix;
            cfg.first_user = first;
            cfg.users = share;
            cfg.source_addresses = o.source_addresses;
            cfg.connect_window = std::max<std::uint32_t>(1, o.connect_window / std::uint32_t(procs));
            cfg.ack_ratio = o.ack_ratio;
            cfg.slow_fraction = o.slow_fraction;
            cfg.slow_bytes_per_s = o.slow_bytes_per_s;
            cfg.publishers = std::max(1, o.publishers / procs);
            cfg.pad_bytes = o.pad_bytes;
            cfg.verbose = o.verbose;
            if (!o.latency_log.empty())
                cfg.latency_log = procs == 1 ? o.latency_log : o.latency_log + "." + std::to_string(w);
            pid_t const pid = ::fork();
            if (pid < 0) die("fork failed");
            if (pid == 0) {
                ::prctl(PR_SET_PDEATHSIG, SIGKILL);
                ::close(sv[0]);
                for (auto& other : workers) ::close(other.fd);
                worker_main(sv[1], cfg);
            }
            ::close(sv[1]);
            workers.push_back({pid, sv[0], share});
            first += share;
        }
        auto ready = std::make_unique<phase_stats>();
        for (auto& w : workers)
            if (!read_all(w.fd, ready.get(), sizeof *ready)) die("a worker failed to start");
    }

    // Sends a command to every worker (scaled to its share) and adds up the answers.
    phase_stats run(command c) {
        std::size_t const P = workers.size();
        for (std::size_t w = 0; w < P; ++w) {
            command mine = c;
            auto share = [&](std::uint64_t total) { return total / P + (w < total % P ? 1 : 0); };
            mine.n = std::uint32_t(share(c.n));
            mine.spec.count = share(c.spec.count);
            mine.spec.rate = c.spec.rate / double(P);
            if (!write_all(workers[w].fd, &mine, sizeof mine)) die("a worker died");
        }
        phase_stats total;
        auto one = std::make_unique<phase_stats>();
        for (auto& w : workers) {
            if (!read_all(w.fd, one.get(), sizeof *one)) die("a worker died");
            total.merge(*one);
        }
        return total;
    }

    double workers_cpu() const {
        double s = 0;
        for (auto const& w : workers) s += sample_one(w.pid).cpu_s;  // not sample(): that adds a cluster's nodes
        return s;
    }

    void stop() {
        command q{};
        q.what = op::quit;
        for (auto& w : workers) {
            write_all(w.fd, &q, sizeof q);
            ::close(w.fd);
        }
        for (auto& w : workers) ::waitpid(w.pid, nullptr, 0);
        workers.clear();
    }
};

// ------------------------------------------------------------------ the server under test

// The TCP port `pid` listens on (IPv4), from /proc; 0 when none yet.
int listening_port(pid_t pid) {
    std::vector<std::string> inodes;
    std::error_code ec;
    for (auto const& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
        std::error_code ec2;
        auto const target = std::filesystem::read_symlink(e.path(), ec2).string();
        if (target.rfind("socket:[", 0) == 0) inodes.push_back(target.substr(8, target.size() - 9));
    }
    std::ifstream tcp{"/proc/" + std::to_string(pid) + "/net/tcp"};
    std::string line;
    std::getline(tcp, line);
    while (std::getline(tcp, line)) {
        std::istringstream in{line};
        std::string sl, local, remote, st, queues, timer, retr, uid, timeout, inode;
        in >> sl >> local >> remote >> st >> queues >> timer >> retr >> uid >> timeout >> inode;
        if (st != "0A") continue;
        if (std::find(inodes.begin(), inodes.end(), inode) == inodes.end()) continue;
        auto const colon = local.find(':');
        if (colon == std::string::npos) continue;
        return int(std::stoul(local.substr(colon + 1), nullptr, 16));
    }
    return 0;
}

struct spawned_server {
    pid_t pid = 0;
    std::string tmpdir;
    std::thread drain;
    int err_fd = -1;

    void start(options& o) {
        char tmpl[] = "/tmp/vigil-bench-XXXXXX";
        if (!::mkdtemp(tmpl)) die("mkdtemp failed");
        tmpdir = tmpl;
        std::vector<std::string> args = o.spawn;
        for (auto& a : args)
            for (std::size_t at; (at = a.find("{tmpdir}")) != std::string::npos;) a.replace(at, 8, tmpdir);
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) die("pipe failed");
        pid = ::fork();
        if (pid < 0) die("fork failed");
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            ::dup2(p[1], 2);
            ::setenv("VIGIL_JWT_SECRET", o.secret.c_str(), 1);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execvp(argv[0], argv.data());
            std::fprintf(stderr, "exec %s failed: %s\n", argv[0], std::strerror(errno));
            _exit(127);
        }
        ::close(p[1]);
        err_fd = p[0];
        // The port: read from the log when it says (vigil at info level:
        // {"event":"server.listening",...,"port":N}; the peers "...127.0.0.1:N"),
        // else found in /proc: the process's listening TCP socket.
        ::fcntl(err_fd, F_SETFL, O_NONBLOCK);
        std::string pending, line;
        auto const deadline = mono_us() + 30'000'000;
        int port = 0;
        char buf[4096];
        while (!port && mono_us() < deadline) {
            ssize_t const n = ::read(err_fd, buf, sizeof buf);
            if (n > 0) pending.append(buf, std::size_t(n));
            std::size_t nl;
            while (!port && (nl = pending.find('\n')) != std::string::npos) {
                line = pending.substr(0, nl);
                pending.erase(0, nl + 1);
                if (o.verbose) std::fprintf(stderr, "server: %s\n", line.c_str());
                if (line.find("listening") == std::string::npos && line.find("running on") == std::string::npos)
                    continue;
                auto at = line.find("\"port\":");
                if (at != std::string::npos)
                    port = std::atoi(line.c_str() + at + 7);
                else if ((at = line.rfind("127.0.0.1:")) != std::string::npos)
                    port = std::atoi(line.c_str() + at + 10);
            }
            if (!port) port = listening_port(pid);
            if (!port) {
                int status = 0;
                if (::waitpid(pid, &status, WNOHANG) == pid) {
                    std::fprintf(stderr, "%s", pending.c_str());
                    die("the server exited before listening");
                }
                ::usleep(20000);
            }
        }
        int const flags = ::fcntl(err_fd, F_GETFL);
        ::fcntl(err_fd, F_SETFL, flags & ~O_NONBLOCK);
        if (!port) die("could not read the server's port from its log");
        o.port = std::uint16_t(port);
        o.server_pid = pid;
    }

    // Keeps reading the server's log (a full pipe would block it) after the workers forked.
    void keep_draining(std::string const& log_file) {
        drain = std::thread{[fd = err_fd, log_file] {
            std::FILE* out = log_file.empty() ? nullptr : std::fopen(log_file.c_str(), "w");
            char buf[65536];
            for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
                if (out) std::fwrite(buf, 1, std::size_t(n), out);
            if (out) std::fclose(out);
        }};
    }

    int stop() {
        if (!pid) return 0;
        ::kill(pid, SIGTERM);
        int status = 0;
        auto const deadline = mono_us() + 15'000'000;
        while (::waitpid(pid, &status, WNOHANG) == 0) {
            if (mono_us() > deadline) {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, &status, 0);
                break;
            }
            ::usleep(20000);
        }
        if (drain.joinable()) drain.join();
        std::error_code ec;
        std::filesystem::remove_all(tmpdir, ec);
        pid = 0;
        return status;
    }
};

// ------------------------------------------------------------------ output

struct json_line {
    std::string s = "{";
    void raw(std::string const& k, std::string const& v) {
        if (s.size() > 1) s += ',';
        s += '"' + k + "\":" + v;
    }
    void str(std::string const& k, std::string const& v) {
        std::string e;
        for (char c : v) {
            if (c == '"' || c == '\\') e += '\\';
            e += c;
        }
        raw(k, '"' + e + '"');
    }
    void num(std::string const& k, double v, int prec = 3) {
        if (!std::isfinite(v)) return raw(k, "null");
        char b[64];
        std::snprintf(b, sizeof b, "%.*f", prec, v);
        raw(k, b);
    }
    void integer(std::string const& k, std::uint64_t v) { raw(k, std::to_string(v)); }
    std::string done() const { return s + "}"; }
};

double per_s(double n, std::int64_t from_us, std::int64_t to_us) {
    if (to_us <= from_us) return NAN;
    return n * 1e6 / double(to_us - from_us);
}

void table_row(char const* name, std::string const& value) { std::printf("  %-34s %s\n", name, value.c_str()); }
std::string fmt(double v, int prec = 1) {
    if (!std::isfinite(v)) return "-";
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", prec, v);
    return b;
}

void latency_fields(json_line& j, std::string const& prefix, vbench::histogram const& h) {
    j.integer(prefix + "_n", h.n);
    j.num(prefix + "_p50_ms", h.percentile(50) / 1000.0);
    j.num(prefix + "_p90_ms", h.percentile(90) / 1000.0);
    j.num(prefix + "_p99_ms", h.percentile(99) / 1000.0);
    j.num(prefix + "_p999_ms", h.percentile(99.9) / 1000.0);
    j.num(prefix + "_max_ms", double(h.max) / 1000.0);
}

void latency_rows(char const* name, vbench::histogram const& h) {
    if (!h.n) return table_row(name, "-");
    table_row(name, "p50 " + fmt(h.percentile(50) / 1000, 2) + "  p90 " + fmt(h.percentile(90) / 1000, 2) + "  p99 " +
                        fmt(h.percentile(99) / 1000, 2) + "  p99.9 " + fmt(h.percentile(99.9) / 1000, 2) + "  max " +
                        fmt(double(h.max) / 1000, 2) + " ms  (n=" + std::to_string(h.n) + ")");
}

// Fields every publishing scenario reports.
void publish_report(json_line& j, phase_stats const& p, double server_cpu, double loadgen_cpu) {
    double const pub_rate = per_s(double(p.alerts_confirmed), p.pub_first_us, p.pub_last_us);
    double const dlv_rate = per_s(double(p.received_unique), p.pub_first_us, p.recv_last_us);
    double const per_cpu = server_cpu > 0 ? double(p.received_unique) / server_cpu : NAN;
    j.integer("alerts_sent", p.alerts_sent);
    j.integer("alerts_confirmed", p.alerts_confirmed);
    j.integer("alerts_undelivered_at_publish", p.alerts_undelivered);
    j.integer("received", p.received);
    j.integer("received_unique", p.received_unique);
    j.integer("lost", p.lost);
    j.integer("duplicates", p.duplicates);
    j.integer("out_of_order", p.out_of_order);
    j.integer("stale", p.stale);
    j.integer("replayed", p.replayed);
    j.integer("acks_sent", p.acks_sent);
    j.integer("acks_ok", p.acks_ok);
    j.integer("errors", p.errors());
    j.integer("publish_requests", p.pub_requests);
    j.num("publishes_per_s", pub_rate, 1);
    j.num("delivered_per_s", dlv_rate, 1);
    j.num("server_cpu_s", server_cpu);
    j.num("delivered_per_server_cpu_s", per_cpu, 1);
    j.num("loadgen_cpu_s", loadgen_cpu);
    latency_fields(j, "latency", p.latency);
    if (p.latency_slow.n) latency_fields(j, "latency_slow", p.latency_slow);
    if (p.latency_replayed.n) latency_fields(j, "latency_replayed", p.latency_replayed);
    j.num("publish_rtt_p50_ms", p.pub_rtt.percentile(50) / 1000.0);
    j.num("publish_rtt_p99_ms", p.pub_rtt.percentile(99) / 1000.0);
    j.integer("close_4008", p.close_4008);
    j.integer("close_4000", p.close_4000);
    j.integer("close_other", p.close_other + p.close_4001 + p.close_1001);
    j.integer("disconnects", p.disconnects);
    j.integer("reconnects", p.reconnects);

    table_row("alerts published (201)", std::to_string(p.alerts_confirmed) + " of " + std::to_string(p.alerts_sent) +
                                            " sent, " + std::to_string(p.pub_requests) + " requests");
    table_row("publishes/s", fmt(pub_rate, 0));
    table_row("delivered/s", fmt(dlv_rate, 0));
    table_row("server CPU (s)", fmt(server_cpu, 2) + "  (load generator " + fmt(loadgen_cpu, 2) + ")");
    table_row("delivered per server CPU-second", fmt(per_cpu, 0));
    latency_rows("publish->receive latency", p.latency);
    if (p.latency_slow.n) latency_rows("latency on slow clients", p.latency_slow);
    if (p.latency_replayed.n) latency_rows("latency of replayed alerts", p.latency_replayed);
    latency_rows("publish request round trip", p.pub_rtt);
    table_row("received / unique", std::to_string(p.received) + " / " + std::to_string(p.received_unique) +
                                       " (replayed " + std::to_string(p.replayed) + ", stale " +
                                       std::to_string(p.stale) + ")");
    table_row("LOST / DUPLICATES / out of order",
              std::to_string(p.lost) + " / " + std::to_string(p.duplicates) + " / " + std::to_string(p.out_of_order));
    table_row("errors", std::to_string(p.errors()));
    table_row("closes 4008 / 4000 / other; reconnects",
              std::to_string(p.close_4008) + " / " + std::to_string(p.close_4000) + " / " +
                  std::to_string(p.close_other + p.close_4001 + p.close_1001) + "; " + std::to_string(p.reconnects));
    if (p.acks_sent) table_row("acks sent / ack_ok", std::to_string(p.acks_sent) + " / " + std::to_string(p.acks_ok));
}

std::string random_prefix() {
    std::random_device rd;
    char b[32];
    std::snprintf(b, sizeof b, "b%06x-", rd() & 0xffffff);
    return b;
}

}  // namespace

int main(int argc, char** argv) {
    options o = parse(argc, argv);
    std::signal(SIGPIPE, SIG_IGN);
    spawned_server spawned;
    if (!o.spawn.empty()) spawned.start(o);
    if (!o.spawn.empty() && !o.cluster_ports.empty())
        die("a cluster is started outside vigil_load: give its --url list");
    cluster_pids = &o.more_server_pids;

    std::uint32_t const max_users = *std::max_element(o.ramp.begin(), o.ramp.end());
    coordinator co{o};
    co.start(random_prefix(), max_users);
    if (!o.spawn.empty()) spawned.keep_draining(o.server_log);

    json_line j;
    j.str("scenario", o.scenario);
    if (!o.label.empty()) j.str("label", o.label);
    j.integer("procs", co.workers.size());
    j.integer("nodes", std::max<std::size_t>(1, o.cluster_ports.size()));
    bool failed = false;
    std::printf("vigil_load %s against %s:%u (server pid %d, %zu worker process%s)\n", o.scenario.c_str(),
                o.host.c_str(), o.port, o.server_pid, co.workers.size(), co.workers.size() == 1 ? "" : "es");

    auto const base = sample(o.server_pid);
    j.integer("server_rss_base_kib", std::uint64_t(base.rss_kib));

    if (o.scenario == "idle") {
        std::string steps = "[";
        std::printf("  %8s %8s %12s %12s %14s %14s %10s\n", "conns", "open", "handshake/s", "RSS MiB", "bytes/conn",
                    "idle CPU %", "pings");
        for (auto const n : o.ramp) {
            command c{};
            c.what = op::connect;
            c.n = n;
            c.seconds = 120;
            auto const conn = co.run(c);
            vbench::phase_stats settled{};
            if (o.settle > 0) {
                // Not measured: the first heartbeat round (a protocol ping
                // too, until a client answered the JSON one) is a one-off.
                c = {};
                c.what = op::hold;
                c.seconds = o.settle;
                settled = co.run(c);
            }
            c = {};
            c.what = op::hold;
            c.seconds = o.hold;
            auto const cpu0 = sample(o.server_pid);
            auto const held = co.run(c);
            auto const cpu1 = sample(o.server_pid);
            double const hs = per_s(double(conn.handshakes_ok), conn.connect_first_us, conn.connect_last_us);
            double const bytes =
                held.conns_open ? double(cpu1.rss_kib - base.rss_kib) * 1024.0 / double(held.conns_open) : NAN;
            double const idle_cpu = (cpu1.cpu_s - cpu0.cpu_s) / o.hold * 100.0;
            std::uint64_t const pings = held.json_pings + held.ws_pings;
            std::printf("  %8u %8llu %12s %12s %14s %14s %10llu\n", n, (unsigned long long)held.conns_open,
                        fmt(hs, 0).c_str(), fmt(double(cpu1.rss_kib) / 1024, 1).c_str(), fmt(bytes, 0).c_str(),
                        fmt(idle_cpu, 1).c_str(), (unsigned long long)pings);
            json_line s;
            s.integer("connections", n);
            s.integer("open", held.conns_open);
            s.num("handshakes_per_s", hs, 1);
            s.integer("server_rss_kib", std::uint64_t(cpu1.rss_kib));
            s.num("bytes_per_connection", bytes, 0);
            s.num("idle_cpu_percent", idle_cpu, 2);
            s.num("settle_s", o.settle, 0);
            s.integer("pings_answered", pings);
            auto const errors = conn.errors() + settled.errors() + held.errors();
            s.integer("errors", errors);
            s.integer("drops", settled.disconnects + settled.server_closes + held.disconnects + held.server_closes);
            steps += (steps.size() > 1 ? "," : "") + s.done();
            if (held.conns_open < n || errors > 0) failed = true;
        }
        j.raw("steps", steps + "]");
    } else {
        command c{};
        c.what = op::connect;
        c.n = o.connections;
        c.seconds = 120;
        auto const conn = co.run(c);
        double const hs = per_s(double(conn.handshakes_ok), conn.connect_first_us, conn.connect_last_us);
        c = {};
        c.what = op::hold;
        c.seconds = o.hold;
        auto const held = co.run(c);
        auto const after = sample(o.server_pid);
        j.integer("connections", o.connections);
        j.integer("open", held.conns_open);
        j.num("handshakes_per_s", hs, 1);
        j.integer("server_rss_kib", std::uint64_t(after.rss_kib));
        j.num("bytes_per_connection",
              held.conns_open ? double(after.rss_kib - base.rss_kib) * 1024.0 / double(held.conns_open) : NAN, 0);
        table_row("connections open", std::to_string(held.conns_open) + " of " + std::to_string(o.connections) + " (" +
                                          fmt(hs, 0) + " handshakes/s)");
        if (held.conns_open < o.connections) failed = true;

        std::vector<std::pair<std::string, std::uint32_t>> phases;  // name, batch
        if (o.scenario == "smoke")
            phases = {{"single", 1}, {"batch", 20}};
        else
            phases = {{"", o.batch}};
        std::uint32_t phase_no = 1;
        for (auto const& [name, batch] : phases) {
            c = {};
            c.what = op::publish;
            c.spec.phase = phase_no++;
            c.spec.count = o.alerts;
            c.spec.batch = batch;
            c.spec.rate = o.rate;
            c.spec.max_seconds = o.duration;
            c.spec.drain_seconds = o.drain;
            c.spec.storm_at_seconds = o.storm_at;
            if (!name.empty()) std::printf(" phase %s (batch %u)\n", name.c_str(), batch);
            auto const cpu0 = sample(o.server_pid);
            auto const lg0 = co.workers_cpu();
            auto const bk0 = backing_cpu_s(o.backing_pids);
            auto const p = co.run(c);
            auto const cpu1 = sample(o.server_pid);
            auto const lg1 = co.workers_cpu();
            auto const bk1 = backing_cpu_s(o.backing_pids);
            json_line* out = &j;
            json_line sub;
            if (!name.empty()) out = &sub;
            out->integer("batch", batch);
            out->num("rate_target", o.rate, 0);
            publish_report(*out, p, cpu1.cpu_s - cpu0.cpu_s, lg1 - lg0);
            if (!o.backing_pids.empty()) {
                out->num("backing_cpu_s", bk1 - bk0);
                table_row("store and bus servers CPU (s)", fmt(bk1 - bk0, 2));
            }
            if (o.scenario == "storm") {
                double const storm_s = p.storm_end_us ? double(p.storm_end_us - p.storm_start_us) / 1e6 : NAN;
                out->integer("storm_connections", p.storm_conns);
                out->num("storm_seconds", storm_s, 3);
                out->num("storm_reconnects_per_s", p.storm_conns / storm_s, 1);
                table_row("storm: clients dropped", std::to_string(p.storm_conns));
                table_row("storm: all back after (s)",
                          fmt(storm_s, 3) + "  (" + fmt(p.storm_conns / storm_s, 0) + " reconnects/s)");
            }
            if (o.scenario == "smoke" && p.acks_ok < p.acks_sent) failed = true;
            if (p.lost || p.duplicates || p.errors() || p.alerts_confirmed < p.alerts_sent) failed = true;
            if (!name.empty()) j.raw(name, sub.done());
        }
        c = {};
        c.what = op::close;
        c.seconds = 5;
        co.run(c);
    }
    co.stop();
    int const server_status = spawned.stop();
    if (!o.spawn.empty() && !(WIFEXITED(server_status) && WEXITSTATUS(server_status) == 0) &&
        !(WIFSIGNALED(server_status) && WTERMSIG(server_status) == SIGTERM)) {
        std::fprintf(stderr, "vigil_load: the server exited with status %d\n", server_status);
        failed = true;
    }
    j.str("result", failed ? "FAIL" : "ok");
    std::printf("  %-34s %s\n", "result", failed ? "FAIL" : "ok");
    std::printf("%s\n", j.done().c_str());
    std::fflush(stdout);
    return failed ? 1 : 0;
}
