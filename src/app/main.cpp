// vigil: delivers anomaly alerts from video-analytics pipelines to the people
// watching the cameras. `vigil serve` runs the server; `vigil token` mints
// development tokens; `vigil listen` and `vigil publish` are its clients;
// `vigil doctor` checks a running server from the outside.
#include "app/cli_commands.hpp"
#include "app/doctor.hpp"
#include "app/demo.hpp"
#include "app/server.hpp"
#include "auth/token_minter.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "config/config.hpp"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

namespace {

int serve(vigil::settings_loader const& loader) {
    vigil::settings s;
    try {
        s = loader.resolve();
    } catch (vigil::config_error const& e) {
        std::cerr << "vigil: " << e.what() << "\n";
        return 2;
    }
    vigil::log::set_level(*vigil::log::parse_level(s.log_level));
    try {
        vigil::server srv{s};
        srv.start(/*handle_signals=*/true);
        std::optional<vigil::demo_publisher> demo;
        if (s.demo) {
            auto const& secret = srv.config().jwt.secret;
            auto const now = vigil::now_ms() / 1000;
            auto const user_token = vigil::auth::mint_hs256(secret, "demo", "", 24 * 3600, now);
            auto const admin_token = vigil::auth::mint_hs256(secret, "demo-admin", "admin", 24 * 3600, now);
            auto const port = std::to_string(srv.port());
            std::cout << "\nvigil demo: publishing a synthetic alert every 4 s to the user \"demo\".\n\n"
                      << "  Dashboard:   http://localhost:" << port << "/?user=demo&token=" << user_token << "\n"
                      << "  WebSocket:   wscat -c \"ws://localhost:" << port << "/ws/alerts/demo?token=" << user_token
                      << "\"\n"
                      << "  Connections: curl -H \"Authorization: Bearer " << admin_token << "\" http://localhost:"
                      << port << "/ws/connections\n"
                      << "  History:     curl -H \"Authorization: Bearer " << user_token << "\" http://localhost:"
                      << port << "/api/v1/alerts\n\n"
                      << "Press Ctrl-C to stop.\n"
                      << std::endl;
            demo.emplace(srv.hub(), "demo");
        }
        srv.wait();
    } catch (std::exception const& e) {
        vigil::log::error("server.failed", {{"error", e.what()}});
        return 1;
    }
    return 0;
}

int token(std::string const& user, std::string const& role, std::int64_t ttl) {
    char const* secret = std::getenv("VIGIL_JWT_SECRET");
    if (!secret || !*secret) {
        std::cerr << "vigil token: set VIGIL_JWT_SECRET to the server's HS256 secret\n";
        return 2;
    }
    std::cout << vigil::auth::mint_hs256(secret, user, role, ttl, vigil::now_ms() / 1000) << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"vigil: real-time anomaly alert delivery over WebSocket"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "vigil 0.1.0");

    auto* serve_cmd = app.add_subcommand("serve", "run the alert server");
    vigil::settings_loader loader{*serve_cmd};

    auto* token_cmd = app.add_subcommand("token", "print an HS256 token signed with VIGIL_JWT_SECRET");
    std::string user, role;
    std::int64_t ttl = 3600;
    token_cmd->add_option("--user", user, "the token's subject (user id)")->required();
    token_cmd->add_option("--role", role, "admin or publisher")->check(CLI::IsMember({"admin", "publisher"}));
    token_cmd->add_option("--ttl", ttl, "lifetime in seconds")->capture_default_str()->check(CLI::PositiveNumber);

    auto const listen = vigil::cli::add_listen(app);
    auto const publish = vigil::cli::add_publish(app);
    auto const new_epoch = vigil::cli::add_new_epoch(app);
    auto const doctor = vigil::cli::add_doctor(app);

    CLI11_PARSE(app, argc, argv);
    if (*serve_cmd) return serve(loader);
    if (*token_cmd) return token(user, role, ttl);
    try {
        for (auto const& command : {listen, publish, new_epoch, doctor})
            if (int const rc = command(); rc >= 0) return rc;
    } catch (CLI::Error const& e) {
        return app.exit(e);
    }
    return 0;
}
