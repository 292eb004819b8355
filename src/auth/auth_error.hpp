#pragma once
// Why a credential was refused. Each value maps to an HTTP status (401 or 403)
// and a stable machine-readable code used in JSON error bodies.
#include <boost/system/error_code.hpp>

#include <string_view>
#include <type_traits>

namespace vigil::auth {

enum class auth_error {
    missing_token = 1,  /// no ?token=, no Authorization: Bearer
    malformed,          /// not three base64url segments, or over the size limit
    bad_signature,      /// signature does not verify (or the token does not decode)
    wrong_algorithm,    /// header alg differs from the configured one (incl. "none")
    expired,            /// exp is in the past
    missing_exp,        /// exp is required and absent
    not_yet_valid,      /// nbf is in the future
    wrong_issuer,       /// iss differs from the configured issuer
    wrong_audience,     /// aud does not contain the configured audience
    missing_subject,    /// the subject claim is absent
    wrong_user,         /// the subject is another user than the one asked for
    forbidden,          /// valid credential without the role the action needs
    unknown_api_key,    /// an X-API-Key that is not a configured key
};

boost::system::error_category const& auth_category() noexcept;

inline boost::system::error_code make_error_code(auth_error e) noexcept {
    return {static_cast<int>(e), auth_category()};
}

// 401 for a credential that is missing or not valid, 403 for a valid one that
// does not grant the action.
int http_status(auth_error e) noexcept;

// Stable code for JSON bodies: "missing_token", "malformed_token", "token_expired"...
// (docs/protocol.md lists them all).
std::string_view error_code_name(auth_error e) noexcept;

}  // namespace vigil::auth

template <>
struct boost::system::is_error_code_enum<vigil::auth::auth_error> : std::true_type {};
