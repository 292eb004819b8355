// The store contract (alert_store_contract_test.cpp) on PostgreSQL: a real
// server started by the test (support/postgres_process.hpp). Each store is a
// schema of its own in the server's database; `reopen` opens a second store
// on the same schema, as a second node would.
#include "contract/alert_store_contract.hpp"

#include "store/postgres_alert_store.hpp"
#include "support/postgres_process.hpp"

#include <unistd.h>

using namespace vigil;
using namespace vigil::test;

namespace {

std::string last_schema;

postgres_options options_for(std::string schema, retention_policy r) {
    postgres_options o;
    o.url = postgres_process::shared().url();
    o.schema = std::move(schema);
    o.retention = r;
    // Generous: the machine is shared and the suite runs under sanitizers.
    o.timeout = std::chrono::seconds{10};
    return o;
}

std::unique_ptr<alert_store> make_postgres(retention_policy r) {
    static int counter = 0;
    last_schema = "contract_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
    return std::make_unique<postgres_alert_store>(options_for(last_schema, r));
}

std::unique_ptr<alert_store> reopen_postgres(retention_policy r) {
    return std::make_unique<postgres_alert_store>(options_for(last_schema, r));
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Postgres, AlertStoreContract,
                         ::testing::Values(named_factory{"postgres", make_postgres, reopen_postgres}),
                         [](auto const& info) { return info.param.name; });
