#pragma once

// An SQLite VFS shim that turns a commit's WAL appends into one write.
//
// SQLite writes each WAL frame with two pwrite calls (its 24-byte header,
// then the page), so a commit of ~15 alerts costs ~30 system calls before
// its fdatasync. Through this VFS, contiguous appends to a WAL file gather
// in memory and reach the file as one write when SQLite next syncs, reads,
// sizes, truncates or closes it, or when an append does not follow the last.
//
// Only for synchronous=FULL: there every commit syncs the WAL before it
// publishes the new frames in the wal-index, so no other connection can look
// for a frame that is still buffered. Under NORMAL a commit does not sync,
// and another connection could read a frame before it is written.

namespace vigil::detail {

// Registers the VFS on first use (thread-safe) and returns its name, to pass
// to sqlite3_open_v2. It wraps the default VFS; files other than WALs are the
// default VFS's own.
char const* wal_append_buffer_vfs();

}  // namespace vigil::detail
