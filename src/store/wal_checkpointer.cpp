#include "store/wal_checkpointer.hpp"

#include "common/log.hpp"
#include "store/alert_store.hpp"

#include <sqlite3.h>

namespace vigil::detail {

namespace {
// Past this many times the threshold, passes are not keeping up (a long read
// holding frames back, a slow disk): the writer checkpoints after its commit.
constexpr int writer_takes_over = 4;

void checkpoint(sqlite3* db, char const* who) {
    int const rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    // SQLITE_BUSY: the other side is checkpointing; its pass does the work.
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        log::warn("store.checkpoint_failed", {{"by", who}, {"error", sqlite3_errstr(rc)}});
}
}  // namespace

wal_checkpointer::wal_checkpointer(sqlite3* writer, std::string const& path, char const* vfs,
                                   bool synchronous_full, int threshold_pages)
    : writer_(writer), threshold_(threshold_pages) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs) != SQLITE_OK) {
        std::string const why = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        throw store_error("cannot open " + path + " to checkpoint it: " + why);
    }
    // The checkpoint syncs the database file after copying into it, as the
    // writer's own would (and under NORMAL syncs the WAL before reading it).
    char const* const sync = synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
    if (sqlite3_exec(db_, sync, nullptr, nullptr, nullptr) != SQLITE_OK) {
        std::string const why = sqlite3_errmsg(db_);
        sqlite3_close(db_);
        throw store_error("cannot set up the checkpoint connection: " + why);
    }
    sqlite3_wal_hook(writer_, &wal_checkpointer::on_commit, this);
    thread_ = std::thread{[this] { run(); }};
}

wal_checkpointer::~wal_checkpointer() {
    sqlite3_wal_hook(writer_, nullptr, nullptr);
    stopping_ = true;
    requested_ = true;
    requested_.notify_one();
    thread_.join();
    sqlite3_close(db_);
}

// On the writer's thread, after each commit, with the WAL's frame count.
int wal_checkpointer::on_commit(void* p, sqlite3* writer, char const*, int frames) {
    auto& self = *static_cast<wal_checkpointer*>(p);
    if (frames < self.threshold_) return SQLITE_OK;
    // After a pass, copy what was committed during it: few pages, and then
    // the next write transaction starts the WAL over.
    if (self.pass_done_.exchange(false) || frames >= writer_takes_over * self.threshold_) {
        checkpoint(writer, "writer");
    } else if (!self.requested_.exchange(true)) {
        self.requested_.notify_one();
    }
    return SQLITE_OK;
}

void wal_checkpointer::run() {
    for (;;) {
        requested_.wait(false);
        if (stopping_) return;
        checkpoint(db_, "checkpointer");
        requested_ = false;
        pass_done_ = true;
        // After the reset: a stop that came during the pass set requested_
        // too, and the reset above has just undone that wake-up.
        if (stopping_) return;
    }
}

}  // namespace vigil::detail
