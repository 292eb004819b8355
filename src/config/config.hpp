#pragma once
// Server settings. Precedence: command-line flags beat VIGIL_* environment
// variables, which beat the TOML file (--config), which beats these defaults.
// Every setting has all three spellings: --ping-interval, VIGIL_PING_INTERVAL,
// ping_interval (top level of the file; grouped ones like jwt.secret go in a
// [jwt] table). One table in config.cpp names them all, and `vigil serve
// --help`, `vigil example-config` (vigil.example.toml) and the README's table
// are held to it. Boolean settings are bare flags (--tls-only) that --no-...
// turns off (--no-tls-only); `--tls-only true|false` is accepted too.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace vigil {

struct jwt_settings {
    std::string algorithm = "HS256";  // HS256, RS256 or ES256; nothing else is accepted
    std::string secret;               // HS256 shared secret
    std::string public_key_file;      // PEM public key for RS256/ES256
    std::string issuer;               // checked against `iss` when set
    std::string audience;             // checked against `aud` when set
    std::string subject_claim = "sub";
    int leeway_seconds = 0;       // clock skew allowed on exp/nbf
    bool close_on_expiry = true;  // close 4003 when a live token expires unrefreshed
};

struct limit_settings {
    std::size_t max_message_bytes = 64 * 1024;      // one WebSocket message; 1009 beyond
    std::size_t max_body_bytes = 8 * 1024 * 1024;   // one HTTP request body; 413 beyond
    std::size_t max_frame_bytes = 2 * 1024 * 1024;  // one decoded annotated frame
    std::size_t max_header_bytes = 8 * 1024;        // HTTP request line and headers; 431 beyond
    std::size_t outbox_max_messages = 1024;         // queued to one slow client; 4008 beyond
    std::size_t outbox_max_bytes = 4 * 1024 * 1024;
    double messages_per_second = 50;                 // sustained client messages per connection
    double message_burst = 200;                      // bucket size; past it the client is closed with 1008
    int http_timeout_seconds = 30;                   // a request must arrive whole within this (slowloris)
    std::size_t max_connections = 100'000;           // WebSockets on this node; 503 beyond
    std::size_t max_connections_per_address = 1000;  // from one source address; 429 beyond
    double handshakes_per_second = 20;               // per source address, sustained
    double handshake_burst = 100;                    // per source address; 429 with Retry-After beyond
    bool exempt_loopback = true;                     // per-address limits skip 127.0.0.0/8 and ::1
};

struct store_settings {
    // "sqlite" (durable, default), "memory" (volatile) or "postgres" (the
    // cluster's store of record, docs/cluster.md)
    std::string engine = "sqlite";
    std::string synchronous = "full";        // SQLite PRAGMA synchronous: "full" or "normal"
    bool group_commit = true;                // batch concurrent publishes into one transaction
    int retention_days = 30;                 // alerts older than this are pruned (0 = keep)
    std::size_t retention_per_user = 10000;  // newest N per user are kept (0 = all)
    std::size_t replay_batch = 100;          // alerts per replay query; the next batch waits for the client
    std::string postgres_url;                // postgresql://user:password@host:port/db (engine "postgres")
    std::size_t postgres_pool_size = 4;      // connections to PostgreSQL from this node
};

// The bus between nodes: "local" (one node) or "redis" (a cluster,
// docs/cluster.md). Nodes of one cluster share the store and the bus.
struct bus_settings {
    std::string engine = "local";
    std::string redis_url = "redis://127.0.0.1:6379";  // redis://[:password@]HOST:PORT[/DB]
    // Of every Redis key and channel: clusters sharing one Redis server need
    // their own (pub/sub ignores the database number).
    std::string redis_prefix = "vigil";
};

