#pragma once
// user_id -> the user's one live connection, on this node.
//
// The registry never owns a session: it keeps weak_ptrs, copies what it needs
// under the lock and calls subscribers outside it, so a session's lifetime is
// decided by its pending I/O alone. Sharded by user to keep lock hold times
// short under many threads.
#include "hub/subscriber.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace vigil {

class connection_registry {
public:
    // Makes `s` the user's connection. A connection it replaces is closed with
    // 4001 "replaced by a newer connection". Thread-safe.
    void attach(std::shared_ptr<subscriber> const& s);

    // Forgets `s` if it is still the user's connection (a replaced one is not).
    // A subscriber's destructor must call this first (see tick_shard).
    void detach(subscriber const* s);

    // Closes the user's connection here with `code` when `should(its stats)`
    // (checked outside the registry's lock). Thread-safe.
    void close_if(std::string const& user_id, std::uint16_t code, std::string_view reason,
                  std::function<bool(connection_stats const&)> const& should);

    // Queues the message to the user's connection; false when none is live here.
    bool deliver(std::string const& user_id, sequenced_message const& message);

    std::optional<connection_stats> stats(std::string const& user_id) const;
    bool connected(std::string const& user_id) const;
    std::vector<connection_stats> all_stats() const;
    std::size_t size() const;

    // The heartbeat sweep's pass over one shard (0 <= shard < shard_count; it
    // visits a few per tick to spread its work): on_tick(now) for each
    // connection whose tick_due(now), asked under the lock. Small shards (~75
    // connections at 19k) let the sweep send its pings in small groups.
    static constexpr std::size_t shard_count = 256;
    void tick_shard(std::size_t shard, std::int64_t now_ms) const;

    // Closes every connection with this code (graceful shutdown: 1001), and
    // any attached from now on: a connection whose attach was still queued
    // must not outlive the shutdown.
    void close_all(std::uint16_t code, std::string_view reason);

private:
    // `raw` is valid while the entry is in the map: a subscriber's destructor
    // detaches it under the shard's lock before anything is destroyed.
    struct entry {
        subscriber* raw = nullptr;
        std::weak_ptr<subscriber> weak;
    };
    struct shard {
        mutable std::mutex mutex;
        std::unordered_map<std::string, entry> users;
    };
    shard& shard_for(std::string const& user_id) const;
    std::vector<std::shared_ptr<subscriber>> snapshot() const;

    std::atomic<bool> closing_{false};
    std::uint16_t closing_code_ = 0;
    std::string closing_reason_;  // written once, before closing_ is set

    mutable std::array<shard, shard_count> shards_;
};

}  // namespace vigil
