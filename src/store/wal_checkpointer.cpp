#include "store/wal_checkpointer.hpp"

#include "common/log.hpp"

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

wal_checkpointer::wal_checkpointer(sqlite3* writer, sqlite3* own, int threshold_pages)
    : writer_(writer), db_(own), threshold_(threshold_pages) {
    sqlite3_wal_hook(writer_, &wal_checkpointer::on_commit, this);
    thread_ = std::thread{[this] { run(); }};
}

wal_checkpointer::~wal_checkpointer() {
    sqlite3_wal_hook(writer_, nullptr, nullptr);
    stopping_ = true;
    requested_ = true;
    requested_.notify_one();
    thread_.join();
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
