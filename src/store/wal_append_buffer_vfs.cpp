#include "store/wal_append_buffer_vfs.hpp"

#include <sqlite3.h>

#include <cstddef>
#include <cstring>
#include <new>
#include <stdexcept>
#include <vector>

namespace vigil::detail {

namespace {

// A commit of single alerts is ~16 frames of 4 KiB + 24 B; larger ones are
// written in pieces of at most this size. The unix VFS writes at most 128 KiB
// - 1 per call (seekAndWriteFd masks the length with 0x1ffff), and a length
// that is a multiple of 128 KiB would be taken for a full disk.
constexpr std::size_t max_buffered = 120 * 1024;

sqlite3_vfs* base_vfs = nullptr;

// Our file object: these fields, then the default VFS's file object.
struct wal_file {
    sqlite3_file base;             // pMethods: buffering_methods
    sqlite3_file* real;            // the default VFS's file, right after us
    std::vector<char>* pending;    // appends not yet written
    sqlite3_int64 pending_offset;  // where pending[0] goes in the file
};

constexpr std::size_t real_offset = (sizeof(wal_file) + 15) & ~std::size_t{15};

wal_file* self(sqlite3_file* f) { return reinterpret_cast<wal_file*>(f); }
sqlite3_io_methods const* real_methods(wal_file* w) { return w->real->pMethods; }

int flush(wal_file* w) {
    if (w->pending->empty()) return SQLITE_OK;
    int const rc = real_methods(w)->xWrite(w->real, w->pending->data(), int(w->pending->size()), w->pending_offset);
    w->pending->clear();
    return rc;
}

int x_close(sqlite3_file* f) {
    auto* w = self(f);
    int const rc = flush(w);
    int const close_rc = real_methods(w)->xClose(w->real);
    delete w->pending;
    w->pending = nullptr;
    return rc != SQLITE_OK ? rc : close_rc;
}

int x_write(sqlite3_file* f, void const* data, int amount, sqlite3_int64 offset) {
    auto* w = self(f);
    auto& pending = *w->pending;
    bool const follows = !pending.empty() && offset == w->pending_offset + sqlite3_int64(pending.size()) &&
                         pending.size() + std::size_t(amount) <= max_buffered;
    if (!follows) {
        if (int rc = flush(w); rc != SQLITE_OK) return rc;
        if (std::size_t(amount) > max_buffered) return real_methods(w)->xWrite(w->real, data, amount, offset);
        w->pending_offset = offset;
    }
    try {
        auto const* bytes = static_cast<char const*>(data);
        pending.insert(pending.end(), bytes, bytes + amount);
    } catch (std::bad_alloc const&) {
        return SQLITE_IOERR_NOMEM;
    }
    return SQLITE_OK;
}

// Everything else sees the file as written: pending appends go first.
int x_read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
    auto* w = self(f);
    if (int rc = flush(w); rc != SQLITE_OK) return rc;
    return real_methods(w)->xRead(w->real, out, amount, offset);
}
int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
    auto* w = self(f);
    if (int rc = flush(w); rc != SQLITE_OK) return rc;
    return real_methods(w)->xTruncate(w->real, size);
}
int x_sync(sqlite3_file* f, int flags) {
    auto* w = self(f);
    if (int rc = flush(w); rc != SQLITE_OK) return rc;
    return real_methods(w)->xSync(w->real, flags);
}
int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
    auto* w = self(f);
    if (int rc = flush(w); rc != SQLITE_OK) return rc;
    return real_methods(w)->xFileSize(w->real, size);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
    auto* w = self(f);
    if (int rc = flush(w); rc != SQLITE_OK) return rc;
    return real_methods(w)->xFileControl(w->real, op, arg);
}
int x_lock(sqlite3_file* f, int level) { return real_methods(self(f))->xLock(self(f)->real, level); }
int x_unlock(sqlite3_file* f, int level) { return real_methods(self(f))->xUnlock(self(f)->real, level); }
int x_check_reserved_lock(sqlite3_file* f, int* out) {
    return real_methods(self(f))->xCheckReservedLock(self(f)->real, out);
}
int x_sector_size(sqlite3_file* f) { return real_methods(self(f))->xSectorSize(self(f)->real); }
int x_device_characteristics(sqlite3_file* f) { return real_methods(self(f))->xDeviceCharacteristics(self(f)->real); }

// Version 1: a WAL file is never memory-mapped and has no wal-index of its own.
sqlite3_io_methods const buffering_methods = {
    1,
    x_close,
    x_read,
    x_write,
    x_truncate,
    x_sync,
    x_file_size,
    x_lock,
    x_unlock,
    x_check_reserved_lock,
    x_file_control,
    x_sector_size,
    x_device_characteristics,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
    // Other files are the default VFS's, in the first bytes of our larger object.
    if (!(flags & SQLITE_OPEN_WAL)) return base_vfs->xOpen(base_vfs, name, f, flags, out_flags);

    auto* w = self(f);
    std::memset(w, 0, sizeof(wal_file));
    w->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + real_offset);
    int const rc = base_vfs->xOpen(base_vfs, name, w->real, flags, out_flags);
    if (rc != SQLITE_OK) return rc;  // the real file's xOpen left nothing to close
    w->pending = new (std::nothrow) std::vector<char>;
    if (!w->pending) {
        w->real->pMethods->xClose(w->real);
        return SQLITE_NOMEM;
    }
    w->base.pMethods = &buffering_methods;
    return SQLITE_OK;
}

sqlite3_vfs make_vfs() {
    base_vfs = sqlite3_vfs_find(nullptr);
    if (!base_vfs) throw std::runtime_error("sqlite: no default VFS");
    sqlite3_vfs v = *base_vfs;  // every other method is the default VFS's
    v.zName = "vigil-wal-append-buffer";
    v.szOsFile = int(real_offset) + base_vfs->szOsFile;
    v.pNext = nullptr;
    v.xOpen = x_open;
    return v;
}

}  // namespace

char const* wal_append_buffer_vfs() {
    static sqlite3_vfs vfs = make_vfs();
    static int const registered = sqlite3_vfs_register(&vfs, 0);
    if (registered != SQLITE_OK) throw std::runtime_error("sqlite: cannot register the WAL VFS");
    return vfs.zName;
}

}  // namespace vigil::detail
