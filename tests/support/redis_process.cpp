#include "support/redis_process.hpp"

#include <hiredis/hiredis.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef VIGIL_REDIS_SERVER
#error "VIGIL_REDIS_SERVER must name the redis-server binary"
#endif

namespace vigil::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::uint16_t free_port() {
    int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        if (fd >= 0) ::close(fd);
        throw std::runtime_error("no free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

redis_process::redis_process(std::vector<std::string> extra_args) : extra_args_(std::move(extra_args)) {
    for (std::size_t i = 0; i + 1 < extra_args_.size(); ++i)
        if (extra_args_[i] == "--requirepass") password_ = extra_args_[i + 1];
    std::string pattern = (fs::temp_directory_path() / "vigil-test-redis-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    // Another test may take the port between free_port() and the bind.
    for (int attempt = 0;; ++attempt) {
        port_ = free_port();
        try {
            launch();
            return;
        } catch (std::exception const&) {
            if (attempt == 4) throw;
        }
    }
}

redis_process::~redis_process() {
    kill();
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

std::string redis_process::url(int db) const {
    std::string out = "redis://127.0.0.1:" + std::to_string(port_);
    if (db != 0) out += "/" + std::to_string(db);
    return out;
}

void redis_process::launch() {
    std::vector<std::string> args = {VIGIL_REDIS_SERVER,
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     dir_,
                                     "--logfile",
                                     dir_ + "/redis.log",
                                     "--daemonize",
                                     "no"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // Only async-signal-safe calls in the child: the test may have threads.
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test must not leave servers behind
        int const devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        execv(argv[0], argv.data());
        _exit(127);
    }
    auto const deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (answers_ping()) return;
        if (!running()) throw std::runtime_error("redis-server exited at startup:\n" + log());
        std::this_thread::sleep_for(20ms);
    }
    kill();
    throw std::runtime_error("redis-server did not answer PING:\n" + log());
}

bool redis_process::answers_ping() const {
    try {
        return command({"PING"}) == "PONG";
    } catch (std::exception const&) {
        return false;
    }
}

bool redis_process::running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

void redis_process::kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
}

void redis_process::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);  // in case it was paused
    ::kill(pid_, SIGTERM);
    auto const deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!running()) return;
        std::this_thread::sleep_for(10ms);
    }
    kill();
}

void redis_process::start() {
    if (running()) return;
    launch();
}

void redis_process::pause() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void redis_process::resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
}

std::string redis_process::command(std::vector<std::string> const& args) const {
    timeval const timeout{2, 0};
    std::unique_ptr<redisContext, decltype(&redisFree)> c{redisConnectWithTimeout("127.0.0.1", port_, timeout),
                                                          &redisFree};
    if (!c || c->err) throw std::runtime_error("cannot connect to redis-server: " + std::string(c ? c->errstr : "?"));
    redisSetTimeout(c.get(), timeout);
    if (!password_.empty()) {
        auto* auth = static_cast<redisReply*>(redisCommand(c.get(), "AUTH %b", password_.data(), password_.size()));
        if (!auth) throw std::runtime_error("no reply from redis-server: " + std::string(c->errstr));
        freeReplyObject(auth);
    }
    std::vector<char const*> argv;
    std::vector<std::size_t> lens;
    for (auto const& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(redisCommandArgv(c.get(), int(args.size()), argv.data(), lens.data()));
    if (!r) throw std::runtime_error("no reply from redis-server: " + std::string(c->errstr));
    std::unique_ptr<redisReply, decltype(&freeReplyObject)> reply{r, &freeReplyObject};
    auto text = [](redisReply const* e) -> std::string {
        switch (e->type) {
            case REDIS_REPLY_INTEGER: return std::to_string(e->integer);
            case REDIS_REPLY_NIL: return {};
            default: return e->str ? std::string(e->str, e->len) : std::string{};
        }
    };
    if (r->type == REDIS_REPLY_ERROR) throw std::runtime_error("redis-server: " + text(r));
    if (r->type != REDIS_REPLY_ARRAY) return text(r);
    std::string out;
    for (std::size_t i = 0; i < r->elements; ++i) {
        if (i) out += '\n';
        out += text(r->element[i]);
    }
    return out;
}

std::string redis_process::log() const {
    std::ifstream in{dir_ + "/redis.log"};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace vigil::test
