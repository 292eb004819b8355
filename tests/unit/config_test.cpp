#include "config/config.hpp"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

using namespace vigil;

namespace {

char const* const long_secret = "config-test-secret-0123456789abcdef";

settings resolve(std::vector<std::string> args) {
    CLI::App app;
    settings_loader loader{app};
    std::vector<char const*> argv = {"serve"};
    for (auto const& a : args) argv.push_back(a.c_str());
    app.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
    return loader.resolve();
}

}  // namespace

TEST(Config, QuickReferenceDefaults) {
    setenv("VIGIL_JWT_SECRET", long_secret, 1);
    auto const s = resolve({});
    EXPECT_EQ(s.port, 8000);
    EXPECT_EQ(s.ping_interval, 30);
    EXPECT_EQ(s.heartbeat_timeout, 60);
    EXPECT_EQ(s.limits.max_message_bytes, 64u * 1024);
    EXPECT_EQ(s.store.engine, "sqlite");
    EXPECT_GE(s.threads, 1u);
    unsetenv("VIGIL_JWT_SECRET");
}

TEST(Config, FlagsBeatEnvironmentWhichBeatsTheFile) {
    auto const file = std::filesystem::temp_directory_path() / "vigil-config-test.toml";
    std::ofstream{file} << "port = 9000\nping_interval = 10\nheartbeat_timeout = 20\n"
                           "[jwt]\nsecret = \"from-file-0123456789abcdef0123456789\"\n[store]\nengine = \"memory\"\n";
    setenv("VIGIL_PING_INTERVAL", "11", 1);
    setenv("VIGIL_PORT", "9001", 1);
    auto const s = resolve({"--config", file.string(), "--port", "9002"});
    EXPECT_EQ(s.port, 9002);             // flag
    EXPECT_EQ(s.ping_interval, 11);      // environment
    EXPECT_EQ(s.heartbeat_timeout, 20);  // file
    EXPECT_EQ(s.jwt.secret, "from-file-0123456789abcdef0123456789");
    EXPECT_EQ(s.store.engine, "memory");
    unsetenv("VIGIL_PING_INTERVAL");
    unsetenv("VIGIL_PORT");
    std::filesystem::remove(file);
}

TEST(Config, RefusesMistakes) {
    auto const file = std::filesystem::temp_directory_path() / "vigil-config-bad.toml";
    std::ofstream{file} << "prot = 9000\n";
    EXPECT_THROW(resolve({"--config", file.string(), "--jwt-secret", long_secret}), config_error);  // typo
    std::ofstream{file} << "port = \"eighty\"\n";
    EXPECT_THROW(resolve({"--config", file.string(), "--jwt-secret", long_secret}), config_error);
    std::filesystem::remove(file);
    EXPECT_THROW(resolve({}), config_error);  // no secret outside --dev
    EXPECT_NO_THROW(resolve({"--dev"}));
    EXPECT_THROW(resolve({"--jwt-secret", long_secret, "--ping-interval", "0"}), config_error);
    EXPECT_THROW(resolve({"--jwt-secret", long_secret, "--store", "postgres"}), config_error);
    EXPECT_THROW(resolve({"--jwt-algorithm", "RS256"}), config_error);  // no key file
}

// ------------------------------------------------- one table, every spelling

