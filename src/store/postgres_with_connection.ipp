#pragma once
// postgres_alert_store::with_connection, for the engine's source files
// (postgres_alert_store.cpp, postgres_push_state.cpp): runs `f(connection,
// deadline)` on a pooled connection, noting the server's state for /health
// and the metrics, and tries once more on a new connection when the server
// dropped the old one under a call that cannot have been applied.
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "store/pg_connection.hpp"
#include "store/pg_pool.hpp"
#include "store/postgres_alert_store.hpp"

#include <optional>

namespace vigil {

template <class F>
auto postgres_alert_store::with_connection(bool retry_if_applied, F&& f) {
    auto const deadline = pg::clock::now() + options_.timeout + std::chrono::milliseconds{500};
    for (int attempt = 0;; ++attempt) {
        std::optional<pg::pool::lease> leased;
        try {
            leased.emplace(pool_->acquire(deadline));
        } catch (store_error const& e) {
            note_status(false, e.what());  // no connection to be had in time
            metrics::global().store_errors.inc("unreachable");
            throw;
        }
        auto& c = *leased;
        try {
            auto result = f(*c, deadline);
            note_status(true, {});
            return result;
        } catch (pg::error const& e) {
            // Unreachable, or slower than the deadline: /health says so.
            bool const timeout = e.sqlstate == "57014";
            bool const unreachable =
                e.connection_lost || e.sqlstate.rfind("57P", 0) == 0 || e.sqlstate.rfind("08", 0) == 0;
            if (timeout || unreachable) note_status(false, e.what());
            metrics::global().store_errors.inc(timeout ? "timeout" : unreachable ? "unreachable" : "query");
            if (e.connection_lost) c.discard();
            // Once, on a new connection, when it cannot have been applied: the
            // server restarted, or the connection broke under the call.
            if (attempt == 0 && e.connection_lost && (retry_if_applied || !e.maybe_applied) &&
                pg::clock::now() < deadline) {
                log::warn("store.postgres_retry", {{"error", e.what()}});
                continue;
            }
            throw;
        }
    }
}

}  // namespace vigil
