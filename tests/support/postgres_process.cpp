#include "support/postgres_process.hpp"

#include <libpq-fe.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace vigil::test {

namespace fs = std::filesystem;

namespace {

fs::path bin_dir() {
    if (char const* env = std::getenv("VIGIL_PG_BIN_DIR"); env && *env) return env;
    fs::path const debian15 = "/usr/lib/postgresql/15/bin";
    if (fs::exists(debian15 / "postgres")) return debian15;
    // Another major version of Debian's packaging: the newest.
    std::error_code ec;
    fs::path best;
    int best_version = 0;
    for (auto const& e : fs::directory_iterator{"/usr/lib/postgresql", ec}) {
        int const v = std::atoi(e.path().filename().c_str());
        if (v > best_version && fs::exists(e.path() / "bin" / "postgres")) best_version = v, best = e.path() / "bin";
    }
    if (!best.empty()) return best;
    if (FILE* p = ::popen("pg_config --bindir 2>/dev/null", "r")) {
        char buf[512] = {};
        std::string out = std::fgets(buf, sizeof buf, p) ? buf : "";
        ::pclose(p);
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
        if (!out.empty() && fs::exists(fs::path{out} / "postgres")) return out;
    }
    return {};
}

// The user the server runs as: postgres when we are root, else ourselves.
struct run_as {
    bool drop = false;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string name;
};

run_as server_user() {
    run_as r;
    if (::geteuid() != 0) return r;
    passwd const* pw = ::getpwnam("postgres");
    if (!pw)
        throw std::runtime_error(
            "running as root, and there is no `postgres` user to run PostgreSQL as (Debian's postgresql "
            "package creates it)");
    r.drop = true;
    r.uid = pw->pw_uid;
    r.gid = pw->pw_gid;
    r.name = "postgres";
    return r;
}

void give_to(fs::path const& p, run_as const& who) {
    if (!who.drop) return;
    if (::chown(p.c_str(), who.uid, who.gid) != 0) throw std::runtime_error("cannot chown " + p.string());
    if (fs::is_directory(p))
        for (auto const& e : fs::recursive_directory_iterator{p})
            if (::lchown(e.path().c_str(), who.uid, who.gid) != 0)
                throw std::runtime_error("cannot chown " + e.path().string());
}

// Runs argv as the server's user with output to `log`; returns the child.
// Only async-signal-safe calls between fork and exec.
pid_t spawn(std::vector<std::string> const& argv, fs::path const& log, run_as const& who, bool die_with_parent) {
    std::vector<char*> args;
    for (auto const& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int const out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0) throw std::runtime_error("cannot open " + log.string());
    pid_t const parent = ::getpid();
    pid_t const pid = ::fork();
    if (pid < 0) {
        ::close(out);
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        ::dup2(out, 1);
        ::dup2(out, 2);
        int const devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, 0);
        if (who.drop) {
            gid_t const groups[1] = {who.gid};
            if (::setgroups(1, groups) != 0 || ::setgid(who.gid) != 0 || ::setuid(who.uid) != 0) ::_exit(126);
        }
        // After the uid change, which clears it: a server whose test died
        // does not outlive it.
        if (die_with_parent) {
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (::getppid() != parent) ::_exit(125);
        }
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(out);
    return pid;
}

int wait_exit(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string read_file(fs::path const& p) {
    std::ifstream in{p};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void run_or_throw(std::vector<std::string> const& argv, fs::path const& log, run_as const& who) {
    if (int const rc = wait_exit(spawn(argv, log, who, false)); rc != 0)
        throw std::runtime_error(argv[0] + " failed (" + std::to_string(rc) + "): " + read_file(log));
}

int free_port() {
    int const s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        if (s >= 0) ::close(s);
        throw std::runtime_error("no free port");
    }
    ::close(s);
    return ntohs(a.sin_port);
}

// initdb once into a template that servers copy (initdb takes seconds; a
// copy a fraction of one). Made under a lock, complete when its marker is.
fs::path template_dir(fs::path const& bin, run_as const& who) {
    auto const base = fs::temp_directory_path();
    std::string const tag = fs::path{bin}.parent_path().filename().string() + "-" + std::to_string(::geteuid());
    auto const dir = base / ("vigil-pg-template-" + tag);
    auto const marker = dir / "vigil-template-complete";
    int const lock =
        ::open((base / ("vigil-pg-template-" + tag + ".lock")).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0) throw std::runtime_error("cannot open the template's lock");
    ::flock(lock, LOCK_EX);
    try {
        if (!fs::exists(marker)) {
            fs::remove_all(dir);
            fs::create_directories(dir);
            ::chmod(dir.c_str(), 0700);
            give_to(dir, who);
            run_or_throw({(bin / "initdb").string(), "-D", (dir / "data").string(), "--no-sync", "-A", "trust", "-U",
                          "postgres", "-E", "UTF8", "--locale=C", "--no-instructions"},
                         base / ("vigil-pg-template-" + tag + ".log"), who);
            std::ofstream{marker} << "initdb done\n";
        }
    } catch (...) {
        ::flock(lock, LOCK_UN);
        ::close(lock);
        throw;
    }
    ::flock(lock, LOCK_UN);
    ::close(lock);
    return dir / "data";
}

void exec_sql(std::string const& conninfo, std::string const& sql) {
    PGconn* c = PQconnectdb(conninfo.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
        std::string const why = PQerrorMessage(c);
        PQfinish(c);
        throw std::runtime_error("cannot connect to the test server: " + why);
    }
    PGresult* r = PQexec(c, sql.c_str());
    bool const ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    std::string const why = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    if (!ok) throw std::runtime_error(sql + ": " + why);
}

}  // namespace

bool postgres_process::available() {
    auto const bin = bin_dir();
    return !bin.empty() && fs::exists(bin / "initdb") && fs::exists(bin / "postgres");
}

postgres_process& postgres_process::shared() {
    static postgres_process server;
    return server;
}

postgres_process::postgres_process(options o) : options_(std::move(o)) {
    auto const bin = bin_dir();
    if (bin.empty()) throw std::runtime_error("PostgreSQL's binaries not found (set VIGIL_PG_BIN_DIR)");
    auto const who = server_user();
    auto const source = template_dir(bin, who);
    std::string pattern = (fs::temp_directory_path() / "vigil-pg-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    try {
        fs::copy(source, dir_ / "data", fs::copy_options::recursive);
        ::chmod((dir_ / "data").c_str(), 0700);
        give_to(dir_, who);
        port_ = free_port();
        start();
        exec_sql(url("postgres"), "CREATE DATABASE " + options_.database);
    } catch (...) {
        if (pid_ > 0) stop();
        std::error_code ec;
        fs::remove_all(dir_, ec);
        throw;
    }
}

postgres_process::~postgres_process() {
    try {
        stop();
    } catch (...) {}
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

std::string postgres_process::url() const { return url(options_.database); }

std::string postgres_process::url(std::string const& database) const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

void postgres_process::launch() {
    auto const who = server_user();
    std::vector<std::string> argv = {(bin_dir() / "postgres").string(),
                                     "-D",
                                     (dir_ / "data").string(),
                                     "-p",
                                     std::to_string(port_),
                                     "-k",
                                     dir_.string(),
                                     "-c",
                                     "listen_addresses=127.0.0.1",
                                     "-c",
                                     "shared_buffers=16MB",
                                     "-c",
                                     "max_connections=60",
                                     "-c",
                                     "max_wal_size=256MB",
                                     "-c",
                                     "log_min_messages=warning",
                                     "-c",
                                     "log_min_error_statement=panic"};
    if (!options_.durable) {
        for (char const* s : {"fsync=off", "full_page_writes=off", "synchronous_commit=off"}) {
            argv.push_back("-c");
            argv.push_back(s);
        }
    }
    pid_ = spawn(argv, dir_ / "server.log", who, true);
}

void postgres_process::start() {
    if (pid_ > 0) return;
    launch();
    wait_ready();
}

void postgres_process::wait_ready() {
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
    auto const info =
        "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres connect_timeout=2";
    for (;;) {
        if (PQping(info.c_str()) == PQPING_OK) return;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("postgres exited at start: " + read_file(dir_ / "server.log"));
        }
        if (std::chrono::steady_clock::now() > deadline) {
            stop();
            throw std::runtime_error("postgres did not accept connections in 60 s: " + read_file(dir_ / "server.log"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
}

void postgres_process::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);  // fast shutdown: sessions are terminated (57P01)
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    pid_ = -1;
}

}  // namespace vigil::test
