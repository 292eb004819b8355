#include "app/cli_commands.hpp"

#include "alerts/alert_validation.hpp"
#include "auth/token_minter.hpp"
#include "client/alert_client.hpp"
#include "client/publisher.hpp"
#include "common/base64.hpp"
#include "common/clock.hpp"
#include "common/json_text.hpp"
#include "store/postgres_alert_store.hpp"
#include "store/sqlite_alert_store.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <cctype>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include <pthread.h>

namespace vigil::cli {

namespace {

struct endpoint {
    std::string host;
    std::uint16_t port;
    client::tls_options tls;
};

// --url: http:// or ws:// (plain), https:// or wss:// (TLS; verified unless
// --insecure, against --ca-file when given). Either command takes either
// family; the port defaults to vigil's, 8000 plain and 8443 with TLS.
endpoint parse_endpoint(std::string const& url, bool websocket, std::string const& ca_file, bool insecure) {
    std::string const plain = websocket ? "ws" : "http", secure = websocket ? "wss" : "https";
    auto const u = boost::urls::parse_uri(url);
    std::string scheme = u ? std::string{u->scheme()} : "";
    for (char& c : scheme) c = char(std::tolower(static_cast<unsigned char>(c)));
    bool const known = scheme == "http" || scheme == "https" || scheme == "ws" || scheme == "wss";
    if (!u || !known || u->host().empty()) {
        // "localhost:8101" parses as the scheme "localhost": suggest the URL meant.
        auto const sep = url.find("://");
        auto const rest = sep == std::string::npos ? url : url.substr(sep + 3);
        throw CLI::ValidationError("--url", "'" + url + "' is not a server URL; did you mean " + plain + "://" + rest +
                                                " (or " + secure + "://" + rest + " for TLS)?");
    }
    endpoint ep{std::string{u->host()}, 0, {}};
    ep.tls.enabled = scheme == "https" || scheme == "wss";
    ep.port = u->has_port() ? u->port_number() : static_cast<std::uint16_t>(ep.tls.enabled ? 8443 : 8000);
    if (!ep.tls.enabled && (insecure || !ca_file.empty()))
        throw CLI::ValidationError("--url", "--ca-file and --insecure are for " + secure + ":// URLs");
    ep.tls.ca_file = ca_file;
    ep.tls.verify = !insecure;
    if (insecure) std::cerr << "vigil: --insecure: the server's certificate is not checked\n";
    return ep;
}

void add_tls_options(CLI::App* cmd, std::string& ca_file, bool& insecure) {
    cmd->add_option("--ca-file", ca_file, "with https:// or wss://: trust only this PEM certificate or CA")
        ->check(CLI::ExistingFile);
    cmd->add_flag("--insecure", insecure,
                  "with https:// or wss://: do not check the server's certificate (self-signed development ones)");
}

// --token, else VIGIL_TOKEN, else one minted from VIGIL_JWT_SECRET (development),
// with the issuer and audience a server reads from VIGIL_JWT_ISSUER/_AUDIENCE.
std::string token_for(std::string const& given, std::string const& user, std::string const& role) {
    if (!given.empty()) return given;
    if (char const* t = std::getenv("VIGIL_TOKEN"); t && *t) return t;
    auto env = [](char const* name) {
        char const* v = std::getenv(name);
        return std::string{v ? v : ""};
    };
    if (auto const secret = env("VIGIL_JWT_SECRET"); !secret.empty())
        return auth::mint_hs256(secret, user, role, 3600, now_ms() / 1000,
                                {env("VIGIL_JWT_ISSUER"), env("VIGIL_JWT_AUDIENCE"), "sub"});
    throw CLI::ValidationError("--token", "give --token, or set VIGIL_TOKEN or VIGIL_JWT_SECRET");
}

}  // namespace

std::function<int()> add_listen(CLI::App& app) {
    struct args {
        std::string url = "ws://localhost:8000", user, token, ca_file;
        std::optional<std::uint64_t> since;
        std::string epoch;
        bool ack = false, insecure = false;
    };
    auto a = std::make_shared<args>();
    auto* cmd = app.add_subcommand(
        "listen", "print a user's alerts, and updates to them (alert_updated), as JSON lines, reconnecting as needed");
    cmd->add_option("--url", a->url, "server, ws://host:port or wss://host:port")->capture_default_str();
    add_tls_options(cmd, a->ca_file, a->insecure);
    cmd->add_option("--user", a->user, "user id")->required();
    cmd->add_option("--token", a->token, "JWT (default: VIGIL_TOKEN, or minted from VIGIL_JWT_SECRET)");
    cmd->add_option("--since", a->since, "replay every alert after this seq first");
    cmd->add_option("--epoch", a->epoch,
                    "the epoch --since was numbered in (as printed with each alert); from another epoch, "
                    "the server replays every unacknowledged alert instead");
    cmd->add_flag("--ack", a->ack, "acknowledge each alert as it is printed");
    return [cmd, a]() -> int {
        if (!*cmd) return -1;
        auto const ep = parse_endpoint(a->url, true, a->ca_file, a->insecure);
        client::client_options o;
        o.host = ep.host;
        o.port = ep.port;
        o.tls = ep.tls;
        o.user_id = a->user;
        o.since = a->since;
        o.since_epoch = a->epoch;
        o.auto_ack = a->ack;
        o.get_token = [a] { return token_for(a->token, a->user, ""); };
        o.on_update = [](boost::json::object const&, std::string_view text) { std::cout << text << std::endl; };
        int exit_code = 0;
        client::alert_client c{
            o, [](boost::json::object const&, std::string_view text) { std::cout << text << std::endl; },
            [&exit_code](client::status_event const& e) {
                static constexpr char const* names[] = {"connecting", "open", "reconnecting", "stopped"};
                std::cerr << "vigil listen: " << names[int(e.status)] << (e.detail.empty() ? "" : ": " + e.detail)
                          << std::endl;
                if (e.status == client::client_status::stopped && e.detail != "stopped") exit_code = 1;
            }};
        // SIGINT and SIGTERM stop the client from this thread, which waits for
        // them (sigwait), not from a signal handler: stop() posts to Asio,
        // which allocates, and nothing that allocates is safe in a handler.
        // The client runs on a thread that starts with them blocked.
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGUSR1);  // the client ended by itself
        pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
        auto const waiter = pthread_self();
        std::thread runner([&c, waiter] {
            c.run();
            pthread_kill(waiter, SIGUSR1);
        });
        for (int sig = 0; sigwait(&stop_signals, &sig) == 0 && sig != SIGUSR1;) c.stop();
        runner.join();
        return exit_code;
    };
}

