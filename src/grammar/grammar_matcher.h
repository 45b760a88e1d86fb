// Incremental matching of text against a compiled grammar, byte by byte.
//
// The matcher keeps the set of pushdown stacks the text seen so far can be parsed into (several
// when the grammar is ambiguous so far, like llama.cpp's grammar engine). Each stack holds
// positions in Grammar's element array; its top is always a character set to match next, and an
// empty stack means the root rule may end here. Input is UTF-8 bytes in any split: a character cut
// between two accept calls (a token ending mid-character) is kept pending until it completes.
//
//   auto g = parse_gbnf(text);                       // Result<shared_ptr<const Grammar>>
//   auto m = GrammarMatcher::create(*g);            // Result<GrammarMatcher>
//   if (!m->accept_bytes(token_text)) { /* rejected, state unchanged */ }
//   if (m->is_complete()) { /* end of generation allowed */ }
//   GrammarMatcher trial = *m;                       // cheap copy for trial matching
//
// For choosing tokens over a whole vocabulary, see TokenFilter (token_filter.h), which caches the
// matcher's transitions and walks a trie of the vocabulary.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "ember/status.h"
#include "grammar/grammar.h"

namespace ember::grammar {

// Bounds that keep ambiguous or deeply nested grammars from exhausting time or memory. A matcher
// that would exceed one reports resource_exhausted instead of growing.
struct MatcherLimits {
  size_t max_stacks = 4096;        // parser stacks alive at once (ambiguity)
  size_t max_stack_depth = 16384;  // frames in one stack (nesting of the text)
  size_t max_expansion = 65536;    // stacks examined while expanding after one character
};

using Stack = std::vector<uint32_t>;  // element positions, top at back()

// Bytes of a UTF-8 character seen so far whose continuation bytes have not arrived yet.
struct PartialUtf8 {
  uint32_t value = 0;     // payload bits decoded so far
  uint8_t remaining = 0;  // continuation bytes still expected; 0 = nothing pending
  uint8_t lead = 0;       // the lead byte (constrains the second byte)
  uint8_t seen = 0;       // bytes seen including the lead
  friend bool operator==(const PartialUtf8&, const PartialUtf8&) = default;
};

// A complete matcher state. `stacks` is sorted and duplicate-free, so equal states compare equal.
struct ParserState {
  std::vector<Stack> stacks;
  PartialUtf8 partial;
  friend bool operator==(const ParserState&, const ParserState&) = default;
};

// The state before any input: the root rule's alternatives expanded.
Result<ParserState> initial_state(const Grammar& grammar, const MatcherLimits& limits);

// Advances `in` by one byte into *out. Returns false when the byte cannot continue any stack (or
// makes the pending character impossible to complete into something the grammar allows); *out is
// then unspecified. Errors only for exceeded limits.
Result<bool> advance_byte(const Grammar& grammar, const ParserState& in, uint8_t byte,
                          ParserState* out, const MatcherLimits& limits);

// Advances a state with no pending bytes by one whole code point (same as feeding its UTF-8
// bytes to advance_byte). The result depends only on which stacks accept `cp`, which lets callers
// cache it per (state, set of accepting stacks).
Result<bool> advance_char(const Grammar& grammar, const ParserState& in, uint32_t cp,
                          ParserState* out, const MatcherLimits& limits);

// The code points `pending` (bytes of an unfinished UTF-8 sequence) can still complete to, as an
// inclusive range (exact: well-formed sequences only).
void pending_char_range(const PartialUtf8& pending, uint32_t* lo, uint32_t* hi);

// Whether some stack of `state` can take some character that `pending` (bytes of an unfinished
// UTF-8 sequence) can still complete to.
bool pending_char_feasible(const Grammar& grammar, const ParserState& state,
                           const PartialUtf8& pending);

// True when the root rule may end here (and no character is pending).
bool state_is_complete(const ParserState& state);

class GrammarMatcher {
 public:
  static Result<GrammarMatcher> create(std::shared_ptr<const Grammar> grammar,
                                       MatcherLimits limits = {});

  // Feeds `bytes`. On true every byte was accepted and the state advanced. On false some byte
  // cannot continue the grammar and the state is unchanged. An error (resource_exhausted, state
  // unchanged) when accepting would exceed the limits.
  Result<bool> try_accept(std::string_view bytes);
  // try_accept with errors counted as rejection; last_error() tells them apart.
  bool accept_bytes(std::string_view bytes);
  // The error of the last accept_bytes that failed on a limit; ok after a plain rejection.
  const Status& last_error() const { return last_error_; }

  // Whether `bytes` would be accepted, without changing the state.
  Result<bool> can_accept(std::string_view bytes) const;
  // For each candidate byte string, whether it would be accepted now. Candidates are sorted
  // internally so shared prefixes are matched once; limit errors count as "not accepted".
  std::vector<bool> allowed(std::span<const std::string_view> candidates) const;

  // The text so far is a complete match of the root rule (end of generation may be allowed).
  bool is_complete() const { return state_is_complete(state_); }
  // Some non-empty continuation exists (false once the grammar can only end).
  bool can_continue() const;
  // A character has been started but not finished.
  bool has_partial_character() const { return state_.partial.remaining != 0; }

  // Back to the initial state.
  void reset() { state_ = *initial_; }

  const std::shared_ptr<const Grammar>& grammar() const { return grammar_; }
  const MatcherLimits& limits() const { return limits_; }
  const ParserState& state() const { return state_; }
  // Replaces the state (TokenFilter uses this to apply cached transitions). `state` must come from
  // this matcher's grammar.
  void set_state(ParserState state) { state_ = std::move(state); }

 private:
  GrammarMatcher(std::shared_ptr<const Grammar> grammar, MatcherLimits limits,
                 std::shared_ptr<const ParserState> initial)
      : grammar_(std::move(grammar)),
        limits_(limits),
        initial_(std::move(initial)),
        state_(*initial_) {}

  std::shared_ptr<const Grammar> grammar_;
  MatcherLimits limits_;
  std::shared_ptr<const ParserState> initial_;
  ParserState state_;
  Status last_error_;
};

}  // namespace ember::grammar
