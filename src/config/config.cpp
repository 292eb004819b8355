#include "config/config.hpp"

#include "common/log.hpp"
#include "push/endpoint.hpp"
#include "push/push_request.hpp"
#include "push/vapid.hpp"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <thread>

namespace vigil {

struct settings_loader::binding {
    CLI::Option* option;
    std::string toml_path;
    std::function<void(settings& dst, settings const& src)> copy;
    // Returns false when the file's value has the wrong type or range.
    std::function<bool(settings& dst, toml::node const& value)> from_toml;
    std::function<std::string(settings const& s)> to_toml;  // the value as TOML text
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

std::string toml_string(std::string_view s) {
    std::ostringstream out;
    out << toml::value<std::string>{std::string{s}};
    return out.str();
}

// A value as TOML text.
template <class T>
std::string write_toml(T const& v) {
    if constexpr (std::is_same_v<T, std::string>) {
        return toml_string(v);
    } else if constexpr (std::is_same_v<T, bool>) {
        return v ? "true" : "false";
    } else if constexpr (std::is_same_v<T, double>) {
        char buf[32];
        auto const r = std::to_chars(buf, buf + sizeof buf, v);
        return {buf, r.ptr};
    } else if constexpr (std::is_integral_v<T>) {
        return std::to_string(v);
    } else {
        std::string out = "[";
        for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + toml_string(v[i]);
        return out + "]";
    }
}

// A value for people (--help, the README): off/on, — for none.
template <class T>
std::string write_text(T const& v) {
    if constexpr (std::is_same_v<T, std::string>) {
        return v.empty() ? "—" : v;
    } else if constexpr (std::is_same_v<T, bool>) {
        return v ? "on" : "off";
    } else if constexpr (std::is_arithmetic_v<T>) {
        return write_toml(v);
    } else {
        std::string out;
        for (auto const& item : v) out += (out.empty() ? "" : ", ") + item;
        return out.empty() ? "—" : out;
    }
}

void collect_paths(toml::table const& table, std::string const& prefix,
                   std::vector<std::pair<std::string, toml::source_region>>& out) {
    for (auto const& [key, node] : table) {
        std::string path = prefix.empty() ? std::string{key.str()} : prefix + "." + std::string{key.str()};
        if (auto const* sub = node.as_table())
            collect_paths(*sub, path, out);
        else
            out.emplace_back(std::move(path), node.source());
    }
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t const above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

// webhooks.secret_file's contents, without the trailing newline an editor
// adds. Errors name the file, never what is in it.
std::string read_secret_file(webhook_settings const& w) {
    auto const& path = w.secret_file;
    if (!w.secret.empty())
        throw config_error("webhooks.secret and webhooks.secret_file are both set: give the secret one way");
    std::ifstream in{path, std::ios::binary};
    if (!in) throw config_error("cannot read webhooks.secret_file " + path + ": " + std::strerror(errno));
    std::string secret(max_webhook_secret_bytes + 1, '\0');
    in.read(secret.data(), std::streamsize(secret.size()));
    if (in.bad()) throw config_error("cannot read webhooks.secret_file " + path);
    secret.resize(std::size_t(in.gcount()));
    if (secret.size() > max_webhook_secret_bytes)
        throw config_error("webhooks.secret_file " + path + " holds more than " +
                           std::to_string(max_webhook_secret_bytes) + " bytes: is it the right file?");
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    return secret;
}

std::string_view last_segment(std::string_view path) {
    auto const dot = path.rfind('.');
    return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

// The valid keys near an unknown one, closest first: the same words with '_'
// for '-', the same last segment in another table (`secret` -> `jwt.secret`),
// its start (`tls.cert` -> `tls.cert_file`), or a typo away. Failing those,
// the keys of the table it was written in, or the tables.
std::string near_keys(std::string const& unknown, std::vector<setting_info> const& table) {
    std::string wanted = unknown;
    std::replace(wanted.begin(), wanted.end(), '-', '_');
    auto const want_last = last_segment(wanted);
    std::vector<std::pair<std::size_t, std::string>> near;  // (distance, key)
    for (auto const& s : table) {
        auto const last = last_segment(s.key);
        std::size_t d = std::min(edit_distance(s.key, wanted), edit_distance(last, want_last) + 1);
        if (s.key == wanted || last == want_last) d = 0;
        bool const prefix = want_last.size() >= 3 && (last.starts_with(want_last) || want_last.starts_with(last));
        if (prefix) d = std::min<std::size_t>(d, 1);
        if (d <= 2) near.emplace_back(d, s.key);
    }
    if (!near.empty()) {
        std::stable_sort(near.begin(), near.end(), [](auto const& a, auto const& b) { return a.first < b.first; });
        std::string out = "; did you mean ";
        std::size_t shown = 0;
        for (auto const& [d, key] : near) {
            if (d > near.front().first || shown == 3) break;
            out += (shown++ == 0 ? "'" : " or '") + key + "'";
        }
        return out + "?";
    }
    auto const dot = wanted.rfind('.');
    std::string const section = dot == std::string::npos ? "" : wanted.substr(0, dot + 1);
    std::string listed;
    std::set<std::string> tables;
    for (auto const& s : table) {
        auto const key_dot = s.key.rfind('.');
        if (!section.empty() && s.key.starts_with(section)) listed += (listed.empty() ? "" : ", ") + s.key;
        if (key_dot != std::string::npos) tables.insert("[" + s.key.substr(0, key_dot) + "]");
    }
    if (!listed.empty()) return "; the keys of [" + section.substr(0, section.size() - 1) + "] are " + listed;
    std::string all;
    for (auto const& t : tables) all += (all.empty() ? "" : ", ") + t;
    return "; valid keys are the top-level ones and those of " + all + " (vigil example-config lists them all)";
}

// --help shows a boolean as `--tls-only, --no-tls-only =off`, not CLI11's `{false}`.
struct settings_formatter final : CLI::Formatter {
    std::string make_option_name(CLI::Option const* opt, bool positional) const override {
        if (positional || opt->get_fnames().empty()) return CLI::Formatter::make_option_name(opt, positional);
        std::string out;
        for (auto const& name : opt->get_lnames()) out += (out.empty() ? "--" : ", --") + name;
        return out;
    }
};

}  // namespace

settings_loader::settings_loader(CLI::App& app) : from_cli_(std::make_unique<settings>()) {
    app.formatter(std::make_shared<settings_formatter>());
    app.add_option("-c,--config", config_file_, "TOML configuration file (vigil example-config prints one)")
        ->envname("VIGIL_CONFIG");

    // The one table: flag (and so the environment variable), TOML key, help,
    // field and --help section. The default is the field's in `settings`.
    // `env`: an environment name other than the flag's (a repeatable flag's plural).
    auto add = [&]<class T>(std::string const& flag, std::string toml_path, std::string desc, T& (*field)(settings&),
                            std::string const& group, std::string const& env = {}) {
        T& target = field(*from_cli_);
        setting_info info{flag,
                          env.empty() ? env_name(flag) : env,
                          toml_path,
                          group,
                          desc,
                          write_toml(target),
                          write_text(target),
                          std::is_same_v<T, bool>};
        CLI::Option* opt = nullptr;
        if constexpr (std::is_same_v<T, bool>) {
            // A bare flag, --no-... for off, and still `--flag true|false` for scripts.
            opt = app.add_flag(flag + ",!--no-" + flag.substr(2), target, desc)->expected(0, 1);
            opt->option_text("=" + info.default_text + " (Env:" + info.env + ")");
        } else {
            opt = app.add_option(flag, target, desc)->capture_default_str();
        }
        opt->envname(info.env)->group(group);
        if constexpr (std::is_same_v<T, std::vector<std::string>>) opt->delimiter(',');
        table_.push_back(std::move(info));
        bindings_.push_back(
            binding{opt, std::move(toml_path),
                    [field](settings& dst, settings const& src) { field(dst) = field(const_cast<settings&>(src)); },
                    [field](settings& dst, toml::node const& node) { return read_toml(node, field(dst)); },
                    [field](settings const& s) { return write_toml(field(const_cast<settings&>(s))); }});
    };
#define VIGIL_FIELD(expr) (+[](settings& s) -> decltype(auto) { return (s.expr); })
    std::string const server = "Server", auth = "Authentication", limits = "Limits", store = "Store";
    add("--host", "host", "address to listen on", VIGIL_FIELD(host), server);
    add("--port", "port", "TCP port (0 picks a free one)", VIGIL_FIELD(port), server);
    add("--threads", "threads", "I/O threads (0 = one per core)", VIGIL_FIELD(threads), server);
    add("--data-dir", "data_dir", "where the SQLite store lives", VIGIL_FIELD(data_dir), server);
    add("--web-root", "web_root", "folder of the dashboard served at / (default: found beside the binary)",
        VIGIL_FIELD(web_root), server);
    add("--log-level", "log_level", "debug, info, warn, error or off (SIGHUP rereads it)", VIGIL_FIELD(log_level),
        server);
    add("--access-log", "access_log", "HTTP access log (http.request lines): errors (status >= 400), all or off",
        VIGIL_FIELD(access_log), server);
    add("--ping-interval", "ping_interval", "seconds between server pings", VIGIL_FIELD(ping_interval), server);
    add("--heartbeat-timeout", "heartbeat_timeout", "seconds without any client message or pong before close 4000",
        VIGIL_FIELD(heartbeat_timeout), server);
    add("--inline-frames", "inline_frames", "send annotated frames as base64 in the message instead of a URL",
        VIGIL_FIELD(inline_frames), server);
    add("--dev", "dev", "development mode: monitoring open on loopback, random secret if none", VIGIL_FIELD(dev),
        server);
    add("--demo", "demo", "publish synthetic alerts to the user \"demo\" and print the dashboard link",
        VIGIL_FIELD(demo), server);

    std::string const tls = "TLS";
    add("--tls-cert", "tls.cert_file", "PEM certificate chain: serve https:// and wss:// on --tls-port",
        VIGIL_FIELD(tls.cert_file), tls);
    add("--tls-key", "tls.key_file", "PEM private key of --tls-cert (SIGHUP reloads both)", VIGIL_FIELD(tls.key_file),
        tls);
    add("--tls-port", "tls.port", "TCP port of the TLS listener (0 picks a free one)", VIGIL_FIELD(tls.port), tls);
    add("--tls-only", "tls.only", "no plain listener: TLS on --tls-port only", VIGIL_FIELD(tls.only), tls);

    add("--jwt-secret", "jwt.secret", "HS256 shared secret (prefer the environment)", VIGIL_FIELD(jwt.secret), auth);
    add("--jwt-algorithm", "jwt.algorithm", "HS256, RS256 or ES256", VIGIL_FIELD(jwt.algorithm), auth);
    add("--jwt-public-key-file", "jwt.public_key_file", "PEM public key for RS256/ES256",
        VIGIL_FIELD(jwt.public_key_file), auth);
    add("--jwt-issuer", "jwt.issuer", "required `iss` (empty: not checked)", VIGIL_FIELD(jwt.issuer), auth);
    add("--jwt-audience", "jwt.audience", "required `aud` (empty: not checked)", VIGIL_FIELD(jwt.audience), auth);
    add("--jwt-subject-claim", "jwt.subject_claim", "claim that must equal {user_id}", VIGIL_FIELD(jwt.subject_claim),
        auth);
    add("--jwt-leeway", "jwt.leeway", "seconds of clock skew allowed on exp and nbf", VIGIL_FIELD(jwt.leeway_seconds),
        auth);
    add("--close-on-token-expiry", "jwt.close_on_expiry",
        "close live connections (4003) whose token expires without a refresh", VIGIL_FIELD(jwt.close_on_expiry), auth);
    add("--admin-api-keys", "auth.admin_api_keys", "API keys with admin rights (comma-separated; SIGHUP rereads them)",
        VIGIL_FIELD(admin_api_keys), auth);
    add("--publisher-api-keys", "auth.publisher_api_keys",
        "API keys that may publish (comma-separated; SIGHUP rereads them)", VIGIL_FIELD(publisher_api_keys), auth);
    add("--allowed-origins", "allowed_origins",
        "browser Origins allowed to open WebSockets, comma-separated (empty: any; ignored in --dev)",
        VIGIL_FIELD(allowed_origins), auth);

    add("--max-message-bytes", "limits.max_message_bytes", "largest client WebSocket message; close 1009 beyond",
        VIGIL_FIELD(limits.max_message_bytes), limits);
    add("--max-body-bytes", "limits.max_body_bytes", "largest HTTP request body; 413 beyond",
        VIGIL_FIELD(limits.max_body_bytes), limits);
    add("--max-frame-bytes", "limits.max_frame_bytes", "largest annotated frame (decoded); 413 beyond",
        VIGIL_FIELD(limits.max_frame_bytes), limits);
    add("--max-header-bytes", "limits.max_header_bytes", "largest HTTP request head; 431 beyond",
        VIGIL_FIELD(limits.max_header_bytes), limits);
    add("--outbox-max-messages", "limits.outbox_max_messages", "messages queued to one client before close 4008",
        VIGIL_FIELD(limits.outbox_max_messages), limits);
    add("--outbox-max-bytes", "limits.outbox_max_bytes", "bytes queued to one client before close 4008",
        VIGIL_FIELD(limits.outbox_max_bytes), limits);
    add("--messages-per-second", "limits.messages_per_second", "sustained client messages per connection",
        VIGIL_FIELD(limits.messages_per_second), limits);
    add("--message-burst", "limits.message_burst", "client message burst; a client beyond it is closed with 1008",
        VIGIL_FIELD(limits.message_burst), limits);
    add("--http-timeout", "limits.http_timeout", "seconds for an HTTP request to arrive whole",
        VIGIL_FIELD(limits.http_timeout_seconds), limits);
    add("--max-connections", "limits.max_connections", "WebSocket connections on this node (0 = no limit)",
        VIGIL_FIELD(limits.max_connections), limits);
    add("--max-connections-per-address", "limits.max_connections_per_address",
        "WebSocket connections from one source address (0 = no limit)", VIGIL_FIELD(limits.max_connections_per_address),
        limits);
    add("--handshakes-per-second", "limits.handshakes_per_second", "sustained upgrades per source address",
        VIGIL_FIELD(limits.handshakes_per_second), limits);
    add("--handshake-burst", "limits.handshake_burst", "upgrade burst per source address; 429 beyond",
        VIGIL_FIELD(limits.handshake_burst), limits);
    add("--exempt-loopback", "limits.exempt_loopback",
        "per-address limits skip loopback sources (a local reverse proxy)", VIGIL_FIELD(limits.exempt_loopback),
        limits);

    add("--store", "store.engine", "sqlite (durable), memory (lost on exit) or postgres (a cluster's store)",
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
    add("--postgres-url", "store.postgres_url",
        "PostgreSQL for --store postgres: postgresql://user:password@host:port/db (prefer the environment)",
        VIGIL_FIELD(store.postgres_url), store);
    add("--postgres-pool-size", "store.postgres_pool_size", "connections to PostgreSQL from this node",
        VIGIL_FIELD(store.postgres_pool_size), store);

    std::string const push = "Web Push";
    add("--vapid-private-key-file", "push.vapid_private_key_file",
        "P-256 PEM key that signs pushes (empty: vapid_private_key.pem in --data-dir, generated on first start)",
        VIGIL_FIELD(push.vapid_private_key_file), push);
    add("--vapid-subject", "push.vapid_subject",
        "contact sent with every push (mailto: or https:); push services may refuse a placeholder",
        VIGIL_FIELD(push.vapid_subject), push);
    add("--push-ttl", "push.ttl", "seconds a push service keeps a push for an offline device (0-2419200)",
        VIGIL_FIELD(push.ttl_seconds), push);
    add("--push-group-window", "push.group_window",
        "seconds within which alerts of one group_key update one notification, with a count",
        VIGIL_FIELD(push.group_window_seconds), push);
    add("--push-allow-insecure-endpoints", "push.allow_insecure_endpoints",
        "push to plain http:// endpoints on loopback addresses (tests; only with --dev)",
        VIGIL_FIELD(push.allow_insecure_endpoints), push);

    std::string const webhooks = "Webhooks";
    add("--webhook-url", "webhooks.urls",
        "http:// or https:// URL that receives every alert's handling changes, signed (repeatable, or comma-separated; "
        "at most 16)",
        VIGIL_FIELD(webhooks.urls), webhooks, "VIGIL_WEBHOOK_URLS");
    add("--webhook-secret", "webhooks.secret",
        "key of the webhooks' X-Vigil-Signature (HMAC-SHA256), at least 16 bytes (prefer the environment or a file)",
        VIGIL_FIELD(webhooks.secret), webhooks);
    add("--webhook-secret-file", "webhooks.secret_file",
        "file holding --webhook-secret instead (a trailing newline is dropped)", VIGIL_FIELD(webhooks.secret_file),
        webhooks);

    std::string const cluster = "Cluster";
    add("--bus", "bus.engine", "local (one node) or redis (several nodes sharing a PostgreSQL store)",
        VIGIL_FIELD(bus.engine), cluster);
    add("--redis-url", "bus.redis_url", "Redis for --bus redis: redis://[:password@]host:port[/db]",
        VIGIL_FIELD(bus.redis_url), cluster);
    add("--redis-prefix", "bus.redis_prefix",
        "of every Redis key and channel: one per cluster sharing a Redis server (pub/sub ignores /db)",
        VIGIL_FIELD(bus.redis_prefix), cluster);
    add("--node-id", "node_id", "this node's name in the cluster (empty: host name and port)", VIGIL_FIELD(node_id),
        cluster);
#undef VIGIL_FIELD
}

settings_loader::~settings_loader() = default;

settings settings_loader::resolve() const {
    settings s;
    if (!config_file_.empty()) {
        toml::table file;
        try {
            file = toml::parse_file(config_file_);
        } catch (toml::parse_error const& e) {
            auto const& at = e.source().begin;
            throw config_error("cannot read " + config_file_ + ":" + std::to_string(at.line) + ":" +
                               std::to_string(at.column) + ": " + std::string{e.description()});
        }
        std::vector<std::pair<std::string, toml::source_region>> paths;
        collect_paths(file, "", paths);
        for (auto const& entry : paths) {
            // Not a structured binding: clang 14 (clang-tidy) cannot capture one in a lambda.
            auto const& path = entry.first;
            auto at = config_file_ + ":" + std::to_string(entry.second.begin.line) + ": ";
            auto const it =
                std::find_if(bindings_.begin(), bindings_.end(), [&](binding const& b) { return b.toml_path == path; });
            if (it == bindings_.end())
                throw config_error(at.append("unknown setting '").append(path).append("'") + near_keys(path, table_));
            if (!it->from_toml(s, *file.at_path(path).node()))
                throw config_error(
                    at.append("setting '").append(path).append("' has the wrong type or range (default: ") +
                    table_[std::size_t(it - bindings_.begin())].default_toml + ")");
        }
    }
    // CLI11 filled from_cli_ from flags or, failing those, the environment.
    for (auto const& b : bindings_)
        if (b.option->count() > 0) b.copy(s, *from_cli_);

    if (s.threads == 0) s.threads = std::max(1u, std::thread::hardware_concurrency());
    if (!s.webhooks.secret_file.empty()) s.webhooks.secret = read_secret_file(s.webhooks);
    if (auto errors = validate(s); !errors.empty()) {
        std::string all;
        for (auto const& e : errors) all += (all.empty() ? "" : "; ") + e;
        throw config_error(all);
    }
    return s;
}

std::string settings_loader::to_toml(settings const& s) const {
    // Top-level keys first (TOML puts everything after a [table] header in
    // it), then each table, in the order their first key appears.
    std::string top;
    std::vector<std::pair<std::string, std::string>> tables;
    for (std::size_t i = 0; i < table_.size(); ++i) {
        auto const& info = table_[i];
        auto const dot = info.key.find('.');
        std::string entry = "# " + info.help + "\n# " + info.flag +
                            (info.is_flag ? " / --no-" + info.flag.substr(2) : "") + ", " + info.env + "\n" +
                            (dot == std::string::npos ? info.key : info.key.substr(dot + 1)) + " = " +
                            bindings_[i].to_toml(s) + "\n\n";
        if (dot == std::string::npos) {
            top += entry;
            continue;
        }
        auto const name = info.key.substr(0, dot);
        auto it = std::find_if(tables.begin(), tables.end(), [&](auto const& t) { return t.first == name; });
        if (it == tables.end()) it = tables.insert(tables.end(), {name, "[" + name + "]\n\n"});
        it->second += entry;
    }
    std::string out =
        "# vigil configuration: every setting at its default (`vigil example-config` writes this file).\n"
        "# Use it with `vigil serve --config vigil.toml`. Flags beat VIGIL_* environment\n"
        "# variables, which beat this file, which beats the defaults. SIGHUP rereads the\n"
        "# API keys, the log level and the TLS certificate and key.\n\n" +
        top;
    for (auto const& [name, text] : tables) out += text;
    out.pop_back();  // one newline at the end
    return out;
}

std::vector<setting_info> settings_table() {
    CLI::App app;
    settings_loader loader{app};
    return loader.table();
}

std::string example_toml() {
    CLI::App app;
    settings_loader loader{app};
    return loader.to_toml(settings{});
}

namespace {

// Messages name a URL by its place, never by its text: a webhook's path or
// query may carry the receiver's token. Nor do they repeat the secret.
void validate_webhooks(webhook_settings const& w, std::vector<std::string>& out) {
    if (w.urls.size() > max_webhook_urls)
        out.push_back("webhooks.urls has " + std::to_string(w.urls.size()) + " URLs: at most " +
                      std::to_string(max_webhook_urls));
    for (std::size_t i = 0; i < w.urls.size(); ++i) {
        auto const which = "webhooks.urls: URL " + std::to_string(i + 1) + " of " + std::to_string(w.urls.size());
        if (auto const parsed = push::parse_configured_url(w.urls[i]); !parsed)
            out.push_back(which + ": " + parsed.error().detail);
        else if (auto const first = std::find(w.urls.begin(), w.urls.begin() + std::ptrdiff_t(i), w.urls[i]);
                 first != w.urls.begin() + std::ptrdiff_t(i))
            out.push_back(which + " repeats URL " + std::to_string(first - w.urls.begin() + 1));
    }
    if (!w.urls.empty() && w.secret.empty())
        out.push_back(
            "webhooks.urls needs a secret to sign with: --webhook-secret (VIGIL_WEBHOOK_SECRET, "
            "webhooks.secret) or --webhook-secret-file; `openssl rand -hex 32` makes one");
    if (!w.secret.empty() && w.secret.size() < min_webhook_secret_bytes)
        out.push_back("the webhook secret has " + std::to_string(w.secret.size()) + " bytes: at least " +
                      std::to_string(min_webhook_secret_bytes) + " are needed; `openssl rand -hex 32` makes one");
}

}  // namespace

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
    if (alg != "HS256" && s.jwt.public_key_file.empty()) out.push_back("jwt.public_key_file is required for " + alg);
    if (s.tls.cert_file.empty() != s.tls.key_file.empty()) out.push_back("tls.cert_file and tls.key_file go together");
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
    if (s.store.engine != "sqlite" && s.store.engine != "memory" && s.store.engine != "postgres")
        out.push_back("store.engine must be sqlite, memory or postgres");
    if (s.store.engine == "postgres" && s.store.postgres_url.empty())
        out.push_back("store.postgres_url (--postgres-url, VIGIL_POSTGRES_URL) is required for the postgres store");
    if (s.store.postgres_pool_size < 2) out.push_back("store.postgres_pool_size must be at least 2");
    if (s.bus.engine != "local" && s.bus.engine != "redis") out.push_back("bus.engine must be local or redis");
    // Nodes share alerts only through a shared store: a memory store is one
    // process's own (SQLite can be shared by the processes of one machine;
    // docs/cluster.md).
    if (s.bus.engine == "redis" && s.store.engine == "memory")
        out.push_back("bus.engine redis needs a shared store (postgres, or sqlite on one machine), not memory");
    if (s.node_id.size() > 128 ||
        std::any_of(s.node_id.begin(), s.node_id.end(), [](unsigned char c) { return c <= ' ' || c == 127; }))
        out.push_back("node_id must be at most 128 bytes, without spaces or control characters");
    if (s.store.synchronous != "full" && s.store.synchronous != "normal")
        out.push_back("store.synchronous must be full or normal");
    if (s.store.retention_days < 0) out.push_back("store.retention_days must not be negative");
    if (s.store.replay_batch == 0) out.push_back("store.replay_batch must be positive");
    if (!log::parse_level(s.log_level)) out.push_back("log_level must be debug, info, warn, error or off");
    if (!push::valid_vapid_subject(s.push.vapid_subject))
        out.push_back("push.vapid_subject must be a mailto: address or an https: URL (at most 256 characters)");
    if (s.push.ttl_seconds < 0 || s.push.ttl_seconds > push::max_push_ttl_seconds)
        out.push_back("push.ttl must be 0-" + std::to_string(push::max_push_ttl_seconds) + " seconds");
    if (s.push.group_window_seconds < 0 || s.push.group_window_seconds > 86'400)
        out.push_back("push.group_window must be 0-86400 seconds");
    if (s.push.allow_insecure_endpoints && !s.dev)
        out.push_back("push.allow_insecure_endpoints (--push-allow-insecure-endpoints) is for tests: only with --dev");
    validate_webhooks(s.webhooks, out);
    if (s.access_log != "errors" && s.access_log != "all" && s.access_log != "off")
        out.push_back("access_log must be errors, all or off");
    return out;
}

}  // namespace vigil
