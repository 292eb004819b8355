#include "support/server_process.hpp"

#include "auth/token_minter.hpp"
#include "common/clock.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef VIGIL_BINARY
#error "VIGIL_BINARY must name the server binary"
#endif

namespace vigil::test {

namespace fs = std::filesystem;

namespace {

std::string temp_dir(std::string const& prefix) {
    std::string pattern = (fs::temp_directory_path() / (prefix + "XXXXXX")).string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    return pattern;
}

}  // namespace

server_process::server_process(std::vector<std::string> extra_args, std::string data_dir, std::vector<std::string> env,
                               std::uint16_t port, long max_open_files) {
    if (data_dir.empty()) {
        data_dir_ = temp_dir("vigil-test-data-");
        owns_data_dir_ = true;
    } else {
        data_dir_ = data_dir;
    }
    log_path_ = temp_dir("vigil-test-log-") + "/server.log";

    std::vector<std::string> args = {VIGIL_BINARY, "serve"};
    std::vector<std::pair<std::string, std::string>> const defaults = {
        {"--host", "127.0.0.1"},  {"--port", std::to_string(port)}, {"--data-dir", data_dir_},
        {"--ping-interval", "1"}, {"--heartbeat-timeout", "3"},     {"--threads", "2"}};
    for (auto const& [flag, value] : defaults) {
        if (std::find(extra_args.begin(), extra_args.end(), flag) != extra_args.end()) continue;  // the test's wins
        args.push_back(flag);
        args.push_back(value);
    }
    args.insert(args.end(), extra_args.begin(), extra_args.end());

    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test must not leave servers behind
        int const fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        dup2(fd, 1);
        setenv("VIGIL_JWT_SECRET", test_secret, 1);
        if (max_open_files > 0) {
            rlimit const lim{rlim_t(max_open_files), rlim_t(max_open_files)};
            setrlimit(RLIMIT_NOFILE, &lim);
        }
        for (auto const& e : env) putenv(const_cast<char*>(e.c_str()));
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    std::regex const listening{R"("event":"server\.listening".*"port":(\d+),"tls_port":(\d+))"};
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{20};
    while (std::chrono::steady_clock::now() < deadline) {
        std::smatch m;
        auto const text = log();
        if (std::regex_search(text, m, listening)) {
            port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
            tls_port_ = static_cast<std::uint16_t>(std::stoi(m[2]));
            return;
        }
        if (!running()) throw std::runtime_error("vigil exited at startup:\n" + text);
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    kill_hard();
    throw std::runtime_error("vigil did not start listening:\n" + log());
}

server_process::~server_process() {
    if (running()) stop();
    std::error_code ec;
    if (owns_data_dir_) fs::remove_all(data_dir_, ec);
    fs::remove_all(fs::path{log_path_}.parent_path(), ec);
}

bool server_process::running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

int server_process::stop(std::chrono::seconds timeout) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    kill_hard();
    return -1;
}

void server_process::kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
}

std::string server_process::log() const {
    std::ifstream in{log_path_};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

long server_process::rss_kib() const {
    std::ifstream in{"/proc/" + std::to_string(pid_) + "/status"};
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

std::string token_for(std::string const& user, std::string const& role, long ttl_seconds) {
    return auth::mint_hs256(test_secret, user, role, ttl_seconds, now_ms() / 1000);
}

std::string token_signed_with(std::string const& secret, std::string const& user) {
    return auth::mint_hs256(secret, user, {}, 3600, now_ms() / 1000);
}

}  // namespace vigil::test
