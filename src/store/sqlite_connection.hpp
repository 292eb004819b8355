#pragma once
// One SQLite connection with its prepared statements, cached by SQL text, and
// the RAII helpers the SQLite engine (store/sqlite_alert_store.hpp) works
// through: a statement that resets itself when it goes, and a transaction
// that rolls back unless committed. Errors throw store_error with SQLite's
// message. A connection is used by one thread at a time (opened NOMUTEX).
#include "store/alert_store.hpp"

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vigil::detail {

// Before SQLite's first use in the process (the store calls it before it
// finds its VFS or opens a connection): without allocation statistics,
// sqlite3_malloc takes no global mutex (a few % of a batch publish's CPU).
// Refused (and harmless) if SQLite is already up.
void configure_sqlite_once();

class sqlite_connection {
public:
    class statement {
    public:
        statement(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
        ~statement() { sqlite3_reset(s_), sqlite3_clear_bindings(s_); }
        statement(statement const&) = delete;
        statement& operator=(statement const&) = delete;

        // Text and blobs are bound without a copy (SQLITE_STATIC): what they
        // view must outlive the statement's use, so temporary strings are refused.
        statement& bind(int i, std::string_view v) {
            check(sqlite3_bind_text(s_, i, v.data(), int(v.size()), SQLITE_STATIC));
            return *this;
        }
        statement& bind(int i, std::string&&) = delete;
        statement& bind_blob(int i, std::string_view v) {
            check(sqlite3_bind_blob(s_, i, v.data(), int(v.size()), SQLITE_STATIC));
            return *this;
        }
        statement& bind_blob(int i, std::string&&) = delete;
        statement& bind(int i, std::int64_t v) {
            check(sqlite3_bind_int64(s_, i, v));
            return *this;
        }
        statement& bind_null(int i) {
            check(sqlite3_bind_null(s_, i));
            return *this;
        }
        // True while a row is available.
        bool step() {
            int const rc = sqlite3_step(s_);
            if (rc == SQLITE_ROW) return true;
            if (rc == SQLITE_DONE) return false;
            throw store_error(std::string{"sqlite: "} + sqlite3_errmsg(db_));
        }
        std::int64_t integer(int col) const { return sqlite3_column_int64(s_, col); }
        bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
        std::string text(int col) const {
            auto const* p = reinterpret_cast<char const*>(sqlite3_column_text(s_, col));
            return p ? std::string{p, std::size_t(sqlite3_column_bytes(s_, col))} : std::string{};
        }
        std::string blob(int col) const {
            auto const* p = static_cast<char const*>(sqlite3_column_blob(s_, col));
            return p ? std::string{p, std::size_t(sqlite3_column_bytes(s_, col))} : std::string{};
        }

    private:
        void check(int rc) {
            if (rc != SQLITE_OK) throw store_error(std::string{"sqlite bind: "} + sqlite3_errmsg(db_));
        }
        sqlite3* db_;
        sqlite3_stmt* s_;
    };

    // Opens (creating) the database at `path`, read-write. vfs: nullptr for
    // SQLite's default. Throws store_error.
    sqlite_connection(std::string const& path, char const* vfs);
    ~sqlite_connection();
    sqlite_connection(sqlite_connection const&) = delete;
    sqlite_connection& operator=(sqlite_connection const&) = delete;

    // Runs one or more statements that return no rows.
    void exec(char const* sql);

    // SQL written in the source: cached by the text's address, so a hot
    // statement costs no hashing or comparing of its text. The constructor
    // takes only constant arrays (string literals), whose address is theirs
    // alone for the life of the process.
    class literal {
    public:
        template <std::size_t N>
        consteval literal(char const (&text)[N]) : text_(text) {}
        char const* text() const { return text_; }

    private:
        char const* text_;
    };
    statement prepare(literal sql) {
        for (auto const& [text, s] : by_address_)
            if (text == sql.text()) return statement{db_, s};
        by_address_.emplace_back(sql.text(), compile(sql.text()));
        return statement{db_, by_address_.back().second};
    }

    // SQL put together at run time: cached by its text.
    statement prepare_built(std::string const& sql);

    int changes() const { return sqlite3_changes(db_); }
    sqlite3* handle() const { return db_; }

private:
    sqlite3_stmt* compile(std::string_view sql);

    sqlite3* db_ = nullptr;
    std::vector<std::pair<char const*, sqlite3_stmt*>> by_address_;  // a dozen or so
    std::unordered_map<std::string, sqlite3_stmt*> by_text_;
};

// BEGIN on construction, ROLLBACK unless commit() was called.
class transaction {
public:
    explicit transaction(sqlite_connection& c) : c_(c) { c_.prepare("BEGIN IMMEDIATE").step(); }
    ~transaction() {
        if (!done_) try {
                c_.exec("ROLLBACK");
            } catch (...) {}
    }
    void commit() {
        c_.prepare("COMMIT").step();
        done_ = true;
    }

private:
    sqlite_connection& c_;
    bool done_ = false;
};

}  // namespace vigil::detail
