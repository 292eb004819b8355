#pragma once
// Runs the `vigil` binary's other commands (publish, listen, token,
// example-config) as a user would, with their output kept for assertions.
#include <chrono>
#include <string>
#include <vector>

namespace vigil::test {

struct command_result {
    int exit_code = -1;
    std::string out;  // stdout
    std::string err;  // stderr
};

// `vigil ARGS...` with `env` ("NAME=value") added to the environment; killed
// after `timeout`.
command_result run_vigil(std::vector<std::string> const& args, std::vector<std::string> const& env = {},
                         std::chrono::seconds timeout = std::chrono::seconds{30});

// A command left running (vigil listen) until stop().
class running_command {
public:
    running_command(std::vector<std::string> const& args, std::vector<std::string> const& env = {});
    ~running_command();
    running_command(running_command const&) = delete;
    running_command& operator=(running_command const&) = delete;

    std::string out() const;
    std::string err() const;
    // Polls stdout until it holds `needle` (true) or `timeout` passes.
    bool wait_for_output(std::string const& needle, std::chrono::milliseconds timeout = std::chrono::seconds{15}) const;
    bool running();
    // SIGTERM and wait; the exit code (or 128 + signal).
    int stop();

private:
    int pid_ = -1;
    std::string dir_;
};

}  // namespace vigil::test
