// Which tokens of a vocabulary may come next under a grammar: the constrained-sampling core.
//
//   auto trie = std::make_shared<const TokenTrie>(token_bytes);   // once per vocabulary
//   TokenFilter filter(grammar, trie);                            // one per generation (sequence)
//   TokenMask mask;
//   filter.fill_mask(matcher, &mask);                 // mask.test(id): token id may come next
//   ... sample among allowed tokens (end of generation only if matcher.is_complete()) ...
//   filter.accept_token(matcher, chosen);             // advance the matcher by the token
//
// The filter memoizes the matcher as a lazily built automaton over bytes: each distinct parser
// state (stack set + pending UTF-8 bytes) gets an id and a 256-entry transition row filled on
// first use. A mask is computed by walking the vocabulary trie from the current state, following
// cached transitions and skipping every subtree whose prefix the grammar rejects; masks are also
// cached per state, so states that recur (inside a JSON string, between array items) cost a copy.
// When the cache outgrows TokenFilterOptions::max_states it is cleared and rebuilt; a single walk
// that needs more states than that falls back to direct simulation (slower, same answer).
//
// Not thread-safe: use one TokenFilter per thread or sequence. The Grammar and TokenTrie are
// immutable and may be shared.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ember/status.h"
#include "grammar/grammar.h"
#include "grammar/grammar_matcher.h"
#include "grammar/token_trie.h"

namespace ember::grammar {

// One bit per token id.
class TokenMask {
 public:
  TokenMask() = default;
  explicit TokenMask(size_t n_tokens) { resize(n_tokens); }
  void resize(size_t n_tokens) {
    n_ = n_tokens;
    words_.assign((n_tokens + 63) / 64, 0);
  }
  size_t size() const { return n_; }
  bool test(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < n_ && ((words_[id >> 6] >> (id & 63)) & 1);
  }
  void set(int32_t id) { words_[id >> 6] |= uint64_t{1} << (id & 63); }
  void clear() { std::fill(words_.begin(), words_.end(), 0); }
  size_t count() const;
  std::span<const uint64_t> words() const { return words_; }
  std::span<uint64_t> words() { return words_; }

 private:
  size_t n_ = 0;
  std::vector<uint64_t> words_;
};

struct TokenFilterOptions {
  size_t max_states = 16384;     // cached parser states (a 1 KiB transition row each)
  size_t max_cached_masks = 64;  // masks kept (vocab_size / 8 bytes each)
};

class TokenFilter {
 public:
  TokenFilter(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie,
              MatcherLimits limits = {}, TokenFilterOptions options = {});

  // Sets in *mask (resized to the vocabulary) exactly the tokens whose bytes `matcher` can accept
  // next. Tokens without bytes are never set. An error only when the matcher belongs to another
  // grammar, or when no token is allowed because a limit was hit (the error says which).
  Status fill_mask(const GrammarMatcher& matcher, TokenMask* mask);
  // Whether token `id` can be accepted next (cheap: follows cached transitions along its bytes).
  Result<bool> allows(const GrammarMatcher& matcher, int32_t id);
  // Advances `matcher` by token `id` using the cache; false (matcher unchanged) if rejected.
  // Same result as matcher.try_accept(bytes of id).
  Result<bool> accept_token(GrammarMatcher& matcher, int32_t id);

  struct Stats {
    size_t states = 0;         // parser states currently cached
    size_t mask_hits = 0;      // fill_mask answered from the mask cache
    size_t mask_walks = 0;     // fill_mask walks over the trie
    size_t nodes_visited = 0;  // trie nodes visited by those walks
    size_t resets = 0;         // cache clears because max_states was reached
    size_t fallbacks = 0;      // walks done by direct simulation
    size_t bulk_subtrees = 0;  // subtrees accepted whole (every byte loops back to the state)
  };
  const Stats& stats() const { return stats_; }
  const TokenTrie& trie() const { return *trie_; }

