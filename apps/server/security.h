// Authentication: the bearer token check (constant time in the token's content).
#pragma once

#include <string_view>

namespace ember::http {

// True when `authorization` is "Bearer <key>" (scheme case-insensitive) with exactly `key`.
// The comparison takes the same time whatever the bytes of the presented token, so its content
// cannot be guessed byte by byte from response times.
bool bearer_token_matches(std::string_view authorization, std::string_view key);

// Compares two strings in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace ember::http