// TLS: with a certificate and key, a second listener serves https:// and wss://
// on tls.port beside the plain one (or instead of it, with tls.only).
// SIGHUP reloads both files; open connections keep the identity they began with.
struct tls_settings {
    std::string cert_file;  // PEM certificate chain (leaf first)
    std::string key_file;   // PEM private key
    std::uint16_t port = 8443;
    bool only = false;  // no plain listener
    bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

// Web Push (docs/notifications.md): on whenever there is a VAPID key, the
// file given here or the one generated into the data directory.
struct push_settings {
    std::string vapid_private_key_file;                    // PEM; empty: <data_dir>/vapid_private_key.pem
    std::string vapid_subject = "mailto:vigil@localhost";  // VAPID `sub`: a mailto: or https: contact
    int ttl_seconds = 86'400;                              // how long push services keep a push for an offline device
    int group_window_seconds = 300;                        // alerts of one group within it update one notification
    bool allow_insecure_endpoints = false;                 // plain http:// to loopback (tests; only with --dev)
};

// Webhooks (docs/handling.md): every change of an alert's handling state is
// POSTed to each URL, signed with the secret (X-Vigil-Signature).
struct webhook_settings {
    std::vector<std::string> urls;  // absolute http:// or https:// URLs, at most max_webhook_urls
    std::string secret;             // HMAC-SHA256 key; required with urls
    std::string secret_file;        // a file holding the secret instead (its trailing newline dropped)
};

struct settings {
    std::string host = "0.0.0.0";
    std::uint16_t port = 8000;
    unsigned threads = 0;  // I/O threads; 0 = one per core
    std::string data_dir = "./vigil-data";
    bool dev = false;   // monitoring open to loopback without credentials; random secret
    bool demo = false;  // publish synthetic alerts for the "demo" user
    std::string log_level = "info";
    std::string access_log = "errors";  // http.request lines: "errors" (status >= 400), "all" or "off"
    std::string web_root;               // the dashboard's files; empty: found next to the binary

    int ping_interval = 30;      // seconds between server pings
    int heartbeat_timeout = 60;  // seconds without a heartbeat before close 4000

    jwt_settings jwt;
    tls_settings tls;
    std::vector<std::string> admin_api_keys;      // X-API-Key / Bearer values with admin rights
    std::vector<std::string> publisher_api_keys;  // ... with publish rights only
    limit_settings limits;
    store_settings store;
    bus_settings bus;
    push_settings push;
    webhook_settings webhooks;
    // This node's name in the cluster (monitoring's `node`, the bus's
    // presence). Empty: host name and port.
    std::string node_id;
    bool inline_frames = false;  // frames as base64 in the message instead of a URL
    // Browser origins allowed to open WebSockets (exact "scheme://host[:port]",
    // or "*"). Empty: any. Not enforced in --dev. Tokens, not cookies,
    // authenticate, so a foreign page cannot ride a user's session anyway;
    // this narrows who may embed the connection.
    std::vector<std::string> allowed_origins;
};

struct config_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One setting in every spelling, from the one table.
struct setting_info {
    std::string flag;   // "--tls-only"
    std::string env;    // "VIGIL_TLS_ONLY"
    std::string key;    // TOML: "tls.only" ([tls] table, key `only`)
    std::string group;  // --help's section: "TLS"
    std::string help;
    std::string default_toml;  // the default as a TOML value: 8443, "sqlite", false, []
    std::string default_text;  // the default for people: 8443, sqlite, off, — (none)
    bool is_flag = false;      // boolean: --flag sets it, --no-flag clears it
};

// Registers every setting as a flag (with its VIGIL_* environment name) on a
// CLI11 command, and resolves the final settings once the command is parsed.
class settings_loader {
public:
    explicit settings_loader(CLI::App& command);
    ~settings_loader();
    settings_loader(settings_loader const&) = delete;
    settings_loader& operator=(settings_loader const&) = delete;

    // Defaults < file < environment < flags; then validated. Throws config_error.
    settings resolve() const;

    // Every setting, in --help's order.
    std::vector<setting_info> const& table() const { return table_; }

    // An annotated TOML file setting every key to its value in `s`, each with
    // its help, flag and environment variable.
    std::string to_toml(settings const& s) const;

private:
    struct binding;
    std::unique_ptr<settings> from_cli_;
    std::string config_file_;
    std::vector<binding> bindings_;
    std::vector<setting_info> table_;
};

// The table without a command line (documentation, tests).
std::vector<setting_info> settings_table();

// vigil.example.toml: every key at its default.
std::string example_toml();

// Problems that make the settings unusable (empty when fine).
// An HS256 secret shorter than this is refused outside --dev (RFC 7518 §3.2).
inline constexpr std::size_t min_hs256_secret_bytes = 32;

// Webhooks: how many URLs, the shortest secret, the largest secret file.
inline constexpr std::size_t max_webhook_urls = 16;
inline constexpr std::size_t min_webhook_secret_bytes = 16;
inline constexpr std::size_t max_webhook_secret_bytes = 4096;

std::vector<std::string> validate(settings const& s);

}  // namespace vigil