namespace {

std::string source_file(std::string const& path) {
    std::ifstream in{std::string{VIGIL_SOURCE_DIR} + "/" + path};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string config_error_of(std::string const& toml_text) {
    auto const file = std::filesystem::temp_directory_path() / "vigil-config-message.toml";
    std::ofstream{file} << toml_text;
    try {
        resolve({"--config", file.string(), "--jwt-secret", long_secret});
    } catch (config_error const& e) {
        std::filesystem::remove(file);
        return e.what();
    }
    std::filesystem::remove(file);
    return "accepted";
}

std::vector<std::string> split_cell(std::string cell) {
    std::vector<std::string> out;
    std::erase(cell, '`');
    std::size_t start = 0;
    for (;;) {
        auto const comma = cell.find(", ", start);
        auto item = cell.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        while (!item.empty() && item.front() == ' ') item.erase(0, 1);
        while (!item.empty() && item.back() == ' ') item.pop_back();
        out.push_back(item);
        if (comma == std::string::npos) return out;
        start = comma + 2;
    }
}

}  // namespace

TEST(ConfigTable, ExampleFileIsGeneratedFromTheTable) {
    EXPECT_EQ(source_file("vigil.example.toml"), example_toml())
        << "vigil.example.toml is stale: regenerate it with `build/vigil example-config > vigil.example.toml`";
}

TEST(ConfigTable, ExampleFileLoadsWithEveryKeySetToItsDefault) {
    auto const path = std::string{VIGIL_SOURCE_DIR} + "/vigil.example.toml";
    auto const file = toml::parse_file(path);
    std::set<std::string> keys;
    file.for_each([&](toml::key const& k, auto const& node) {
        if constexpr (toml::is_table<decltype(node)>)
            for (auto const& [sub, value] : node) keys.insert(std::string{k.str()} + "." + std::string{sub.str()});
        else
            keys.insert(std::string{k.str()});
    });
    std::set<std::string> expected;
    for (auto const& s : settings_table()) expected.insert(s.key);
    EXPECT_EQ(keys, expected);

    CLI::App app;
    settings_loader loader{app};
    std::vector<char const*> argv = {"serve", "--config", path.c_str(), "--jwt-secret", long_secret};
    app.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
    auto loaded = loader.resolve();
    loaded.threads = 0;  // resolve() turns 0 into the core count
    loaded.jwt.secret.clear();
    EXPECT_EQ(loader.to_toml(loaded), example_toml());
}

TEST(ConfigTable, HelpShowsEveryFlagWithItsEnvironmentVariable) {
    CLI::App app;
    settings_loader loader{app};
    auto const help = app.help();
    for (auto const& s : loader.table()) {
        auto const shown = s.is_flag ? s.flag + ", --no-" + s.flag.substr(2) + " =" + s.default_text : s.flag + " ";
        EXPECT_NE(help.find(shown), std::string::npos) << shown;
        EXPECT_NE(help.find("(Env:" + s.env + ")"), std::string::npos) << s.env;
        EXPECT_NE(help.find(s.help), std::string::npos) << s.help;
    }
}

// The README's table: a subset, but each row's flags, environment variables,
// TOML keys and defaults as the table has them.
TEST(ConfigTable, ReadmeTableAgreesWithTheTable) {
    auto const readme = source_file("README.md");
    auto const header = readme.find("| flag | environment | TOML key | default | meaning |");
    ASSERT_NE(header, std::string::npos) << "README.md has no settings table";
    auto const table = settings_table();
    std::istringstream lines{readme.substr(header)};
    std::string line;
    std::getline(lines, line);  // header
    std::getline(lines, line);  // |---|
    int rows = 0;
    while (std::getline(lines, line) && line.starts_with("|")) {
        std::vector<std::string> cells;
        std::size_t start = 1;
        for (auto bar = line.find(" | ", start); cells.size() < 4 && bar != std::string::npos;
             start = bar + 3, bar = line.find(" | ", start))
            cells.push_back(line.substr(start, bar - start));
        ASSERT_EQ(cells.size(), 4u) << line;
        auto const flags = split_cell(cells[0]), envs = split_cell(cells[1]), keys = split_cell(cells[2]),
                   defaults = split_cell(cells[3]);
        ASSERT_EQ(envs.size(), flags.size()) << line;
        ASSERT_EQ(keys.size(), flags.size()) << line;
        ASSERT_EQ(defaults.size(), flags.size()) << line;
        for (std::size_t i = 0; i < flags.size(); ++i) {
            auto const it = std::find_if(table.begin(), table.end(), [&](auto const& s) { return s.flag == flags[i]; });
            ASSERT_NE(it, table.end()) << flags[i] << " is not a setting";
            EXPECT_EQ(envs[i], it->env) << flags[i];
            EXPECT_EQ(keys[i], it->key) << flags[i];
            EXPECT_EQ(defaults[i], it->default_text) << flags[i];
        }
        ++rows;
    }
    EXPECT_GE(rows, 10);
}

TEST(ConfigTable, BooleansAreBareFlagsWithANoForm) {
    setenv("VIGIL_JWT_SECRET", long_secret, 1);
    EXPECT_FALSE(resolve({}).inline_frames);
    EXPECT_TRUE(resolve({"--inline-frames"}).inline_frames);
    EXPECT_FALSE(resolve({"--inline-frames", "--no-inline-frames"}).inline_frames);
    EXPECT_TRUE(resolve({}).store.group_commit);
    EXPECT_FALSE(resolve({"--no-group-commit"}).store.group_commit);
    EXPECT_FALSE(resolve({"--no-exempt-loopback", "--port", "9"}).limits.exempt_loopback);
    // The older spelling, for scripts.
    EXPECT_TRUE(resolve({"--inline-frames", "true", "--port", "9"}).inline_frames);
    EXPECT_FALSE(resolve({"--group-commit", "false"}).store.group_commit);
    EXPECT_FALSE(resolve({"--group-commit=false"}).store.group_commit);
    setenv("VIGIL_INLINE_FRAMES", "true", 1);
    EXPECT_TRUE(resolve({}).inline_frames);
    EXPECT_FALSE(resolve({"--no-inline-frames"}).inline_frames);  // the flag beats the environment
    unsetenv("VIGIL_INLINE_FRAMES");
    unsetenv("VIGIL_JWT_SECRET");
}

TEST(ConfigTable, UnknownKeysNameTheNearOnesAndErrorsTheirLine) {
    auto contains = [](std::string const& text, std::string const& part) {
        return text.find(part) != std::string::npos ? ::testing::AssertionSuccess()
                                                    : ::testing::AssertionFailure() << text;
    };
    EXPECT_TRUE(contains(config_error_of("port = 9000\ndata-dir = \"/x\"\n"),
                         ".toml:2: unknown setting 'data-dir'; did you mean 'data_dir'?"));
    EXPECT_TRUE(contains(config_error_of("data_dir = \"/x\"\n"), "accepted"));
    EXPECT_TRUE(contains(config_error_of("secret = \"x\"\n"), "did you mean 'jwt.secret' or 'webhooks.secret'?"));
    EXPECT_TRUE(contains(config_error_of("engine = \"memory\"\n"), "did you mean 'store.engine' or 'bus.engine'?"));
    EXPECT_TRUE(contains(config_error_of("[tls]\ncert = \"c.pem\"\n"),
                         ":2: unknown setting 'tls.cert'; did you mean 'tls.cert_file'?"));
    EXPECT_TRUE(contains(config_error_of("[store]\nfoo = 1\n"), "the keys of [store] are store.engine, "));
    EXPECT_TRUE(contains(config_error_of("zzzz = 1\n"), "[limits]"));
    EXPECT_TRUE(contains(config_error_of("\n\nport = \"x\"\n"), ".toml:3: setting 'port' has the wrong type or range"));
    EXPECT_TRUE(contains(config_error_of("port = 1\nhost =\n"), ".toml:2:"));  // not TOML at all
}

TEST(Config, RefusesAnHs256SecretShorterThanTheHashOutsideDev) {
    std::string const short_secret(31, 'k');
    try {
        resolve({"--jwt-secret", short_secret});
        FAIL() << "a 31-byte secret was accepted";
    } catch (config_error const& e) {
        EXPECT_NE(std::string{e.what()}.find("at least 32"), std::string::npos) << e.what();
        EXPECT_EQ(std::string{e.what()}.find(short_secret), std::string::npos) << "the secret is never echoed";
    }
    EXPECT_NO_THROW(resolve({"--jwt-secret", std::string(32, 'k')}));
    EXPECT_NO_THROW(resolve({"--dev", "--jwt-secret", short_secret}));  // development only
}

// SPEC section 5's settings: a PostgreSQL store needs its URL; the Redis bus
// needs a store the nodes share; a node's name is printable.
TEST(Config, ClusterSettings) {
    EXPECT_THROW(resolve({"--jwt-secret", long_secret, "--store", "postgres"}), config_error);  // no URL
    auto const s =
        resolve({"--jwt-secret", long_secret, "--store", "postgres", "--postgres-url", "postgresql://vigil@db/vigil",
                 "--bus", "redis", "--redis-url", "redis://bus:6380/2", "--node-id", "node-a"});
    EXPECT_EQ(s.store.engine, "postgres");
    EXPECT_EQ(s.store.postgres_url, "postgresql://vigil@db/vigil");
    EXPECT_EQ(s.bus.engine, "redis");
    EXPECT_EQ(s.bus.redis_url, "redis://bus:6380/2");
    EXPECT_EQ(s.node_id, "node-a");
    EXPECT_EQ(resolve({"--jwt-secret", long_secret}).bus.engine, "local");
    EXPECT_THROW(resolve({"--jwt-secret", long_secret, "--store", "memory", "--bus", "redis"}), config_error);
    EXPECT_NO_THROW(resolve({"--jwt-secret", long_secret, "--bus", "redis"}));  // SQLite shared on one machine
    EXPECT_THROW(resolve({"--jwt-secret", long_secret, "--bus", "kafka"}), config_error);
    EXPECT_THROW(resolve({"--jwt-secret", long_secret, "--node-id", "a b"}), config_error);
}

TEST(Config, PushSettings) {
    auto const d = resolve({"--jwt-secret", long_secret});
    EXPECT_EQ(d.push.vapid_subject, "mailto:vigil@localhost");
    EXPECT_EQ(d.push.ttl_seconds, 86400);
    EXPECT_EQ(d.push.group_window_seconds, 300);
    EXPECT_FALSE(d.push.allow_insecure_endpoints);
    EXPECT_TRUE(d.push.vapid_private_key_file.empty());
    auto const s = resolve({"--jwt-secret", long_secret, "--vapid-subject", "https://ops.example.com/contact",
                            "--push-ttl", "600", "--push-group-window", "0", "--vapid-private-key-file", "/k.pem"});
    EXPECT_EQ(s.push.vapid_subject, "https://ops.example.com/contact");
    EXPECT_EQ(s.push.ttl_seconds, 600);
    EXPECT_EQ(s.push.group_window_seconds, 0);
    EXPECT_EQ(s.push.vapid_private_key_file, "/k.pem");
    EXPECT_THROW(resolve({"--jwt-secret", long_secret, "--vapid-subject", "ops@example.com"}), config_error);
    EXPECT_THROW(resolve({"--jwt-secret", long_secret, "--vapid-subject", "http://example.com"}), config_error);
    EXPECT_THROW(resolve({"--jwt-secret", long_secret, "--push-ttl", "-1"}), config_error);
    EXPECT_THROW(resolve({"--jwt-secret", long_secret, "--push-ttl", "2419201"}), config_error);
    EXPECT_THROW(resolve({"--jwt-secret", long_secret, "--push-group-window", "-5"}), config_error);
    // Plain http:// push endpoints are for tests: only beside --dev.
    EXPECT_THROW(resolve({"--jwt-secret", long_secret, "--push-allow-insecure-endpoints"}), config_error);
    EXPECT_TRUE(resolve({"--dev", "--push-allow-insecure-endpoints"}).push.allow_insecure_endpoints);
}

// Webhooks: URLs from flags (repeatable), the environment (comma-separated)
// or the file; a secret of at least 16 bytes, given or read from a file;
// errors that name neither the secret nor a URL's path.
TEST(Config, WebhookSettings) {
    std::string const hook_secret = "whsec-0123456789abcdef";
    auto const d = resolve({"--jwt-secret", long_secret});
    EXPECT_TRUE(d.webhooks.urls.empty());
    EXPECT_TRUE(d.webhooks.secret.empty());

    auto const s = resolve({"--jwt-secret", long_secret, "--webhook-url", "https://hooks.example.com/vigil",
                            "--webhook-url", "http://10.0.0.7:8080/in", "--webhook-secret", hook_secret});
    EXPECT_EQ(s.webhooks.urls,
              (std::vector<std::string>{"https://hooks.example.com/vigil", "http://10.0.0.7:8080/in"}));
    EXPECT_EQ(s.webhooks.secret, hook_secret);

    setenv("VIGIL_WEBHOOK_URLS", "https://a.example.com/h,http://b.internal/h", 1);
    setenv("VIGIL_WEBHOOK_SECRET", hook_secret.c_str(), 1);
    auto const e = resolve({"--jwt-secret", long_secret});
    EXPECT_EQ(e.webhooks.urls, (std::vector<std::string>{"https://a.example.com/h", "http://b.internal/h"}));
    EXPECT_EQ(e.webhooks.secret, hook_secret);
    unsetenv("VIGIL_WEBHOOK_URLS");
    unsetenv("VIGIL_WEBHOOK_SECRET");

    auto const dir = std::filesystem::temp_directory_path();
    auto const secret_file = dir / "vigil-webhook-secret";
    std::ofstream{secret_file} << hook_secret << "\n";
    auto const file = dir / "vigil-webhook-config.toml";
    std::ofstream{file} << "[webhooks]\nurls = [\"https://hooks.example.com/a\"]\nsecret_file = \""
                        << secret_file.string() << "\"\n";
    auto const f = resolve({"--config", file.string(), "--jwt-secret", long_secret});
    EXPECT_EQ(f.webhooks.urls, (std::vector<std::string>{"https://hooks.example.com/a"}));
    EXPECT_EQ(f.webhooks.secret, hook_secret) << "the file's trailing newline is not part of the secret";

    auto error_of = [&](std::vector<std::string> args) -> std::string {
        args.insert(args.begin(), {"--jwt-secret", long_secret});
        try {
            resolve(args);
        } catch (config_error const& e) {
            return e.what();
        }
        return "accepted";
    };
    auto const secret_args = std::vector<std::string>{"--webhook-secret", hook_secret};
    auto with_secret = [&](std::vector<std::string> args) {
        args.insert(args.end(), secret_args.begin(), secret_args.end());
        return error_of(args);
    };
    EXPECT_NE(error_of({"--webhook-url", "https://h.example.com/x"}).find("needs a secret"), std::string::npos);
    auto const short_one = error_of({"--webhook-url", "https://h.example.com/x", "--webhook-secret", "tooshort"});
    EXPECT_NE(short_one.find("at least 16"), std::string::npos) << short_one;
    EXPECT_EQ(short_one.find("tooshort"), std::string::npos) << "the secret is never echoed";
    auto const ftp = with_secret({"--webhook-url", "ftp://h.example.com/secret-path-token"});
    EXPECT_NE(ftp.find("URL 1 of 1"), std::string::npos) << ftp;
    EXPECT_EQ(ftp.find("secret-path-token"), std::string::npos) << "a URL's path may hold a token: " << ftp;
    EXPECT_NE(with_secret({"--webhook-url", "/relative/hook"}), "accepted");
    EXPECT_NE(with_secret({"--webhook-url", "https:///no-host"}), "accepted");
    EXPECT_NE(with_secret({"--webhook-url", "https://user:pw@h.example.com/x"}), "accepted");
    EXPECT_NE(with_secret({"--webhook-url", "https://h.example.com/x", "--webhook-url", "https://h.example.com/x"})
                  .find("repeats URL 1"),
              std::string::npos);
    std::vector<std::string> seventeen;
    for (int i = 0; i < 17; ++i)
        seventeen.insert(seventeen.end(), {"--webhook-url", "https://h.example.com/" + std::to_string(i)});
    EXPECT_NE(with_secret(seventeen).find("at most 16"), std::string::npos);
    seventeen.resize(32);
    EXPECT_EQ(with_secret(seventeen), "accepted");
    // One way to give the secret, and a file that is there.
    EXPECT_NE(
        error_of({"--webhook-secret", hook_secret, "--webhook-secret-file", secret_file.string()}).find("both set"),
        std::string::npos);
    auto const missing = error_of({"--webhook-secret-file", (dir / "vigil-no-such-secret").string()});
    EXPECT_NE(missing.find("cannot read webhooks.secret_file"), std::string::npos) << missing;
    std::filesystem::remove(secret_file);
    std::filesystem::remove(file);
}

TEST(ConfigTable, HelpNeverShowsAWebhookSecret) {
    setenv("VIGIL_WEBHOOK_SECRET", "whsec-from-the-environment-0123", 1);
    CLI::App app;
    settings_loader loader{app};
    EXPECT_EQ(app.help().find("whsec-from-the-environment"), std::string::npos);
    unsetenv("VIGIL_WEBHOOK_SECRET");
}
