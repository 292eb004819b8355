// vigil: delivers anomaly alerts from video-analytics pipelines to the people
// watching the cameras. `vigil serve` runs the server; `vigil token` mints
// development tokens; `vigil listen` and `vigil publish` are its clients;
// `vigil doctor` checks a running server from the outside.
#include "app/cli_commands.hpp"
#include "app/demo.hpp"
#include "app/doctor.hpp"
#include "app/server.hpp"
#include "auth/token_minter.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "config/config.hpp"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

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
        srv.set_settings_source([&loader] { return loader.resolve(); });  // SIGHUP rereads the file
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
                      << "  Connections: curl -H \"Authorization: Bearer " << admin_token
                      << "\" http://localhost:" << port << "/ws/connections\n"
                      << "  History:     curl -H \"Authorization: Bearer " << user_token
                      << "\" http://localhost:" << port << "/api/v1/alerts\n\n"
                      << "Press Ctrl-C to stop.\n"
                      << std::endl;
            demo.emplace(srv.embedding(), "demo");
        }
        srv.wait();
    } catch (std::exception const& e) {
        vigil::log::error("server.failed", {{"error", e.what()}});
        return 1;
    }
    return 0;
}

struct token_args {
    std::string user, role, config_file, issuer, audience;
    std::int64_t ttl = 3600;
};

// The secret, issuer, audience and subject claim of the server's settings:
// --config's file under the environment (VIGIL_JWT_SECRET...), as `vigil
// serve` reads them; --issuer and --audience win.
int token(token_args const& a) {
    vigil::settings s;
    try {
        CLI::App app;
        vigil::settings_loader loader{app};
        std::vector<std::string> args = {"token"};
        if (!a.config_file.empty()) args.insert(args.end(), {"--config", a.config_file});
        std::vector<char const*> argv;
        argv.reserve(args.size());
        for (auto const& arg : args) argv.push_back(arg.c_str());
        app.parse(int(argv.size()), const_cast<char**>(argv.data()));
        s = loader.resolve();
    } catch (vigil::config_error const& e) {
        std::cerr << "vigil token: " << e.what() << "\n";
        return 2;
    } catch (CLI::ParseError const& e) {
        std::cerr << "vigil token: " << e.what() << "\n";
        return 2;
    }
    if (s.jwt.algorithm != "HS256") {
        std::cerr << "vigil token: the server verifies " << s.jwt.algorithm
                  << " tokens, signed by your identity provider; vigil token signs HS256 only\n";
        return 2;
    }
    if (s.jwt.secret.empty()) {
        std::cerr << "vigil token: set VIGIL_JWT_SECRET to the server's HS256 secret (or give --config)\n";
        return 2;
    }
    vigil::auth::mint_options o{a.issuer.empty() ? s.jwt.issuer : a.issuer,
                                a.audience.empty() ? s.jwt.audience : a.audience, s.jwt.subject_claim};
    std::cout << vigil::auth::mint_hs256(s.jwt.secret, a.user, a.role, a.ttl, vigil::now_ms() / 1000, o) << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"vigil: real-time anomaly alert delivery over WebSocket"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "vigil 0.1.0");

    auto* serve_cmd = app.add_subcommand("serve", "run the alert server");
    vigil::settings_loader loader{*serve_cmd};

    auto* token_cmd = app.add_subcommand(
        "token", "print an HS256 token signed with the server's secret (VIGIL_JWT_SECRET, or --config's)");
    token_args t;
    token_cmd->add_option("--user", t.user, "the token's subject (user id)")->required();
    token_cmd->add_option("--role", t.role, "admin or publisher")->check(CLI::IsMember({"admin", "publisher"}));
    token_cmd->add_option("--ttl", t.ttl, "lifetime in seconds")->capture_default_str()->check(CLI::PositiveNumber);
    token_cmd
        ->add_option("-c,--config", t.config_file,
                     "the server's TOML file: its jwt.secret, jwt.issuer, jwt.audience, jwt.subject_claim")
        ->envname("VIGIL_CONFIG")
        ->check(CLI::ExistingFile);
    token_cmd->add_option("--issuer", t.issuer, "the `iss` claim (default: the server's jwt.issuer)");
    token_cmd->add_option("--audience", t.audience, "the `aud` claim (default: the server's jwt.audience)");

    auto* example_cmd = app.add_subcommand(
        "example-config", "print an annotated TOML file with every setting at its default (vigil.example.toml)");

    auto const listen = vigil::cli::add_listen(app);
    auto const publish = vigil::cli::add_publish(app);
    auto const new_epoch = vigil::cli::add_new_epoch(app);
    auto const doctor = vigil::cli::add_doctor(app);

    CLI11_PARSE(app, argc, argv);
    if (*serve_cmd) return serve(loader);
    if (*token_cmd) return token(t);
    if (*example_cmd) {
        std::cout << vigil::example_toml();
        return 0;
    }
    try {
        for (auto const& command : {listen, publish, new_epoch, doctor})
            if (int const rc = command(); rc >= 0) return rc;
    } catch (CLI::Error const& e) {
        return app.exit(e);
    }
    return 0;
}
