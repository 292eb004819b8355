#include "support/command.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef VIGIL_BINARY
#error "VIGIL_BINARY must name the server binary"
#endif

namespace vigil::test {

namespace fs = std::filesystem;

namespace {

std::string read_file(std::string const& path) {
    std::ifstream in{path};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

int spawn(std::vector<std::string> const& args, std::vector<std::string> const& env, std::string const& dir) {
    std::vector<std::string> argv_text = {VIGIL_BINARY};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<std::string> env_copy = env;  // putenv keeps the pointer
    int const pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int const out = open((dir + "/out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int const err = open((dir + "/err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(out, 1);
        dup2(err, 2);
        for (auto& e : env_copy) putenv(e.data());
        std::vector<char*> argv;
        for (auto& a : argv_text) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    return pid;
}

std::string new_dir() {
    std::string pattern = (fs::temp_directory_path() / "vigil-command-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    return pattern;
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace

command_result run_vigil(std::vector<std::string> const& args, std::vector<std::string> const& env,
                         std::chrono::seconds timeout) {
    auto const dir = new_dir();
    int const pid = spawn(args, env, dir);
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    command_result r;
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    r.exit_code = exit_code(status);
    r.out = read_file(dir + "/out");
    r.err = read_file(dir + "/err");
    std::error_code ec;
    fs::remove_all(dir, ec);
    return r;
}

running_command::running_command(std::vector<std::string> const& args, std::vector<std::string> const& env)
    : dir_(new_dir()) {
    pid_ = spawn(args, env, dir_);
}

running_command::~running_command() {
    if (running()) stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

std::string running_command::out() const { return read_file(dir_ + "/out"); }
std::string running_command::err() const { return read_file(dir_ + "/err"); }

bool running_command::wait_for_output(std::string const& needle, std::chrono::milliseconds timeout) const {
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (out().find(needle) != std::string::npos) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    return out().find(needle) != std::string::npos;
}

bool running_command::running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

int running_command::stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    while (waitpid(pid_, &status, WNOHANG) != pid_) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid_, SIGKILL);
            waitpid(pid_, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    pid_ = -1;
    return exit_code(status);
}

}  // namespace vigil::test
