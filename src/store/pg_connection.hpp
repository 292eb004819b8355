#pragma once
// One libpq connection to PostgreSQL, used by one thread at a time (the pool,
// store/pg_pool.hpp, hands it out), with a deadline on everything it does:
// it never waits for the server past the deadline it is given.
//
// Statements are prepared once per connection, the first time they run on
// it, and run in pipeline mode: a call sends all of its statements and one
// Sync together and then reads every answer, so a write of a whole batch is
// one round trip. Statements between two Syncs form one implicit transaction
// (PostgreSQL's extended protocol): either all of them commit at the Sync, or
// none does.
//
// Failures throw pg_error, which says whether the connection is lost (the
// pool must not hand it out again) and whether the work may have been
// applied (a commit whose answer never came).
#include "store/alert_store.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct pg_conn;
struct pg_result;

namespace vigil::pg {

using clock = std::chrono::steady_clock;

struct error : store_error {
    error(std::string const& message, std::string sqlstate, bool connection_lost, bool maybe_applied)
        : store_error(message),
          sqlstate(std::move(sqlstate)),
          connection_lost(connection_lost),
          maybe_applied(maybe_applied) {}
    std::string sqlstate;  // the server's SQLSTATE; empty when libpq failed alone (no answer)
    bool connection_lost;  // the connection cannot be used again
    bool maybe_applied;    // a transaction's commit may have happened (its answer was lost)
};

// SQLSTATEs the store reacts to.
namespace sqlstate {
inline constexpr std::string_view deadlock = "40P01";
inline constexpr std::string_view serialization = "40001";
inline constexpr std::string_view query_canceled = "57014";   // statement_timeout
inline constexpr std::string_view check_violation = "23514";  // also: no partition for a row
}  // namespace sqlstate

// The answer to one statement (rows in text format).
class result {
public:
    result() = default;
    explicit result(pg_result* r) noexcept : r_(r) {}
    result(result&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    result& operator=(result&& o) noexcept;
    ~result();

    int rows() const noexcept;
    std::int64_t affected() const noexcept;  // rows inserted, updated or deleted
    bool is_null(int row, int col) const noexcept;
    std::string_view text(int row, int col) const noexcept;
    std::string string(int row, int col) const { return std::string{text(row, col)}; }
    std::int64_t integer(int row, int col) const;
    std::optional<std::int64_t> optional_integer(int row, int col) const;
    bool boolean(int row, int col) const noexcept { return text(row, col) == "t"; }
    std::string bytea(int row, int col) const;  // decodes the hex text form

private:
    pg_result* r_ = nullptr;
};

// A statement the connection prepares under `name` the first time it runs
// it. Parameter types come from casts in the SQL ($1::text[]).
struct statement {
    char const* name;
    std::string sql;
};

// One-dimensional arrays in PostgreSQL's binary format, to send a batch as a
// few parameters whatever its content: no quoting or escaping to get wrong.
class array {
public:
    enum class type : std::uint32_t { boolean = 16, bytea = 17, int8 = 20, int4 = 23, text = 25, uuid = 2950 };
    explicit array(type t);
    array& add(std::string_view bytes);  // text, bytea, or a uuid's 16 bytes
    array& add_null();
    array& add(std::int32_t v);
    array& add(std::int64_t v);
    array& add(bool v);
    std::size_t size() const noexcept { return count_; }
    std::string finish() &&;  // the header's counts filled in

private:
    std::string buf_;
    std::size_t count_ = 0;
    bool has_null_ = false;
};

// Parameters of one statement. Text values are viewed, not copied: what they
// view must outlive the call that runs the statement.
class params {
public:
    params& text(std::string_view v);
    params& null();
    params& integer(std::int64_t v);
    params& binary(std::string bytes);  // kept here
    params& binary(array&& a) { return binary(std::move(a).finish()); }

private:
    friend class connection;
    struct value {
        std::string_view view;
        bool is_null = false;
        bool binary = false;
        std::size_t owned = SIZE_MAX;  // index into owned_ when the value lives here
    };
    std::vector<value> values_;
    std::vector<std::string> owned_;
};

struct step {
    statement const* what;
    params args;
};

// Session settings applied once, right after connecting (name, value).
using settings = std::vector<std::pair<std::string, std::string>>;

class connection {
public:
    // Connects (a postgresql:// URL or key=value string) and applies the
    // settings, all before the deadline. Throws error.
    connection(std::string const& conninfo, settings const& session, clock::time_point deadline);
    ~connection();
    connection(connection const&) = delete;
    connection& operator=(connection const&) = delete;

    // False once the connection is known to be unusable: lost, timed out, or
    // (checked without blocking) closed by the server while idle, as at a
    // restart, whose backends say so and hang up.
    bool usable();

    // Runs the steps as one pipeline with one Sync: one implicit transaction.
    // Returns one result per step. On failure nothing of it is committed,
    // unless the error says maybe_applied.
    std::vector<result> run(std::span<step> steps, clock::time_point deadline);
    result run(statement const& s, params args, clock::time_point deadline);

    // One SQL command without parameters outside any pipeline (DDL, or
    // commands that must not run in a transaction block).
    result exec(std::string const& sql, clock::time_point deadline);

private:
    void send_all(clock::time_point deadline);
    void wait_readable(clock::time_point deadline, bool sync_sent);
    [[noreturn]] void fail(std::string const& what, bool maybe_applied);

    pg_conn* conn_ = nullptr;
    bool broken_ = false;
    std::vector<statement const*> prepared_;  // on this connection
};

// The URL or connection string with its password replaced, for messages.
std::string redact(std::string_view conninfo);

}  // namespace vigil::pg
