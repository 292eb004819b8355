#include "store/sqlite_connection.hpp"

namespace vigil::detail {

void configure_sqlite_once() {
    static bool const configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
    (void)configured;
}

sqlite_connection::sqlite_connection(std::string const& path, char const* vfs) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs) !=
        SQLITE_OK) {
        std::string const why = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        throw store_error("cannot open " + path + ": " + why);
    }
    sqlite3_busy_timeout(db_, 5000);
    sqlite3_extended_result_codes(db_, 1);
}

sqlite_connection::~sqlite_connection() {
    for (auto& [sql, s] : by_address_) sqlite3_finalize(s);
    for (auto& [sql, s] : by_text_) sqlite3_finalize(s);
    sqlite3_close(db_);
}

void sqlite_connection::exec(char const* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string const why = err ? err : sqlite3_errmsg(db_);
        sqlite3_free(err);
        throw store_error(std::string{"sqlite: "} + why);
    }
}

sqlite_connection::statement sqlite_connection::prepare_built(std::string const& sql) {
    auto it = by_text_.find(sql);
    if (it == by_text_.end()) it = by_text_.emplace(sql, compile(sql)).first;
    return statement{db_, it->second};
}

sqlite3_stmt* sqlite_connection::compile(std::string_view sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), int(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
        throw store_error(std::string{"sqlite prepare: "} + sqlite3_errmsg(db_));
    return s;
}

}  // namespace vigil::detail
