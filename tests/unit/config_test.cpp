#include "config/config.hpp"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace vigil;

namespace {

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
    setenv("VIGIL_JWT_SECRET", "s", 1);
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
                           "[jwt]\nsecret = \"from-file\"\n[store]\nengine = \"memory\"\n";
    setenv("VIGIL_PING_INTERVAL", "11", 1);
    setenv("VIGIL_PORT", "9001", 1);
    auto const s = resolve({"--config", file.string(), "--port", "9002"});
    EXPECT_EQ(s.port, 9002);           // flag
    EXPECT_EQ(s.ping_interval, 11);    // environment
    EXPECT_EQ(s.heartbeat_timeout, 20);  // file
    EXPECT_EQ(s.jwt.secret, "from-file");
    EXPECT_EQ(s.store.engine, "memory");
    unsetenv("VIGIL_PING_INTERVAL");
    unsetenv("VIGIL_PORT");
    std::filesystem::remove(file);
}

TEST(Config, RefusesMistakes) {
    auto const file = std::filesystem::temp_directory_path() / "vigil-config-bad.toml";
    std::ofstream{file} << "prot = 9000\n";
    EXPECT_THROW(resolve({"--config", file.string(), "--jwt-secret", "s"}), config_error);  // typo
    std::ofstream{file} << "port = \"eighty\"\n";
    EXPECT_THROW(resolve({"--config", file.string(), "--jwt-secret", "s"}), config_error);
    std::filesystem::remove(file);
    EXPECT_THROW(resolve({}), config_error);  // no secret outside --dev
    EXPECT_NO_THROW(resolve({"--dev"}));
    EXPECT_THROW(resolve({"--jwt-secret", "s", "--ping-interval", "0"}), config_error);
    EXPECT_THROW(resolve({"--jwt-secret", "s", "--store", "postgres"}), config_error);
    EXPECT_THROW(resolve({"--jwt-algorithm", "RS256"}), config_error);  // no key file
}
