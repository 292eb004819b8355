#include "store/pg_connection.hpp"

#include "common/log.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace vigil::pg {

namespace {

// Class 08 (connection exception) and 57P01-57P03 (the server shutting down
// or starting): the connection is gone, or about to be.
bool connection_class(std::string_view state) {
    return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03";
}

std::string message_of(PGresult const* r) {
    std::string m = PQresultErrorMessage(r);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
}

std::string sqlstate_of(PGresult const* r) {
    char const* s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return s ? s : "";
}

void put_be32(std::string& out, std::uint32_t v) {
    char const b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
    out.append(b, 4);
}

void set_be32(std::string& out, std::size_t at, std::uint32_t v) {
    out[at] = char(v >> 24), out[at + 1] = char(v >> 16), out[at + 2] = char(v >> 8), out[at + 3] = char(v);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

// ------------------------------------------------------------------ result

result& result::operator=(result&& o) noexcept {
    if (this != &o) {
        if (r_) PQclear(r_);
        r_ = std::exchange(o.r_, nullptr);
    }
    return *this;
}

result::~result() {
    if (r_) PQclear(r_);
}

int result::rows() const noexcept { return r_ ? PQntuples(r_) : 0; }

std::int64_t result::affected() const noexcept {
    if (!r_) return 0;
    char const* n = PQcmdTuples(r_);
    std::int64_t v = 0;
    std::from_chars(n, n + std::strlen(n), v);
    return v;
}

bool result::is_null(int row, int col) const noexcept { return PQgetisnull(r_, row, col) != 0; }

std::string_view result::text(int row, int col) const noexcept {
    return {PQgetvalue(r_, row, col), std::size_t(PQgetlength(r_, row, col))};
}

std::int64_t result::integer(int row, int col) const {
    auto const t = text(row, col);
    std::int64_t v = 0;
    auto const [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc{} || end != t.data() + t.size())
        throw store_error("postgres: expected an integer, got '" + std::string{t} + "'");
    return v;
}

std::optional<std::int64_t> result::optional_integer(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return integer(row, col);
}

std::string result::bytea(int row, int col) const {
    auto const t = text(row, col);
    if (t.size() < 2 || t[0] != '\\' || t[1] != 'x' || t.size() % 2)
        throw store_error("postgres: bytea not in hex form (bytea_output must be 'hex')");
    std::string out;
    out.resize((t.size() - 2) / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        int const hi = hex_value(t[2 + 2 * i]), lo = hex_value(t[3 + 2 * i]);
        if (hi < 0 || lo < 0) throw store_error("postgres: bad hex digit in bytea");
        out[i] = char(hi << 4 | lo);
    }
    return out;
}

// ------------------------------------------------------------------- array

// Header: dimensions (1), has-nulls flag, element type, then per dimension
// its length and lower bound (1); each element: length (-1: null) and bytes.
array::array(type t) {
    put_be32(buf_, 1);
    put_be32(buf_, 0);
    put_be32(buf_, static_cast<std::uint32_t>(t));
    put_be32(buf_, 0);
    put_be32(buf_, 1);
}

array& array::add(std::string_view bytes) {
    put_be32(buf_, static_cast<std::uint32_t>(bytes.size()));
    buf_.append(bytes);
    ++count_;
    return *this;
}

array& array::add_null() {
    put_be32(buf_, 0xffffffffu);
    has_null_ = true;
    ++count_;
    return *this;
}

array& array::add(std::int32_t v) {
    put_be32(buf_, 4);
    put_be32(buf_, static_cast<std::uint32_t>(v));
    ++count_;
    return *this;
}

array& array::add(std::int64_t v) {
    put_be32(buf_, 8);
    put_be32(buf_, static_cast<std::uint32_t>(static_cast<std::uint64_t>(v) >> 32));
    put_be32(buf_, static_cast<std::uint32_t>(v));
    ++count_;
    return *this;
}

array& array::add(bool v) {
    put_be32(buf_, 1);
    buf_.push_back(v ? 1 : 0);
    ++count_;
    return *this;
}

std::string array::finish() && {
    set_be32(buf_, 4, has_null_ ? 1 : 0);
    set_be32(buf_, 12, static_cast<std::uint32_t>(count_));
    return std::move(buf_);
}

// ------------------------------------------------------------------ params

params& params::text(std::string_view v) {
    values_.push_back({v, false, false});
    return *this;
}

params& params::null() {
    values_.push_back({{}, true, false});
    return *this;
}

params& params::integer(std::int64_t v) {
    owned_.push_back(std::to_string(v));
    values_.push_back({{}, false, false, owned_.size() - 1});
    return *this;
}

params& params::binary(std::string bytes) {
    owned_.push_back(std::move(bytes));
    values_.push_back({{}, false, true, owned_.size() - 1});
    return *this;
}

// -------------------------------------------------------------- connection

connection::connection(std::string const& conninfo, settings const& session, clock::time_point deadline) {
    char const* keys[] = {"dbname", "fallback_application_name", nullptr};
    char const* values[] = {conninfo.c_str(), "vigil", nullptr};
    conn_ = PQconnectStartParams(keys, values, 1);
    if (!conn_) throw error("postgres: out of memory", "", true, false);
    auto const failed = [&](std::string const& why) {
        std::string m = PQerrorMessage(conn_);
        while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
        PQfinish(conn_);
        conn_ = nullptr;
        throw error("postgres: cannot connect to " + redact(conninfo) + ": " + (m.empty() ? why : m), "", true, false);
    };
    if (PQstatus(conn_) == CONNECTION_BAD) failed("bad connection parameters");
    auto status = PGRES_POLLING_WRITING;
    while (status != PGRES_POLLING_OK) {
        if (status == PGRES_POLLING_FAILED) failed("refused");
        pollfd p{PQsocket(conn_), short(status == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
        if (left <= 0) failed("timed out");
        int const n = ::poll(&p, 1, int(std::min<std::int64_t>(left, 60'000)));
        if (n < 0 && errno != EINTR) failed(std::strerror(errno));
        if (n == 0) continue;  // the deadline is checked above
        status = PQconnectPoll(conn_);
    }
    if (PQsetnonblocking(conn_, 1) != 0) failed("cannot make the socket non-blocking");
    // libpq prints notices on stderr; the server's goodbye at a shutdown
    // comes this way too. They go to the structured log instead.
    PQsetNoticeProcessor(
        conn_,
        [](void*, char const* message) {
            log::debug("store.postgres_notice", {{"message", message}});
        },
        nullptr);
    if (!session.empty()) {
        std::string sql = "SELECT ";
        for (std::size_t i = 0; i < session.size(); ++i) {
            char* name = PQescapeLiteral(conn_, session[i].first.data(), session[i].first.size());
            char* value = PQescapeLiteral(conn_, session[i].second.data(), session[i].second.size());
            if (!name || !value) {
                PQfreemem(name), PQfreemem(value);
                failed("cannot quote a setting");
            }
            sql += (i ? ", set_config(" : "set_config(") + std::string{name} + ", " + value + ", false)";
            PQfreemem(name), PQfreemem(value);
        }
        exec(sql, deadline);
    }
}

connection::~connection() {
    if (conn_) PQfinish(conn_);
}

bool connection::usable() {
    if (broken_ || PQstatus(conn_) != CONNECTION_OK) return false;
    // Reads what arrived while idle without blocking: a server that shut
    // down sent its FATAL message and closed. The first read takes the
    // message (libpq hands a FATAL outside a query to the notice processor
    // and stays CONNECTION_OK); only a second one meets the end of the
    // stream. With nothing to read, each returns at once.
    for (int i = 0; i < 2; ++i)
        if (!PQconsumeInput(conn_) || PQstatus(conn_) != CONNECTION_OK) return broken_ = true, false;
    if (PQisBusy(conn_)) return broken_ = true, false;  // something unexpected is pending
    return true;
}

void connection::fail(std::string const& what, bool maybe_applied) {
    broken_ = true;
    std::string m = PQerrorMessage(conn_);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    throw error("postgres: " + what + (m.empty() ? "" : ": " + m), "", true, maybe_applied);
}

void connection::wait_readable(clock::time_point deadline, bool sync_sent) {
    for (;;) {
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
        if (left <= 0) {
            // The server may still be working on it; this connection's state
            // is unknown from here on, so it goes.
            broken_ = true;
            throw error("postgres: no answer within the deadline", "", true, sync_sent);
        }
        pollfd p{PQsocket(conn_), POLLIN, 0};
        int const n = ::poll(&p, 1, int(std::min<std::int64_t>(left, 60'000)));
        if (n > 0) return;
        if (n < 0 && errno != EINTR) fail(std::string{"poll: "} + std::strerror(errno), sync_sent);
    }
}

void connection::send_all(clock::time_point deadline) {
    for (;;) {
        int const f = PQflush(conn_);
        if (f == 0) return;
        if (f < 0) fail("cannot send", true);
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
        if (left <= 0) {
            broken_ = true;
            throw error("postgres: could not send within the deadline", "", true, true);
        }
        // Read while writing: a server whose answers are not read stops
        // reading what is sent to it.
        pollfd p{PQsocket(conn_), POLLIN | POLLOUT, 0};
        int const n = ::poll(&p, 1, int(std::min<std::int64_t>(left, 60'000)));
        if (n < 0 && errno != EINTR) fail(std::string{"poll: "} + std::strerror(errno), true);
        if (n > 0 && (p.revents & POLLIN) && !PQconsumeInput(conn_)) fail("connection lost", true);
    }
}

std::vector<result> connection::run(std::span<step> steps, clock::time_point deadline) {
    if (broken_) throw error("postgres: connection unusable", "", true, false);
    if (!PQenterPipelineMode(conn_)) fail("cannot enter pipeline mode", false);
    // What was queued, in order: a prepare (-1) or the step's index.
    std::vector<int> queued;
    std::vector<statement const*> preparing;
    std::vector<char const*> values;
    std::vector<int> lengths, formats;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        auto const* s = steps[i].what;
        if (std::find(prepared_.begin(), prepared_.end(), s) == prepared_.end() &&
            std::find(preparing.begin(), preparing.end(), s) == preparing.end()) {
            if (!PQsendPrepare(conn_, s->name, s->sql.c_str(), 0, nullptr)) fail("cannot queue a statement", false);
            queued.push_back(-1);
            preparing.push_back(s);
        }
        auto const& a = steps[i].args;
        values.clear(), lengths.clear(), formats.clear();
        for (auto const& v : a.values_) {
            std::string_view const bytes = v.owned == SIZE_MAX ? v.view : std::string_view{a.owned_[v.owned]};
            // A null pointer is SQL NULL; an empty value must point somewhere.
            values.push_back(v.is_null ? nullptr : bytes.empty() ? "" : bytes.data());
            lengths.push_back(int(bytes.size()));
            formats.push_back(v.binary ? 1 : 0);
        }
        if (!PQsendQueryPrepared(conn_, s->name, int(values.size()), values.data(), lengths.data(), formats.data(), 0))
            fail("cannot queue a statement", false);
        queued.push_back(int(i));
    }
    if (!PQpipelineSync(conn_)) fail("cannot queue the sync", false);
    send_all(deadline);

    // Read every answer, even after an error (the rest come back aborted).
    std::vector<result> out(steps.size());
    std::optional<error> first_error;
    std::size_t prepare_index = 0;
    auto next_result = [&] {
        while (PQisBusy(conn_)) {
            wait_readable(deadline, true);
            if (!PQconsumeInput(conn_)) fail("connection lost", !first_error);
        }
        return PQgetResult(conn_);
    };
    for (int q : queued) {
        bool prepared = false;
        while (PGresult* r = next_result()) {
            result held{r};
            auto const st = PQresultStatus(r);
            if (q < 0 && st == PGRES_COMMAND_OK) prepared = true;
            if (st == PGRES_FATAL_ERROR && !first_error) {
                auto const state = sqlstate_of(r);
                bool const lost = state.empty() || connection_class(state) || PQstatus(conn_) != CONNECTION_OK;
                // The server answered this statement with an error, so the
                // transaction did not commit.
                first_error.emplace("postgres: " + message_of(r), state, lost, false);
            }
            if (q >= 0 && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)) out[std::size_t(q)] = std::move(held);
        }
        if (q < 0) {
            auto* s = preparing[prepare_index++];
            if (prepared) prepared_.push_back(s);  // done, even if a later statement failed
        }
        if (PQstatus(conn_) != CONNECTION_OK) {
            broken_ = true;
            if (first_error) {
                first_error->connection_lost = true;
                throw *first_error;
            }
            fail("connection lost", true);
        }
    }
    // The Sync's answer: the commit's.
    {
        PGresult* r = next_result();
        result held{r};
        auto const st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st != PGRES_PIPELINE_SYNC) {
            broken_ = true;
            if (first_error) throw *first_error;
            auto const state = r ? sqlstate_of(r) : std::string{};
            bool const lost = !r || state.empty() || connection_class(state);
            throw error("postgres: commit failed: " + (r ? message_of(r) : std::string{PQerrorMessage(conn_)}), state,
                        true, lost);
        }
    }
    if (!PQexitPipelineMode(conn_)) {
        broken_ = true;
        if (first_error) throw *first_error;
        fail("cannot leave pipeline mode", false);
    }
    if (first_error) {
        if (first_error->connection_lost) broken_ = true;
        throw *first_error;
    }
    return out;
}

result connection::run(statement const& s, params args, clock::time_point deadline) {
    step one{&s, std::move(args)};
    auto r = run(std::span<step>{&one, 1}, deadline);
    return std::move(r[0]);
}

result connection::exec(std::string const& sql, clock::time_point deadline) {
    if (broken_) throw error("postgres: connection unusable", "", true, false);
    if (!PQsendQuery(conn_, sql.c_str())) fail("cannot send", false);
    send_all(deadline);
    result last;
    std::optional<error> first_error;
    for (;;) {
        while (PQisBusy(conn_)) {
            wait_readable(deadline, true);
            if (!PQconsumeInput(conn_)) fail("connection lost", true);
        }
        PGresult* r = PQgetResult(conn_);
        if (!r) break;
        result held{r};
        if (PQresultStatus(r) == PGRES_FATAL_ERROR && !first_error) {
            auto const state = sqlstate_of(r);
            first_error.emplace("postgres: " + message_of(r), state,
                                state.empty() || connection_class(state) || PQstatus(conn_) != CONNECTION_OK, false);
        }
        last = std::move(held);
    }
    if (PQstatus(conn_) != CONNECTION_OK) {
        broken_ = true;
        if (first_error) {
            first_error->connection_lost = true;
            throw *first_error;
        }
        fail("connection lost", true);
    }
    if (first_error) throw *first_error;
    return last;
}

// ------------------------------------------------------------------ redact

std::string redact(std::string_view info) {
    std::string out{info};
    constexpr std::string_view hidden = "REDACTED";
    auto const scheme = out.find("://");
    if (out.starts_with("postgresql://") || out.starts_with("postgres://")) {
        // postgresql://user:password@host...: the password sits between the
        // first ':' and the last '@' of the authority.
        auto const start = scheme + 3;
        auto const end = std::min(out.find_first_of("/?", start), out.size());
        auto const at = out.rfind('@', end == out.size() ? std::string::npos : end);
        if (at != std::string::npos && at >= start) {
            auto const colon = out.find(':', start);
            if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, hidden);
        }
        // ...?password=secret&...
        if (auto q = out.find('?'); q != std::string::npos) {
            std::string query = out.substr(q + 1), redacted;
            for (std::size_t p = 0; p <= query.size();) {
                auto const amp = std::min(query.find('&', p), query.size());
                auto const param = std::string_view{query}.substr(p, amp - p);
                if (!redacted.empty()) redacted += '&';
                redacted += param.starts_with("password=") ? "password=" + std::string{hidden} : std::string{param};
                p = amp + 1;
            }
            out = out.substr(0, q + 1) + redacted;
        }
        return out;
    }
    // key=value form: password = value, the value quoted or up to a space.
    for (std::size_t p = out.find("password"); p != std::string::npos; p = out.find("password", p + 1)) {
        if (p > 0 && !std::isspace(static_cast<unsigned char>(out[p - 1]))) continue;
        auto q = p + 8;
        while (q < out.size() && out[q] == ' ') ++q;
        if (q >= out.size() || out[q] != '=') continue;
        ++q;
        while (q < out.size() && out[q] == ' ') ++q;
        auto end = q;
        if (end < out.size() && out[end] == '\'') {
            for (++end; end < out.size() && out[end] != '\''; ++end)
                if (out[end] == '\\') ++end;
            end = std::min(end + 1, out.size());
        } else {
            while (end < out.size() && !std::isspace(static_cast<unsigned char>(out[end]))) ++end;
        }
        out.replace(q, end - q, hidden);
    }
    return out;
}

}  // namespace vigil::pg
