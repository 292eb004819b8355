// The store contract (alert_store_contract_test.cpp) for the engines that
// need nothing outside the process: memory and SQLite.
#include "contract/alert_store_contract.hpp"

#include "store/memory_alert_store.hpp"
#include "store/sqlite_alert_store.hpp"

#include <filesystem>
#include <unistd.h>

using namespace vigil;
using namespace vigil::test;

namespace {

std::filesystem::path last_sqlite_path;

std::unique_ptr<alert_store> make_sqlite(retention_policy r) {
    static int counter = 0;
    auto const path = std::filesystem::temp_directory_path() /
                      ("vigil-contract-" + std::to_string(getpid()) + "-" + std::to_string(counter++)) / "vigil.db";
    std::filesystem::remove_all(path.parent_path());
    last_sqlite_path = path;
    return std::make_unique<sqlite_alert_store>(sqlite_options{path.string(), false, r});
}

std::unique_ptr<alert_store> reopen_sqlite(retention_policy r) {
    return std::make_unique<sqlite_alert_store>(sqlite_options{last_sqlite_path.string(), false, r});
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Engines, AlertStoreContract,
                         ::testing::Values(named_factory{"memory",
                                                         [](retention_policy r) {
                                                             return std::unique_ptr<alert_store>(
                                                                 std::make_unique<memory_alert_store>(r));
                                                         }},
                                           named_factory{"sqlite", make_sqlite, reopen_sqlite}),
                         [](auto const& info) { return info.param.name; });
