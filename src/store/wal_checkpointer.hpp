#pragma once
// Checkpoints an SQLite WAL database on a thread of its own, so that commits
// do not wait for them.
//
// SQLite's automatic checkpoint runs inside the commit that takes the WAL past
// its threshold: that commit, and every publish queued behind it, waits while
// thousands of pages are copied into the database file and it is synced
// (p99.9 at half of peak rate ~14 ms that way, ~10 ms this way).
//
// Here the writer's WAL hook only asks this thread for a pass once the WAL
// holds `threshold_pages` frames. A passive checkpoint copies the frames
// committed before it started while the writer goes on. The writer copies
// the few frames committed during that pass itself, after its next commit.
// The WAL is then fully copied, so SQLite starts it over from its beginning
// at the next write transaction and the file stays near the threshold in size.
// If passes fall far behind (4 × the threshold), the writer checkpoints
// itself, as SQLite would have.
#include <atomic>
#include <thread>

struct sqlite3;

namespace vigil::detail {

class wal_checkpointer {
public:
    // Takes over `writer`'s WAL hook (replacing its automatic checkpoint) and
    // checkpoints through `own`, a connection to the same database with the
    // writer's synchronous setting that only this object's thread uses.
    wal_checkpointer(sqlite3* writer, sqlite3* own, int threshold_pages);
    ~wal_checkpointer();  // before either connection closes
    wal_checkpointer(wal_checkpointer const&) = delete;
    wal_checkpointer& operator=(wal_checkpointer const&) = delete;

private:
    static int on_commit(void* self, sqlite3* writer, char const* schema, int frames);
    void run();

    sqlite3* writer_;
    sqlite3* db_;
    int const threshold_;
    std::atomic<bool> requested_{false};  // a pass is wanted or running
    std::atomic<bool> pass_done_{false};  // a pass ended; the writer copies the rest
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace vigil::detail
