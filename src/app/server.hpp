#pragma once
// The composition root: the only place that names concrete engines. Builds the
// store, bus, registry, alert service and listener from settings, runs the I/O
// threads and the heartbeat sweep, and shuts down gracefully.
#include "app/embedding.hpp"
#include "config/config.hpp"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace vigil {

class server {
public:
    // Opens the store and binds the port. Throws (config_error, store_error,
    // net::listen_error naming the port) when it cannot.
    explicit server(settings s);
    ~server();  // request_stop() + wait()
    server(server const&) = delete;
    server& operator=(server const&) = delete;

    // Starts the I/O threads. With handle_signals, SIGINT/SIGTERM request a
    // stop and SIGHUP reloads the TLS certificate.
    void start(bool handle_signals = false);

    // Thread-safe, idempotent; returns at once.
    void request_stop();

    // Blocks until a stop is requested, then: refuses new connections, closes
    // live ones with 1001, lets the store finish its queue, joins the threads.
    void wait();

    // Loads the TLS certificate and key again for new connections; on failure
    // logs and keeps the current ones. Thread-safe.
    void reload_tls();

    // Where reload() reads the settings again (vigil serve: the same flags,
    // environment and file, reread). Call before start().
    void set_settings_source(std::function<settings()> reread);

    // What SIGHUP does (with handle_signals): reads the settings again and
    // applies the API keys and the log level, then reload_tls(). Settings that
    // do not load are logged (config.reload_failed) and the current ones kept.
    void reload();

    std::uint16_t port() const;      // the plain listener's; 0 with tls.only
    std::uint16_t tls_port() const;  // 0 without TLS
    vigil::embedding& embedding();
    settings const& config() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace vigil
