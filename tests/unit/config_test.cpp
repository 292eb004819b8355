#include "config/config.hpp"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

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
    EXPECT_EQ(s.port, 9002);           // flag
    EXPECT_EQ(s.ping_interval, 11);    // environment
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
