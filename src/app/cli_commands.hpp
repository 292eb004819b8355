#pragma once
// The client-side subcommands of the `vigil` binary.
#include <CLI/CLI.hpp>

#include <functional>

namespace vigil::cli {

// Registers `vigil listen` and `vigil publish`; the returned functions run the
// command that was parsed (or return -1 when it was not the one).
std::function<int()> add_listen(CLI::App& app);
std::function<int()> add_publish(CLI::App& app);
// Registers `vigil new-epoch` (after restoring a SQLite database from a backup).
std::function<int()> add_new_epoch(CLI::App& app);

}  // namespace vigil::cli
