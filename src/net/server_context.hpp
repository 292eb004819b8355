#pragma once
// What every session needs from the server, by reference. Owned by app::server,
// which outlives all sessions (it joins the I/O threads before destruction).
#include "alerts/alert_service.hpp"
#include "auth/api_keys.hpp"
#include "auth/jwt_verifier.hpp"
#include "auth/verified_tokens.hpp"
#include "config/config.hpp"
#include "hub/connection_registry.hpp"
#include "net/connection_limits.hpp"
#include "net/static_files.hpp"
#include "net/ws_tickets.hpp"
#include "store/handling_store.hpp"

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstdint>
#include <string>

namespace vigil {
class push_dispatcher;
}

namespace vigil::net {

struct server_context {
    settings const& config;
    auth::jwt_verifier const& verifier;
    auth::verified_tokens& api_tokens;  // HTTP API bearer tokens already verified
    alert_service& alerts;
    connection_registry& registry;
    alert_bus& bus;           // other nodes' connections, for monitoring
    static_files const& web;  // the dashboard
    connection_limits& limits;
    ws_tickets& tickets;
    // Where HTTP requests read the store (history, one alert, frames): reads
    // may wait for the disk or the network, which no I/O thread may do.
    boost::asio::thread_pool& store_reads;
    std::int64_t started_ms = 0;
    // Web Push (alerts/push_dispatcher.hpp); null: push is off.
    push_dispatcher* push = nullptr;
    // Teams, policies and audit trails (docs/handling.md): the store's, which
    // every engine keeps.
    handling_store* handling = nullptr;
    std::atomic<bool> shutting_down{false};
    std::atomic<std::size_t> live_sessions{0};  // ws_sessions not yet destroyed
    // The API keys in force: config's at start, replaced by a SIGHUP reload
    // (authenticate() reads these, not config).
    auth::api_keys api_keys{config.admin_api_keys, config.publisher_api_keys};
};

}  // namespace vigil::net
