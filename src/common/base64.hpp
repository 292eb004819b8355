#pragma once
// Base64 (RFC 4648, standard alphabet, padded) through OpenSSL. Decoding is
// strict: whole 4-character groups, the alphabet only, at most two '=' at
// the end. Beast's detail::base64 is not used: it writes past its own
// decoded_size() for unpadded input (found by the publish_body fuzzer).
#include <optional>
#include <string>
#include <string_view>

namespace vigil {

std::string base64_encode(std::string_view bytes);

// Nothing when `text` is not strict base64.
std::optional<std::string> base64_decode(std::string_view text);

// Base64url (RFC 4648 section 5: '-' and '_' for '+' and '/'), unpadded, as
// JWTs and Web Push keys carry it.
std::string base64url_encode(std::string_view bytes);

// Nothing unless `text` is base64url without padding, or with exactly the
// padding the standard alphabet would need, and canonical: the unused low
// bits of the last character are zero, so decoding and re-encoding gives
// the same text.
std::optional<std::string> base64url_decode(std::string_view text);

// An upper bound of the decoded size, to refuse oversized input before decoding.
constexpr std::size_t base64_decoded_bound(std::size_t text_size) { return (text_size + 3) / 4 * 3; }

}  // namespace vigil
