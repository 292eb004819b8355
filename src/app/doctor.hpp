#pragma once
// `vigil doctor URL --user ID`: the quick reference's troubleshooting checks,
// run from the outside against a server the way a client sees it:
// reachability, TLS certificate (https:// and wss://), /health, clock skew
// (the server's Date), the token (signature when VIGIL_JWT_SECRET is known,
// expiry, subject), the WebSocket upgrade, ping/pong round trips, and with a
// publisher token a test alert end to end (published, delivered,
// acknowledged). Each finding that is not ok says how to fix it. Exit status:
// 0 when nothing failed (warnings allowed), 1 when a check failed.
#include <CLI/CLI.hpp>

#include <functional>

namespace vigil::cli {

// Registers `vigil doctor`; the returned function runs it when it was the
// command parsed (else returns -1).
std::function<int()> add_doctor(CLI::App& app);

}  // namespace vigil::cli