 private:
  using Key = std::vector<uint32_t>;
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  // A cached parser state (no pending partial character: those are handled inline, as a cached
  // state plus the pending bytes, so the thousands of multi-byte prefixes of a vocabulary never
  // become states of their own).
  struct StateInfo {
    ParserState state;
    // Next state for each set of stacks that accepted a character (advancing depends only on
    // that set), as (bitset, state id or kDead).
    std::vector<std::pair<std::vector<uint64_t>, int32_t>> by_accepting;
    // The state after every code point, as intervals: code points from starts[k] up to
    // starts[k + 1] - 1 lead to targets[k] (a state or kDead). Built on first need (multi-byte
    // characters), from the boundaries of the character sets on top of the stacks.
    bool chars_built = false;
    std::vector<uint32_t> starts;
    std::vector<int32_t> targets;
  };
  // A position of a walk: a cached state, plus the bytes of a character in progress.
  struct Position {
    int32_t state = 0;
    PartialUtf8 partial;
  };
  static constexpr int32_t kUnknown = -1;
  static constexpr int32_t kDead = -2;
  static constexpr int32_t kOverflow = -3;
  static constexpr int32_t kPartial = -4;  // a lead byte that some allowed character starts with
  static constexpr uint16_t kLoopsKnown = 0x8000;

  Status check_matcher(const GrammarMatcher& matcher) const;
  int32_t intern(const ParserState& state);  // state without pending bytes
  int32_t compute(int32_t state, uint8_t byte);
  int32_t after_char(int32_t state, uint32_t cp);
  // Builds states_[state].starts/targets; false on cache overflow.
  bool build_chars(int32_t state);
  // After code point `cp` (chars built): a state or kDead.
  int32_t char_target(int32_t state, uint32_t cp) const;
  // Whether some code point in [lo, hi] leads somewhere (chars built).
  bool range_live(int32_t state, uint32_t lo, uint32_t hi) const;
  // Position after `byte`; false when dead. Sets *overflow when the cache is full.
  bool advance(const Position& from, uint8_t byte, Position* to, bool* overflow);
  // Byte classes (TokenTrie::byte_class) all of whose bytes lead from `state` back to itself.
  uint16_t compute_loop_classes(int32_t state);
  int32_t step(int32_t state, uint8_t byte) {
    const int32_t t = trans_[static_cast<size_t>(state) * 256 + byte];
    return t != kUnknown ? t : compute(state, byte);
  }
  // Cached walk; false when the state cache overflowed mid-walk.
  bool walk(const Position& root, TokenMask* mask);
  void walk_uncached(const ParserState& root, TokenMask* mask);
  // Follows `bytes` from the matcher's state through the cache. Returns false when rejected;
  // *overflow when the cache filled up on the way.
  bool follow(const GrammarMatcher& matcher, std::string_view bytes, Position* end, bool* overflow);
  void clear_cache();

  std::shared_ptr<const Grammar> grammar_;
  std::shared_ptr<const TokenTrie> trie_;
  MatcherLimits limits_;
  TokenFilterOptions options_;

  std::unordered_map<Key, int32_t, KeyHash> ids_;
  std::vector<StateInfo> states_;
  std::vector<int32_t> trans_;          // state * 256 + byte -> state, kDead, kPartial or kUnknown
  std::vector<int32_t> mask_slot_;      // state id -> slot in masks_, or -1
  std::vector<uint16_t> loop_classes_;  // state id -> loop classes | kLoopsKnown, or 0
  std::vector<std::vector<uint64_t>> masks_;
  std::vector<int32_t> mask_owner_;  // slot -> state id
  size_t next_slot_ = 0;
  std::vector<Position> path_;       // walk: position at each trie depth
  std::vector<uint64_t> accepting_;  // scratch bitset
  Status limit_error_;               // a limit hit while computing transitions
  Stats stats_;
};

}  // namespace ember::grammar
