#include "config/config.hpp"

#include "common/log.hpp"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>
#include <thread>

namespace vigil {

struct settings_loader::binding {
    CLI::Option* option;
    std::string toml_path;
    std::function<void(settings& dst, settings const& src)> copy;
    // Returns false when the file's value has the wrong type or range.
    std::function<bool(settings& dst, toml::node const& value)> from_toml;
};

namespace {

std::string env_name(std::string_view flag) {
    std::string out = "VIGIL_";
    for (char c : flag.substr(2)) out.push_back(c == '-' ? '_' : char(std::toupper(c)));
    return out;
}

template <class T>
bool read_toml(toml::node const& node, T& out) {
    if constexpr (std::is_same_v<T, std::string>) {
        auto v = node.value<std::string>();
        if (!v || !node.is_string()) return false;
        out = *v;
    } else if constexpr (std::is_same_v<T, bool>) {
        if (!node.is_boolean()) return false;
        out = *node.value<bool>();
    } else if constexpr (std::is_same_v<T, double>) {
        if (!node.is_number()) return false;
        out = *node.value<double>();
    } else if constexpr (std::is_integral_v<T>) {
        if (!node.is_integer()) return false;
        auto const v = *node.value<std::int64_t>();
        if (v < std::int64_t(std::numeric_limits<T>::min()) ||
            (v > 0 && std::uint64_t(v) > std::uint64_t(std::numeric_limits<T>::max())))
            return false;
        out = static_cast<T>(v);
    } else {  // std::vector<std::string>
        auto const* arr = node.as_array();
        if (!arr) return false;
        out.clear();
        for (auto const& item : *arr) {
            if (!item.is_string()) return false;
            out.push_back(*item.value<std::string>());
        }
    }
    return true;
}

void collect_paths(toml::table const& table, std::string const& prefix,
                   std::vector<std::string>& out) {
    for (auto const& [key, node] : table) {
        std::string path = prefix.empty() ? std::string{key.str()} : prefix + "." + std::string{key.str()};
        if (auto const* sub = node.as_table())
            collect_paths(*sub, path, out);
        else
            out.push_back(std::move(path));
    }
}

}  // namespace

settings_loader::settings_loader(CLI::App& app) : from_cli_(std::make_unique<settings>()) {
    app.add_option("-c,--config", config_file_, "TOML configuration file")
        ->envname("VIGIL_CONFIG");

    auto add = [&]<class T>(std::string const& flag, std::string toml_path, std::string desc,
                            T& (*field)(settings&), std::string const& group) {
        T& target = field(*from_cli_);
        CLI::Option* opt = app.add_option(flag, target, desc);
        opt->envname(env_name(flag))->capture_default_str()->group(group);
        if constexpr (std::is_same_v<T, std::vector<std::string>>) opt->delimiter(',');
        bindings_.push_back(binding{
            opt, std::move(toml_path),
            [field](settings& dst, settings const& src) {
                field(dst) = field(const_cast<settings&>(src));
            },
            [field](settings& dst, toml::node const& node) { return read_toml(node, field(dst)); }});
    };
#define VIGIL_FIELD(expr) +[](settings& s) -> decltype(auto) { return (s.expr); }
    std::string const server = "Server", auth = "Authentication", limits = "Limits",
                      store = "Store";
    add("--host", "host", "address to listen on", VIGIL_FIELD(host), server);
    add("--port", "port", "TCP port (0 picks a free one)", VIGIL_FIELD(port), server);
    add("--threads", "threads", "I/O threads (0 = one per core)", VIGIL_FIELD(threads), server);
    add("--data-dir", "data_dir", "where the SQLite store lives", VIGIL_FIELD(data_dir), server);
    add("--web-root", "web_root", "folder of the dashboard served at / (default: found beside the binary)",
        VIGIL_FIELD(web_root), server);
    add("--log-level", "log_level", "debug, info, warn, error or off", VIGIL_FIELD(log_level), server);
    add("--ping-interval", "ping_interval", "seconds between server pings",
        VIGIL_FIELD(ping_interval), server);
    add("--heartbeat-timeout", "heartbeat_timeout",
        "seconds without any client message or pong before close 4000",
        VIGIL_FIELD(heartbeat_timeout), server);
    add("--inline-frames", "inline_frames",
        "send annotated frames as base64 in the message instead of a URL",
        VIGIL_FIELD(inline_frames), server);

    std::string const tls = "TLS";
    add("--tls-cert", "tls.cert_file", "PEM certificate chain: serve https:// and wss:// on --tls-port",
        VIGIL_FIELD(tls.cert_file), tls);
    add("--tls-key", "tls.key_file", "PEM private key of --tls-cert (SIGHUP reloads both)",
        VIGIL_FIELD(tls.key_file), tls);
    add("--tls-port", "tls.port", "TCP port of the TLS listener (0 picks a free one)", VIGIL_FIELD(tls.port), tls);
    add("--tls-only", "tls.only", "no plain listener: TLS on --tls-port only", VIGIL_FIELD(tls.only), tls);

    add("--jwt-secret", "jwt.secret", "HS256 shared secret (prefer the environment)",
        VIGIL_FIELD(jwt.secret), auth);
    add("--jwt-algorithm", "jwt.algorithm", "HS256, RS256 or ES256", VIGIL_FIELD(jwt.algorithm), auth);
    add("--jwt-public-key-file", "jwt.public_key_file", "PEM public key for RS256/ES256",
        VIGIL_FIELD(jwt.public_key_file), auth);
    add("--jwt-issuer", "jwt.issuer", "required `iss` (empty: not checked)", VIGIL_FIELD(jwt.issuer), auth);
    add("--jwt-audience", "jwt.audience", "required `aud` (empty: not checked)",
        VIGIL_FIELD(jwt.audience), auth);
    add("--jwt-subject-claim", "jwt.subject_claim", "claim that must equal {user_id}",
        VIGIL_FIELD(jwt.subject_claim), auth);
    add("--jwt-leeway", "jwt.leeway", "seconds of clock skew allowed on exp and nbf",
        VIGIL_FIELD(jwt.leeway_seconds), auth);
    add("--close-on-token-expiry", "jwt.close_on_expiry",
        "close live connections (4003) whose token expires without a refresh",
        VIGIL_FIELD(jwt.close_on_expiry), auth);
    add("--admin-api-keys", "auth.admin_api_keys", "API keys with admin rights (comma-separated)",
        VIGIL_FIELD(admin_api_keys), auth);
    add("--publisher-api-keys", "auth.publisher_api_keys",
        "API keys that may publish (comma-separated)", VIGIL_FIELD(publisher_api_keys), auth);

    add("--max-message-bytes", "limits.max_message_bytes",
        "largest client WebSocket message; close 1009 beyond", VIGIL_FIELD(limits.max_message_bytes), limits);
    add("--max-body-bytes", "limits.max_body_bytes", "largest HTTP request body; 413 beyond",
        VIGIL_FIELD(limits.max_body_bytes), limits);
    add("--max-frame-bytes", "limits.max_frame_bytes", "largest annotated frame (decoded); 413 beyond",
        VIGIL_FIELD(limits.max_frame_bytes), limits);
    add("--max-header-bytes", "limits.max_header_bytes", "largest HTTP request head; 431 beyond",
        VIGIL_FIELD(limits.max_header_bytes), limits);
    add("--outbox-max-messages", "limits.outbox_max_messages",
        "messages queued to one client before close 4008", VIGIL_FIELD(limits.outbox_max_messages), limits);
    add("--outbox-max-bytes", "limits.outbox_max_bytes",
        "bytes queued to one client before close 4008", VIGIL_FIELD(limits.outbox_max_bytes), limits);
    add("--messages-per-second", "limits.messages_per_second",
        "sustained client messages per connection", VIGIL_FIELD(limits.messages_per_second), limits);
    add("--message-burst", "limits.message_burst",
        "client message burst; a client beyond it is closed with 1008", VIGIL_FIELD(limits.message_burst), limits);
    add("--http-timeout", "limits.http_timeout",
        "seconds for an HTTP request to arrive whole", VIGIL_FIELD(limits.http_timeout_seconds), limits);

    add("--max-connections", "limits.max_connections", "WebSocket connections on this node (0 = no limit)",
        VIGIL_FIELD(limits.max_connections), limits);
    add("--max-connections-per-address", "limits.max_connections_per_address",
        "WebSocket connections from one source address (0 = no limit)",
        VIGIL_FIELD(limits.max_connections_per_address), limits);
    add("--handshakes-per-second", "limits.handshakes_per_second", "sustained upgrades per source address",
        VIGIL_FIELD(limits.handshakes_per_second), limits);
    add("--handshake-burst", "limits.handshake_burst", "upgrade burst per source address; 429 beyond",
        VIGIL_FIELD(limits.handshake_burst), limits);
    add("--exempt-loopback", "limits.exempt_loopback",
        "per-address limits skip loopback sources (a local reverse proxy)", VIGIL_FIELD(limits.exempt_loopback), limits);
    add("--allowed-origins", "allowed_origins",
        "browser Origins allowed to open WebSockets, comma-separated (empty: any; ignored in --dev)",
        VIGIL_FIELD(allowed_origins), auth);

    add("--store", "store.engine", "sqlite (durable) or memory (lost on exit)",
        VIGIL_FIELD(store.engine), store);
    add("--sqlite-synchronous", "store.synchronous", "full (survives power loss) or normal",
        VIGIL_FIELD(store.synchronous), store);
    add("--group-commit", "store.group_commit", "batch concurrent publishes into one transaction",
        VIGIL_FIELD(store.group_commit), store);
    add("--retention-days", "store.retention_days", "prune alerts older than this (0 = never)",
        VIGIL_FIELD(store.retention_days), store);
    add("--retention-per-user", "store.retention_per_user", "keep at most this many per user (0 = all)",
        VIGIL_FIELD(store.retention_per_user), store);
    add("--replay-batch", "store.replay_batch",
        "alerts per replay query; the next batch is read once the client has taken this one",
        VIGIL_FIELD(store.replay_batch), store);
#undef VIGIL_FIELD

    auto* dev = app.add_flag("--dev", from_cli_->dev,
                             "development mode: monitoring open on loopback, random secret if none");
    dev->envname("VIGIL_DEV")->group(server);
    bindings_.push_back(binding{dev, "dev", [](settings& d, settings const& s) { d.dev = s.dev; },
                                [](settings& d, toml::node const& n) { return read_toml(n, d.dev); }});
    auto* demo = app.add_flag("--demo", from_cli_->demo,
                              "publish synthetic alerts to the user \"demo\" and print the dashboard link");
    demo->group(server);
    bindings_.push_back(binding{demo, "demo", [](settings& d, settings const& s) { d.demo = s.demo; },
                                [](settings& d, toml::node const& n) { return read_toml(n, d.demo); }});
}

settings_loader::~settings_loader() = default;

settings settings_loader::resolve() const {
    settings s;
    if (!config_file_.empty()) {
        toml::table file;
        try {
            file = toml::parse_file(config_file_);
        } catch (toml::parse_error const& e) {
            throw config_error("cannot read " + config_file_ + ": " + std::string{e.description()});
        }
        std::vector<std::string> paths;
        collect_paths(file, "", paths);
        for (auto const& path : paths) {
            auto const it = std::find_if(bindings_.begin(), bindings_.end(),
                                         [&](binding const& b) { return b.toml_path == path; });
            if (it == bindings_.end()) throw config_error(config_file_ + ": unknown setting '" + path + "'");
            if (!it->from_toml(s, *file.at_path(path).node()))
                throw config_error(config_file_ + ": setting '" + path + "' has the wrong type or range");
        }
    }
    // CLI11 filled from_cli_ from flags or, failing those, the environment.
    for (auto const& b : bindings_)
        if (b.option->count() > 0) b.copy(s, *from_cli_);

    if (s.threads == 0) s.threads = std::max(1u, std::thread::hardware_concurrency());
    if (auto errors = validate(s); !errors.empty()) {
        std::string all;
        for (auto const& e : errors) all += (all.empty() ? "" : "; ") + e;
        throw config_error(all);
    }
    return s;
}

std::vector<std::string> validate(settings const& s) {
    std::vector<std::string> out;
    if (s.ping_interval <= 0) out.push_back("ping_interval must be positive");
    if (s.heartbeat_timeout <= 0) out.push_back("heartbeat_timeout must be positive");
    auto const& alg = s.jwt.algorithm;
    if (alg != "HS256" && alg != "RS256" && alg != "ES256")
        out.push_back("jwt.algorithm must be HS256, RS256 or ES256");
    if (alg == "HS256" && s.jwt.secret.empty() && !s.dev)
        out.push_back("VIGIL_JWT_SECRET (jwt.secret) is required for HS256 outside --dev");
    // RFC 7518 §3.2: an HS256 key at least as long as the hash (32 bytes);
    // shorter ones fall to offline guessing from any token seen.
    if (alg == "HS256" && !s.jwt.secret.empty() && s.jwt.secret.size() < min_hs256_secret_bytes && !s.dev)
        out.push_back("VIGIL_JWT_SECRET (jwt.secret) has " + std::to_string(s.jwt.secret.size()) +
                      " bytes: HS256 needs at least " + std::to_string(min_hs256_secret_bytes) +
                      " outside --dev (RFC 7518 §3.2); `openssl rand -hex 32` makes one");
    if (alg != "HS256" && s.jwt.public_key_file.empty())
        out.push_back("jwt.public_key_file is required for " + alg);
    if (s.tls.cert_file.empty() != s.tls.key_file.empty())
        out.push_back("tls.cert_file and tls.key_file go together");
    if (s.tls.only && !s.tls.enabled()) out.push_back("tls.only needs tls.cert_file and tls.key_file");
    if (s.tls.enabled() && !s.tls.only && s.tls.port == s.port && s.port != 0)
        out.push_back("tls.port must differ from port while the plain listener runs");
    if (s.jwt.subject_claim.empty()) out.push_back("jwt.subject_claim must not be empty");
    if (s.jwt.leeway_seconds < 0) out.push_back("jwt.leeway must not be negative");
    if (s.limits.max_message_bytes < 128) out.push_back("limits.max_message_bytes must be at least 128");
    if (s.limits.max_body_bytes < 1024) out.push_back("limits.max_body_bytes must be at least 1024");
    if (s.limits.max_header_bytes < 1024) out.push_back("limits.max_header_bytes must be at least 1024");
    if (s.limits.outbox_max_messages == 0 || s.limits.outbox_max_bytes == 0)
        out.push_back("limits.outbox_max_* must be positive");
    if (s.limits.messages_per_second <= 0 || s.limits.message_burst < 1)
        out.push_back("limits.messages_per_second and message_burst must be positive");
    if (s.limits.http_timeout_seconds <= 0) out.push_back("limits.http_timeout must be positive");
    if (s.limits.handshakes_per_second <= 0 || s.limits.handshake_burst < 1)
        out.push_back("limits.handshakes_per_second and handshake_burst must be positive");
    if (s.store.engine != "sqlite" && s.store.engine != "memory")
        out.push_back("store.engine must be sqlite or memory");
    if (s.store.synchronous != "full" && s.store.synchronous != "normal")
        out.push_back("store.synchronous must be full or normal");
    if (s.store.retention_days < 0) out.push_back("store.retention_days must not be negative");
    if (s.store.replay_batch == 0) out.push_back("store.replay_batch must be positive");
    if (!log::parse_level(s.log_level)) out.push_back("log_level must be debug, info, warn, error or off");
    return out;
}

}  // namespace vigil
