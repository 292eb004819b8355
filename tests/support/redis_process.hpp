#pragma once
// A throwaway redis-server for a test: a free port on 127.0.0.1, a fresh
// directory, no persistence (--save "" --appendonly no). The constructor
// returns once it answers PING; the destructor kills it and removes the
// directory. It can be stopped, killed, paused and started again on the same
// port, to test outages.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace vigil::test {

class redis_process {
public:
    // `extra_args` are appended to redis-server's command line (e.g.
    // {"--requirepass", "pw"}: command() then logs in with it).
    explicit redis_process(std::vector<std::string> extra_args = {});
    ~redis_process();
    redis_process(redis_process const&) = delete;
    redis_process& operator=(redis_process const&) = delete;

    std::uint16_t port() const { return port_; }
    // redis://127.0.0.1:PORT (with /db when db != 0).
    std::string url(int db = 0) const;

    // SIGKILL, as a crash: every connection drops at once.
    void kill();
    // SIGTERM and wait.
    void stop();
    // Starts it again on the same port (after kill or stop); waits for PING.
    void start();
    // SIGSTOP / SIGCONT: the server stops answering but keeps its connections.
    void pause();
    void resume();
    bool running();

    // One command over a fresh blocking connection. Returns the reply as
    // text (an integer in decimal; an array's elements joined by '\n');
    // throws std::runtime_error for an error reply or no connection.
    std::string command(std::vector<std::string> const& args) const;

    std::string log() const;

private:
    void launch();
    bool answers_ping() const;

    std::vector<std::string> extra_args_;
    std::string password_;
    std::string dir_;
    std::uint16_t port_ = 0;
    int pid_ = -1;
};

// A TCP port nothing listens on right now.
std::uint16_t free_port();

}  // namespace vigil::test