std::function<int()> add_publish(CLI::App& app) {
    struct args {
        std::string url = "http://localhost:8000", user, stream, detection, frame, key, token, ca_file;
        bool insecure = false;
    };
    auto a = std::make_shared<args>();
    auto* cmd = app.add_subcommand("publish", "publish one alert over HTTP");
    cmd->add_option("--url", a->url, "server, http://host:port or https://host:port")->capture_default_str();
    add_tls_options(cmd, a->ca_file, a->insecure);
    cmd->add_option("--user", a->user, "the user to alert")->required();
    cmd->add_option("--stream", a->stream, "the camera stream id")->required();
    cmd->add_option("--detection", a->detection, "the detection, a JSON object")->required();
    cmd->add_option("--frame", a->frame, "annotated frame, a JPEG or PNG file")->check(CLI::ExistingFile);
    cmd->add_option("--idempotency-key", a->key, "retries with the same key are stored once");
    cmd->add_option("--token", a->token, "publisher JWT (default: VIGIL_TOKEN, or minted from VIGIL_JWT_SECRET)");
    return [cmd, a]() -> int {
        if (!*cmd) return -1;
        boost::system::error_code ec;
        auto detection = boost::json::parse(a->detection, ec);
        if (ec || !detection.is_object()) {
            std::cerr << "vigil publish: --detection must be a JSON object\n";
            return 2;
        }
        boost::json::object body{{"user_id", a->user}, {"stream_id", a->stream}};
        if (!a->key.empty()) body["idempotency_key"] = a->key;
        if (!a->frame.empty()) {
            std::ifstream in{a->frame, std::ios::binary};
            std::ostringstream bytes;
            bytes << in.rdbuf();
            auto const raw = bytes.str();
            body["frame"] = base64_encode(raw);
            if (auto const type = sniff_image_type(raw); !type.empty()) body["frame_content_type"] = type;
        }
        auto const ep = parse_endpoint(a->url, false, a->ca_file, a->insecure);
        try {
            // The detection goes as it was given: re-serialised, 0.93 would become 9.3E-1.
            auto text = boost::json::serialize(body);
            text.pop_back();
            text += R"(,"detection":)" + json_text::compact(a->detection) + "}";
            auto const answer = client::post_alerts(ep.host, ep.port, token_for(a->token, "vigil-cli", "publisher"),
                                                    std::move(text), ep.tls);
            std::cout << answer.body << std::endl;
            return answer.status == 201 ? 0 : 1;
        } catch (std::exception const& e) {
            std::cerr << "vigil publish: " << e.what() << "\n";
            return 1;
        }
    };
}

std::function<int()> add_new_epoch(CLI::App& app) {
    auto dir = std::make_shared<std::string>("./vigil-data");
    auto postgres_url = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand(
        "new-epoch",
        "start a new stream epoch in the store, after restoring it from a backup (SQLite: server stopped)");
    cmd->add_option("--data-dir", *dir, "the server's data directory (SQLite)")->capture_default_str();
    cmd->add_option("--postgres-url", *postgres_url, "the cluster's PostgreSQL store instead of SQLite")
        ->envname("VIGIL_POSTGRES_URL");
    return [cmd, dir, postgres_url]() -> int {
        if (!*cmd) return -1;
        try {
            std::string epoch;
            if (!postgres_url->empty()) {
                postgres_options o;
                o.url = *postgres_url;
                epoch = postgres_alert_store::begin_new_epoch(std::move(o));
            } else {
                epoch = sqlite_alert_store::begin_new_epoch((std::filesystem::path{*dir} / "vigil.db").string());
            }
            std::cout << "new epoch " << epoch
                      << ": clients resuming from an older position will get every unacknowledged alert\n";
            return 0;
        } catch (store_error const& e) {
            std::cerr << "vigil new-epoch: " << e.what() << "\n";
            return 1;
        }
    };
}

}  // namespace vigil::cli
