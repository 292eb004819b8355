#pragma once
// A bounded pool of PostgreSQL connections shared by the threads of one
// store. A connection is handed to one thread at a time; one found unusable
// when handed out (the server restarted, or a call on it failed or timed
// out) is closed and replaced by a new one, so the pool outlives restarts of
// the server without being told. Connections are opened on demand, up to
// the pool's size; a caller waits for one to come free until its deadline.
#include "store/pg_connection.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vigil::pg {

struct pool_settings {
    std::string conninfo;  // a postgresql:// URL or key=value string
    std::size_t size = 4;
    settings session;  // applied to every new connection
};

class pool {
public:
    explicit pool(pool_settings options);
    ~pool();
    pool(pool const&) = delete;
    pool& operator=(pool const&) = delete;

    // A connection for the holder's use until it goes out of scope. One that
    // failed (error::connection_lost) is closed instead of returned.
    class lease {
    public:
        lease(pool& p, std::unique_ptr<connection> c) : pool_(&p), c_(std::move(c)) {}
        lease(lease&& o) noexcept = default;
        lease& operator=(lease&&) = delete;
        ~lease();
        connection& operator*() const noexcept { return *c_; }
        connection* operator->() const noexcept { return c_.get(); }
        // Closes it rather than handing it out again.
        void discard() noexcept;

    private:
        pool* pool_;
        std::unique_ptr<connection> c_;
    };

    // An idle usable connection, or a new one while there are fewer than the
    // pool's size, else the first to come free. Throws error (connecting
    // failed) or store_error (none came free before the deadline).
    lease acquire(clock::time_point deadline);

    // Connections open now (idle and in use).
    std::size_t open() const;
    std::string const& redacted_conninfo() const noexcept { return redacted_; }

private:
    void give_back(std::unique_ptr<connection> c) noexcept;

    pool_settings options_;
    std::string redacted_;
    mutable std::mutex mutex_;
    std::condition_variable freed_;
    std::vector<std::unique_ptr<connection>> idle_;
    std::size_t open_ = 0;  // idle_ and leased
};

}  // namespace vigil::pg
