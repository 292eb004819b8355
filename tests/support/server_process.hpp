#pragma once
// Runs the real `vigil` binary for a test: a free port (--port 0, read back
// from the server.listening log line), a fresh data directory, short
// heartbeat intervals, and its log kept for assertions.
#include <chrono>
#include <string>
#include <vector>

namespace vigil::test {

inline constexpr char const* test_secret = "test-secret-0123456789abcdef0123456789";

class server_process {
public:
    // Extra flags replace the defaults (--ping-interval 1 --heartbeat-timeout 3 ...).
    // `data_dir` empty: a new temporary one, removed at the end.
    // `max_open_files` > 0 lowers the server's RLIMIT_NOFILE (descriptor exhaustion tests).
    explicit server_process(std::vector<std::string> extra_args = {}, std::string data_dir = {},
                            std::vector<std::string> env = {}, std::uint16_t port = 0, long max_open_files = 0);
    ~server_process();
    server_process(server_process const&) = delete;
    server_process& operator=(server_process const&) = delete;

    std::uint16_t port() const { return port_; }          // 0 with --tls-only
    std::uint16_t tls_port() const { return tls_port_; }  // 0 without TLS
    std::string const& data_dir() const { return data_dir_; }
    int pid() const { return pid_; }

    // SIGTERM and wait; returns the exit status.
    int stop(std::chrono::seconds timeout = std::chrono::seconds{15});
    // SIGKILL and wait: a crash, as far as the store can tell.
    void kill_hard();
    bool running();

    // Everything the server logged so far.
    std::string log() const;
    // Resident set size in KiB, from /proc.
    long rss_kib() const;

private:
    int pid_ = -1;
    std::uint16_t port_ = 0;
    std::uint16_t tls_port_ = 0;
    std::string data_dir_;
    bool owns_data_dir_ = false;
    std::string log_path_;
};

// A token signed with test_secret.
std::string token_for(std::string const& user, std::string const& role = {}, long ttl_seconds = 3600);
std::string token_signed_with(std::string const& secret, std::string const& user);

}  // namespace vigil::test
