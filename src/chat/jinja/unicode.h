// UTF-8 and Python `str` character semantics for the Jinja interpreter.
//
// Python strings are sequences of code points: len(), indexing, slicing, centring and case mapping
// all count code points, and "whitespace" means str.isspace(). ember keeps strings as UTF-8 bytes
// and converts to code points only where an operation needs them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ember::jinja {

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool valid_utf8(std::string_view s);

// Decodes the code point starting at s[i] and advances i. Malformed bytes decode as U+FFFD one
// byte at a time (only reachable for data that bypassed validation).
char32_t next_code_point(std::string_view s, size_t& i);

void append_utf8(std::string& out, char32_t cp);
std::u32string to_u32(std::string_view s);
std::string to_utf8(std::u32string_view s);

// Number of code points (Python len()).
size_t code_point_count(std::string_view s);
bool is_ascii(std::string_view s);

// Python str.isspace() for one code point (also what `\s` matches in Python's re module).
bool py_isspace(char32_t c);
// Python str.isprintable() for one code point (repr() escapes the others).
bool py_isprintable(char32_t c);
bool py_isalpha(char32_t c);
bool py_isdigit(char32_t c);
bool py_isalnum(char32_t c);
bool py_iscased(char32_t c);
bool py_isupper_cp(char32_t c);
bool py_islower_cp(char32_t c);

// Case mapping like Python's str methods (full mappings for the common special cases such as
// 'ß' -> "SS", simple Unicode mappings otherwise).
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_swapcase(std::string_view s);
// str.capitalize(): first character title-cased, the rest lower-cased.
std::string py_capitalize(std::string_view s);
// str.title(): title-case after every uncased character, lower-case elsewhere.
std::string py_title(std::string_view s);
// str.isupper() / str.islower(): at least one cased character and none of the other case.
bool py_isupper(std::string_view s);
bool py_islower(std::string_view s);

// Python str.strip()/lstrip()/rstrip(): without `chars` strips whitespace (py_isspace), with
// `chars` strips any of its code points.
std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right);

// Python str.splitlines(keepends).
std::vector<std::string> py_splitlines(std::string_view s, bool keepends);

}  // namespace ember::jinja
