#pragma once
// vigil's one error model (docs/decisions/0024-one-error-model.md):
// - A refusal: the request is at fault, or cannot be served now, and the
//   client is told so: an HTTP status, a stable code (docs/protocol.md) and a
//   human detail that never carries an engine's or a peer's internals.
// - An error_code of a vigil category (auth_error, message_error, ece_error,
//   push_error): a step of a protocol or of cryptography failed, and the code
//   is the whole story; the boundary maps it to a refusal.
// - An exception: the environment failed (store_error, config_error,
//   listen_error, tls_error, vapid_error); caught at the boundary that can
//   answer 503 or stop the start, and logged there with its detail.
// Functions that can refuse return boost::system::result<T, refusal>.
#include <boost/system/result.hpp>

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>

namespace vigil {

struct refusal {
    int status = 400;
    std::string code;                                 // "invalid_json", "invalid_alert", "store_unavailable"...
    std::string detail;                               // for the person reading the answer
    std::optional<std::size_t> index = std::nullopt;  // which item of a batch, when one was refused
};

template <class T>
using or_refusal = boost::system::result<T, refusal>;

// What value() of a refused result throws, for code that cannot go on without it.
struct refused_error : std::runtime_error {
    explicit refused_error(refusal r) : std::runtime_error(r.code + ": " + r.detail), why(std::move(r)) {}
    refusal why;
};

// Found by argument-dependent lookup from boost::system::result::value().
[[noreturn]] inline void throw_exception_from_error(refusal const& r, boost::source_location const&) {
    throw refused_error(r);
}

// The store could not take or read something now; the engine's reason is
// logged where it failed, never answered.
inline refusal store_unavailable() {
    return {503, "store_unavailable", "the store cannot take this now (down, or slower than its deadline); retry it"};
}

}  // namespace vigil
