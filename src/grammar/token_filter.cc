#include "grammar/token_filter.h"

#include <algorithm>
#include <bit>

#include "grammar/utf8.h"

namespace ember::grammar {

size_t TokenMask::count() const {
  size_t n = 0;
  for (uint64_t w : words_) n += static_cast<size_t>(std::popcount(w));
  return n;
}

size_t TokenFilter::KeyHash::operator()(const Key& k) const noexcept {
  // Two words per multiply; keys are tens to hundreds of words.
  uint64_t h = 0x9E3779B97F4A7C15ull ^ k.size();
  size_t i = 0;
  for (; i + 1 < k.size(); i += 2) {
    h = (h ^ (uint64_t{k[i]} | uint64_t{k[i + 1]} << 32)) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
  }
  if (i < k.size()) h = (h ^ k[i]) * 0xFF51AFD7ED558CCDull;
  return static_cast<size_t>(h ^ (h >> 29));
}

TokenFilter::TokenFilter(std::shared_ptr<const Grammar> grammar,
                         std::shared_ptr<const TokenTrie> trie, MatcherLimits limits,
                         TokenFilterOptions options)
    : grammar_(std::move(grammar)), trie_(std::move(trie)), limits_(limits), options_(options) {
  options_.max_states = std::max<size_t>(options_.max_states, 2);
  path_.resize(trie_->max_depth() + 1);
}

namespace {

// Full-state keys: [0, stack count, (length, positions)*]. Partial-state keys start with a
// marker no full key has: [kPartialMarker, base id, value, remaining | lead << 8 | seen << 16].
constexpr uint32_t kPartialMarker = UINT32_MAX;

}  // namespace

int32_t TokenFilter::intern_key(Key key) {
  auto it = ids_.find(key);
  if (it != ids_.end()) return it->second;
  if (states_.size() >= options_.max_states) return kOverflow;
  const int32_t id = static_cast<int32_t>(states_.size());
  ids_.emplace(std::move(key), id);
  states_.emplace_back();
  trans_.resize(trans_.size() + 256, kUnknown);
  mask_slot_.push_back(-1);
  stats_.states = states_.size();
  return id;
}

int32_t TokenFilter::intern_full(const ParserState& state) {
  Key k;
  size_t n = 2;
  for (const Stack& s : state.stacks) n += 1 + s.size();
  k.reserve(n);
  k.push_back(0);
  k.push_back(static_cast<uint32_t>(state.stacks.size()));
  for (const Stack& s : state.stacks) {
    k.push_back(static_cast<uint32_t>(s.size()));
    k.insert(k.end(), s.begin(), s.end());
  }
  const size_t before = states_.size();
  const int32_t id = intern_key(std::move(k));
  if (id >= 0 && states_.size() > before) {
    states_[id].full.stacks = state.stacks;
  }
  return id;
}

int32_t TokenFilter::intern_partial(int32_t base, const PartialUtf8& p) {
  Key k{kPartialMarker, static_cast<uint32_t>(base), p.value,
        uint32_t{p.remaining} | uint32_t{p.lead} << 8 | uint32_t{p.seen} << 16};
  const size_t before = states_.size();
  const int32_t id = intern_key(std::move(k));
  if (id >= 0 && states_.size() > before) {
    states_[id].base = base;
    states_[id].partial = p;
  }
  return id;
}

int32_t TokenFilter::intern_state(const ParserState& state) {
  if (state.partial.remaining == 0) return intern_full(state);
  ParserState base;
  base.stacks = state.stacks;
  const int32_t b = intern_full(base);
  if (b < 0) return b;
  return intern_partial(b, state.partial);
}

ParserState TokenFilter::state_of(int32_t id) const {
  const StateInfo& info = states_[id];
  if (info.base < 0) return info.full;
  ParserState s;
  s.stacks = states_[info.base].full.stacks;
  s.partial = info.partial;
  return s;
}

// The state after character `cp` from full state `base`: cached per set of accepting stacks.
int32_t TokenFilter::after_char(int32_t base, uint32_t cp) {
  const Grammar& g = *grammar_;
  {
    const std::vector<Stack>& stacks = states_[base].full.stacks;
    accepting_.assign((stacks.size() + 63) / 64, 0);
    bool any = false;
    for (size_t i = 0; i < stacks.size(); ++i) {
      if (!stacks[i].empty() && g.charset(g.element(stacks[i].back()).value).contains(cp)) {
        accepting_[i >> 6] |= uint64_t{1} << (i & 63);
        any = true;
      }
    }
    if (!any) return kDead;
    for (const auto& [bits, next] : states_[base].by_accepting) {
      if (bits == accepting_) return next;
    }
  }
  ParserState out;
  Result<bool> ok = advance_char(g, states_[base].full, cp, &out, limits_);
  int32_t next = kDead;
  if (!ok.ok()) {
    limit_error_ = ok.status();  // treated as a rejection, reported if nothing fits
  } else if (*ok) {
    next = intern_full(out);
    if (next == kOverflow) return kOverflow;  // not cached: the cache is about to be cleared
  }
  states_[base].by_accepting.emplace_back(accepting_, next);
  return next;
}

int32_t TokenFilter::compute(int32_t state, uint8_t byte) {
  const Grammar& g = *grammar_;
  int32_t next = kDead;
  const int32_t base = states_[state].base;
  if (base < 0) {
    if (byte < 0x80) {
      next = after_char(state, byte);
    } else if (const int n = utf8_sequence_length(byte); n > 0) {
      const PartialUtf8 p{static_cast<uint32_t>(byte & (0x7F >> n)), static_cast<uint8_t>(n - 1),
                          byte, 1};
      if (pending_char_feasible(g, states_[state].full, p)) next = intern_partial(state, p);
    }
  } else {
    const PartialUtf8 p = states_[state].partial;
    bool ok_byte;
    if (p.seen == 1) {
      uint8_t lo, hi;
      utf8_second_byte_range(p.lead, &lo, &hi);
      ok_byte = byte >= lo && byte <= hi;
    } else {
      ok_byte = (byte & 0xC0) == 0x80;
    }
    if (ok_byte) {
      PartialUtf8 q = p;
      q.value = (p.value << 6) | (byte & 0x3Fu);
      --q.remaining;
      ++q.seen;
      if (q.remaining == 0) {
        next = after_char(base, q.value);
      } else if (pending_char_feasible(g, states_[base].full, q)) {
        next = intern_partial(base, q);
      }
    }
  }
  if (next == kOverflow) return kOverflow;
  trans_[static_cast<size_t>(state) * 256 + byte] = next;
  return next;
}

void TokenFilter::clear_cache() {
  ids_.clear();
  states_.clear();
  trans_.clear();
  mask_slot_.clear();
  masks_.clear();
  mask_owner_.clear();
  next_slot_ = 0;
  stats_.states = 0;
  ++stats_.resets;
}

Status TokenFilter::check_matcher(const GrammarMatcher& matcher) const {
  if (matcher.grammar().get() != grammar_.get()) {
    return invalid_argument("token filter used with a matcher of another grammar");
  }
  return Status::Ok();
}

bool TokenFilter::walk(int32_t root, TokenMask* mask) {
  const TokenTrie::Node* nodes = trie_->nodes().data();
  const uint32_t* token_begin = trie_->token_begin().data();
  const int32_t* tokens = trie_->tokens().data();
  uint64_t* words = mask->words().data();
  int32_t* path = path_.data();
  path[0] = root;
  const size_t n = trie_->node_count();
  size_t visited = 0;
  size_t i = 0;
  while (i < n) {
    const TokenTrie::Node& node = nodes[i];
    ++visited;
    const int32_t next = step(path[node.depth - 1], node.byte);
    if (next < 0) {
      if (next == kOverflow) {
        stats_.nodes_visited += visited;
        return false;
      }
      i = node.skip;  // no token with this prefix can be accepted
      continue;
    }
    path[node.depth] = next;
    if (node.has_tokens) {
      for (uint32_t k = token_begin[i], end = token_begin[i + 1]; k < end; ++k) {
        const int32_t id = tokens[k];
        words[id >> 6] |= uint64_t{1} << (id & 63);
      }
    }
    ++i;
  }
  stats_.nodes_visited += visited;
  return true;
}

void TokenFilter::walk_uncached(const ParserState& root, TokenMask* mask) {
  const std::span<const TokenTrie::Node> nodes = trie_->nodes();
  const std::span<const uint32_t> token_begin = trie_->token_begin();
  const std::span<const int32_t> tokens = trie_->tokens();
  std::vector<ParserState> path(trie_->max_depth() + 1);
  path[0] = root;
  const size_t n = trie_->node_count();
  size_t i = 0;
  while (i < n) {
    const TokenTrie::Node& node = nodes[i];
    ++stats_.nodes_visited;
    Result<bool> ok = advance_byte(*grammar_, path[node.depth - 1], node.byte, &path[node.depth],
                                   limits_);
    if (!ok.ok()) limit_error_ = ok.status();
    if (!ok.ok() || !*ok) {
      i = node.skip;
      continue;
    }
    for (uint32_t k = token_begin[i], end = token_begin[i + 1]; k < end; ++k) mask->set(tokens[k]);
    ++i;
  }
}

Status TokenFilter::fill_mask(const GrammarMatcher& matcher, TokenMask* mask) {
  EMBER_RETURN_IF_ERROR(check_matcher(matcher));
  if (mask->size() != trie_->vocab_size()) {
    mask->resize(trie_->vocab_size());
  } else {
    mask->clear();
  }
  limit_error_ = Status::Ok();
  bool done = false;
  for (int attempt = 0; attempt < 2 && !done; ++attempt) {
    const int32_t root = intern_state(matcher.state());
    if (root == kOverflow) {
      clear_cache();
      continue;
    }
    if (mask_slot_[root] >= 0) {
      const std::vector<uint64_t>& cached = masks_[mask_slot_[root]];
      std::copy(cached.begin(), cached.end(), mask->words().begin());
      ++stats_.mask_hits;
      return Status::Ok();
    }
    ++stats_.mask_walks;
    if (!walk(root, mask)) {
      // Too many states for the cache: start over with an empty one.
      mask->clear();
      clear_cache();
      continue;
    }
    done = true;
    // Remember the mask (round robin over the slots; states whose slot is reused lose it).
    size_t slot;
    if (masks_.size() < options_.max_cached_masks) {
      slot = masks_.size();
      masks_.emplace_back();
      mask_owner_.push_back(-1);
    } else if (!masks_.empty()) {
      slot = next_slot_;
      next_slot_ = (next_slot_ + 1) % masks_.size();
      if (mask_owner_[slot] >= 0) mask_slot_[mask_owner_[slot]] = -1;
    } else {
      break;  // mask caching disabled
    }
    masks_[slot].assign(mask->words().begin(), mask->words().end());
    mask_owner_[slot] = root;
    mask_slot_[root] = static_cast<int32_t>(slot);
  }
  if (!done) {
    ++stats_.fallbacks;
    mask->clear();
    walk_uncached(matcher.state(), mask);
  }
  if (!limit_error_.ok() && mask->count() == 0) return limit_error_;
  return Status::Ok();
}

int32_t TokenFilter::follow(const GrammarMatcher& matcher, std::string_view bytes) {
  int32_t s = intern_state(matcher.state());
  for (size_t i = 0; i < bytes.size() && s >= 0; ++i) s = step(s, static_cast<uint8_t>(bytes[i]));
  return s;
}

Result<bool> TokenFilter::allows(const GrammarMatcher& matcher, int32_t id) {
  EMBER_RETURN_IF_ERROR(check_matcher(matcher));
  const std::string_view bytes = trie_->token_bytes(id);
  if (bytes.empty()) return false;
  limit_error_ = Status::Ok();
  const int32_t s = follow(matcher, bytes);
  if (s == kOverflow) {
    clear_cache();
    return matcher.can_accept(bytes);
  }
  if (s == kDead && !limit_error_.ok()) return limit_error_;
  return s >= 0;
}

Result<bool> TokenFilter::accept_token(GrammarMatcher& matcher, int32_t id) {
  EMBER_RETURN_IF_ERROR(check_matcher(matcher));
  const std::string_view bytes = trie_->token_bytes(id);
  if (bytes.empty()) return false;
  limit_error_ = Status::Ok();
  const int32_t s = follow(matcher, bytes);
  if (s == kOverflow) {
    clear_cache();
    return matcher.try_accept(bytes);
  }
  if (s == kDead) {
    if (!limit_error_.ok()) return limit_error_;
    return false;
  }
  matcher.set_state(state_of(s));
  return true;
}

}  // namespace ember::grammar
