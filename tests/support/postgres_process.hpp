#pragma once
// A throwaway PostgreSQL server for a test or a benchmark: its own data
// directory under the temporary directory, its own free TCP port on
// 127.0.0.1 (and its unix socket in that directory), a database made for the
// caller, and everything stopped and removed by the destructor. It can be
// stopped and started again on the same port and data, for outage tests.
//
// The binaries come from $VIGIL_PG_BIN_DIR, else Debian's versioned directory
// (/usr/lib/postgresql/15/bin, else the newest /usr/lib/postgresql/*/bin),
// else pg_config --bindir: Debian's /usr/bin has only wrappers, and
// initdb/postgres are not on PATH there.
//
// PostgreSQL refuses to run as root. When the test runs as root (CI does),
// initdb and the server run as the `postgres` system user that Debian's
// postgresql package creates: the child process drops to its uid and gid
// before it executes them, and the data directory is made over to it.
//
// Start-up is kept short: initdb runs once per machine, version and user into
// a template directory (…/vigil-pg-template-…, made under a file lock, so
// parallel tests make it once) that each server copies; the server runs
// without fsync unless `durable` is asked for.
#include <filesystem>
#include <string>
#include <sys/types.h>

namespace vigil::test {

class postgres_process {
public:
    struct options {
        bool durable = false;  // fsync and full page writes on (benchmarks of durable commits)
        std::string database = "vigil_test";
    };

    // Starts the server and creates the database. Throws std::runtime_error
    // (with the server's log) when it cannot.
    explicit postgres_process(options o);
    postgres_process() : postgres_process(options{}) {}
    ~postgres_process();
    postgres_process(postgres_process const&) = delete;
    postgres_process& operator=(postgres_process const&) = delete;

    // postgresql://postgres@127.0.0.1:PORT/DATABASE (no password: trust).
    std::string url() const;
    std::string url(std::string const& database) const;
    int port() const noexcept { return port_; }

    // A fast shutdown (sessions are cut, as at a restart), waited for.
    void stop();
    // Back on the same port and data; waits until it accepts connections.
    void start();
    bool running() const noexcept { return pid_ > 0; }

    // Whether initdb and postgres were found (else the caller skips).
    static bool available();

    // One server for the whole process, started on first use and stopped at
    // exit, for tests that each work in a schema or database of their own.
    static postgres_process& shared();

private:
    void launch();
    void wait_ready();

    options options_;
    std::filesystem::path dir_;  // holds data/, the socket and the log
    int port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace vigil::test
