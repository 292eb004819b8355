// The WAL append buffer must be invisible: whatever a commit wrote through it
// is in the files when the commit returns, as another connection on SQLite's
// own VFS sees it, however large the commit and whether or not SQLite read
// back frames it had just written.
#include "store/wal_append_buffer_vfs.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

namespace {

struct db {
    sqlite3* handle = nullptr;
    db(std::string const& path, char const* vfs) {
        EXPECT_EQ(sqlite3_open_v2(path.c_str(), &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
    }
    ~db() { sqlite3_close(handle); }
    void exec(std::string const& sql) {
        char* err = nullptr;
        int const rc = sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, &err);
        ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
    }
    std::string text(std::string const& sql) {
        sqlite3_stmt* s = nullptr;
        EXPECT_EQ(sqlite3_prepare_v2(handle, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(handle);
        std::string out;
        if (sqlite3_step(s) == SQLITE_ROW) out = reinterpret_cast<char const*>(sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
        return out;
    }
};

class WalAppendBufferVfs : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ =
            std::filesystem::temp_directory_path() / ("vigil-walvfs-" + std::to_string(::getpid()) + "-" +
                                                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
        path_ = (dir_ / "t.db").string();
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    // Rows whose content a reader can recompute: n, and n's digits repeated to `size` bytes.
    static std::string row_sql(int first, int count, int size) {
        return "WITH RECURSIVE n(i) AS (SELECT " + std::to_string(first) + " UNION ALL SELECT i + 1 FROM n WHERE i < " +
               std::to_string(first + count - 1) + ") INSERT INTO t SELECT i, substr(replace(hex(zeroblob(" +
               std::to_string(size) + ")), '00', i || ','), 1, " + std::to_string(size) + ") FROM n";
    }
    static constexpr char const* check_sql =
        "SELECT count(*) || ' ' || sum(length(v)) || ' ' || "
        "sum(v = substr(replace(hex(zeroblob(length(v))), '00', k || ','), 1, length(v))) FROM t";

    std::filesystem::path dir_;
    std::string path_;
};

TEST_F(WalAppendBufferVfs, CommitsAreInTheFilesWhenTheyReturn) {
    db writer{path_, vigil::detail::wal_append_buffer_vfs()};
    writer.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
    // Small commits (a frame or two, buffered whole) and one of ~3 MiB
    // (written in pieces), all before the writer closes and checkpoints.
    for (int i = 0; i < 50; ++i) writer.exec(row_sql(i * 10 + 1, 10, 300));
    writer.exec(row_sql(501, 3000, 1000));

    db reader{path_, nullptr};  // SQLite's own VFS, its own file descriptors
    EXPECT_EQ(reader.text(check_sql), "3500 3150000 3500");
    EXPECT_EQ(reader.text("PRAGMA integrity_check"), "ok");
    EXPECT_GT(std::filesystem::file_size(path_ + "-wal"), 3'000'000u);  // still in the WAL, not checkpointed
}

TEST_F(WalAppendBufferVfs, FramesSpilledMidTransactionReadBack) {
    db writer{path_, vigil::detail::wal_append_buffer_vfs()};
    // A 16-page cache makes SQLite spill dirty pages into the WAL in the middle
    // of the transaction and read them back from there as it goes on.
    writer.exec(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=16;"
        "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t (v)");
    writer.exec("BEGIN");
    for (int i = 0; i < 20; ++i) writer.exec(row_sql(i * 100 + 1, 100, 500));
    writer.exec("UPDATE t SET v = substr(replace(hex(zeroblob(500)), '00', k || ','), 1, 500) WHERE k % 7 = 0");
    writer.exec("COMMIT");
    EXPECT_EQ(writer.text(check_sql), "2000 1000000 2000");

    db reader{path_, nullptr};
    EXPECT_EQ(reader.text(check_sql), "2000 1000000 2000");
    EXPECT_EQ(reader.text("PRAGMA integrity_check"), "ok");
}

TEST_F(WalAppendBufferVfs, CheckpointsAndWalRestartsKeepEverything) {
    {
        db writer{path_, vigil::detail::wal_append_buffer_vfs()};
        writer.exec(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=50;"
            "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
        // Automatic checkpoints every ~50 pages; a full one rewinds the WAL,
        // and the next commit writes from its start again.
        for (int i = 0; i < 40; ++i) {
            writer.exec(row_sql(i * 25 + 1, 25, 800));
            if (i % 10 == 9) writer.exec("PRAGMA wal_checkpoint(RESTART)");
        }
    }  // closing the last connection checkpoints and removes the WAL
    db reader{path_, nullptr};
    EXPECT_EQ(reader.text(check_sql), "1000 800000 1000");
    EXPECT_EQ(reader.text("PRAGMA integrity_check"), "ok");
}

}  // namespace
