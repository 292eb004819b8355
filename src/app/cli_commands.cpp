#include "app/cli_commands.hpp"

#include "alerts/alert_validation.hpp"
#include "auth/token_minter.hpp"
#include "client/alert_client.hpp"
#include "client/publisher.hpp"
#include "common/base64.hpp"
#include "common/clock.hpp"
#include "store/sqlite_alert_store.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <csignal>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

namespace vigil::cli {

namespace {

struct endpoint {
    std::string host;
    std::uint16_t port;
};

endpoint parse_endpoint(std::string const& url) {
    auto const u = boost::urls::parse_uri(url);
    if (!u || u->host().empty()) throw CLI::ValidationError("--url", "expected e.g. ws://localhost:8000");
    auto const scheme = u->scheme();
    if (scheme == "wss" || scheme == "https") throw CLI::ValidationError("--url", "TLS is not supported by this client yet");
    return {std::string{u->host()}, u->has_port() ? u->port_number() : std::uint16_t{8000}};
}

// --token, else VIGIL_TOKEN, else one minted from VIGIL_JWT_SECRET (development).
std::string token_for(std::string const& given, std::string const& user, std::string const& role) {
    if (!given.empty()) return given;
    if (char const* t = std::getenv("VIGIL_TOKEN"); t && *t) return t;
    if (char const* s = std::getenv("VIGIL_JWT_SECRET"); s && *s)
        return auth::mint_hs256(s, user, role, 3600, now_ms() / 1000);
    throw CLI::ValidationError("--token", "give --token, or set VIGIL_TOKEN or VIGIL_JWT_SECRET");
}

client::alert_client* running_client = nullptr;

}  // namespace

std::function<int()> add_listen(CLI::App& app) {
    struct args {
        std::string url = "ws://localhost:8000", user, token;
        std::optional<std::uint64_t> since;
        std::string epoch;
        bool ack = false;
    };
    auto a = std::make_shared<args>();
    auto* cmd = app.add_subcommand("listen", "print a user's alerts as JSON lines, reconnecting as needed");
    cmd->add_option("--url", a->url, "server, ws://host:port")->capture_default_str();
    cmd->add_option("--user", a->user, "user id")->required();
    cmd->add_option("--token", a->token, "JWT (default: VIGIL_TOKEN, or minted from VIGIL_JWT_SECRET)");
    cmd->add_option("--since", a->since, "replay every alert after this seq first");
    cmd->add_option("--epoch", a->epoch,
                    "the epoch --since was numbered in (as printed with each alert); from another epoch, "
                    "the server replays every unacknowledged alert instead");
    cmd->add_flag("--ack", a->ack, "acknowledge each alert as it is printed");
    return [cmd, a]() -> int {
        if (!*cmd) return -1;
        auto const ep = parse_endpoint(a->url);
        client::client_options o;
        o.host = ep.host;
        o.port = ep.port;
        o.user_id = a->user;
        o.since = a->since;
        o.since_epoch = a->epoch;
        o.auto_ack = a->ack;
        o.get_token = [a] { return token_for(a->token, a->user, ""); };
        int exit_code = 0;
        client::alert_client c{o,
                               [](boost::json::object const& alert) {
                                   std::cout << boost::json::serialize(alert) << std::endl;
                               },
                               [&exit_code](client::status_event const& e) {
                                   static constexpr char const* names[] = {"connecting", "open", "reconnecting", "stopped"};
                                   std::cerr << "vigil listen: " << names[int(e.status)]
                                             << (e.detail.empty() ? "" : ": " + e.detail) << std::endl;
                                   if (e.status == client::client_status::stopped && e.detail != "stopped") exit_code = 1;
                               }};
        running_client = &c;
        std::signal(SIGINT, [](int) { running_client->stop(); });
        std::signal(SIGTERM, [](int) { running_client->stop(); });
        c.run();
        running_client = nullptr;
        return exit_code;
    };
}

std::function<int()> add_publish(CLI::App& app) {
    struct args {
        std::string url = "http://localhost:8000", user, stream, detection, frame, key, token;
    };
    auto a = std::make_shared<args>();
    auto* cmd = app.add_subcommand("publish", "publish one alert over HTTP");
    cmd->add_option("--url", a->url, "server, http://host:port")->capture_default_str();
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
        boost::json::object body{{"user_id", a->user}, {"stream_id", a->stream}, {"detection", detection}};
        if (!a->key.empty()) body["idempotency_key"] = a->key;
        if (!a->frame.empty()) {
            std::ifstream in{a->frame, std::ios::binary};
            std::ostringstream bytes;
            bytes << in.rdbuf();
            auto const raw = bytes.str();
            body["frame"] = base64_encode(raw);
            if (auto const type = sniff_image_type(raw); !type.empty()) body["frame_content_type"] = type;
        }
        auto const ep = parse_endpoint(a->url);
        try {
            auto const answer = client::post_alerts(ep.host, ep.port, token_for(a->token, "vigil-cli", "publisher"), body);
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
    auto* cmd = app.add_subcommand(
        "new-epoch",
        "start a new stream epoch in the SQLite store, after restoring it from a backup (server stopped)");
    cmd->add_option("--data-dir", *dir, "the server's data directory")->capture_default_str();
    return [cmd, dir]() -> int {
        if (!*cmd) return -1;
        try {
            auto const path = (std::filesystem::path{*dir} / "vigil.db").string();
            std::cout << "new epoch " << sqlite_alert_store::begin_new_epoch(path)
                      << ": clients resuming from an older position will get every unacknowledged alert\n";
            return 0;
        } catch (store_error const& e) {
            std::cerr << "vigil new-epoch: " << e.what() << "\n";
            return 1;
        }
    };
}

}  // namespace vigil::cli
