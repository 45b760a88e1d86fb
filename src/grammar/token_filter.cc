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

// Key: [stack count, (length, positions)*].
int32_t TokenFilter::intern(const ParserState& state) {
  Key k;
  size_t n = 1;
  for (const Stack& s : state.stacks) n += 1 + s.size();
  k.reserve(n);
  k.push_back(static_cast<uint32_t>(state.stacks.size()));
  for (const Stack& s : state.stacks) {
    k.push_back(static_cast<uint32_t>(s.size()));
    k.insert(k.end(), s.begin(), s.end());
  }
  auto it = ids_.find(k);
  if (it != ids_.end()) return it->second;
  if (states_.size() >= options_.max_states) return kOverflow;
  const int32_t id = static_cast<int32_t>(states_.size());
  ids_.emplace(std::move(k), id);
  states_.emplace_back();
  states_.back().state.stacks = state.stacks;
  trans_.resize(trans_.size() + 256, kUnknown);
  mask_slot_.push_back(-1);
  loop_classes_.push_back(0);
  stats_.states = states_.size();
  return id;
}

// The state after character `cp`: cached per set of accepting stacks.
int32_t TokenFilter::after_char(int32_t state, uint32_t cp) {
  const Grammar& g = *grammar_;
  {
    const std::vector<Stack>& stacks = states_[state].state.stacks;
    accepting_.assign((stacks.size() + 63) / 64, 0);
    bool any = false;
    for (size_t i = 0; i < stacks.size(); ++i) {
      if (!stacks[i].empty() && g.charset(g.element(stacks[i].back()).value).contains(cp)) {
        accepting_[i >> 6] |= uint64_t{1} << (i & 63);
        any = true;
      }
    }
    if (!any) return kDead;
    for (const auto& [bits, next] : states_[state].by_accepting) {
      if (bits == accepting_) return next;
    }
  }
  ParserState out;
  Result<bool> ok = advance_char(g, states_[state].state, cp, &out, limits_);
  int32_t next = kDead;
  if (!ok.ok()) {
    limit_error_ = ok.status();  // treated as a rejection, reported if nothing fits
  } else if (*ok) {
    next = intern(out);
    if (next == kOverflow) return kOverflow;  // not cached: the cache is about to be cleared
  }
  states_[state].by_accepting.emplace_back(accepting_, next);
  return next;
}

bool TokenFilter::build_chars(int32_t state) {
  if (states_[state].chars_built) return true;
  const Grammar& g = *grammar_;
  // Every boundary of a character set on top of a stack; between two boundaries the set of
  // accepting stacks, hence the next state, is constant.
  std::vector<uint32_t> cuts{0};
  for (const Stack& s : states_[state].state.stacks) {
    if (s.empty()) continue;
    for (const CodeRange& r : g.charset(g.element(s.back()).value).ranges()) {
      cuts.push_back(r.lo);
      if (r.hi < kMaxCodePoint) cuts.push_back(r.hi + 1);
    }
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<uint32_t> starts;
  std::vector<int32_t> targets;
  for (uint32_t cut : cuts) {
    const int32_t t = after_char(state, cut);
    if (t == kOverflow) return false;
    if (!targets.empty() && targets.back() == t) continue;  // merge equal neighbours
    starts.push_back(cut);
    targets.push_back(t);
  }
  StateInfo& info = states_[state];
  info.starts = std::move(starts);
  info.targets = std::move(targets);
  info.chars_built = true;
  return true;
}

int32_t TokenFilter::char_target(int32_t state, uint32_t cp) const {
  const StateInfo& info = states_[state];
  const size_t k = static_cast<size_t>(
      std::upper_bound(info.starts.begin(), info.starts.end(), cp) - info.starts.begin());
  return info.targets[k - 1];  // starts[0] == 0
}

bool TokenFilter::range_live(int32_t state, uint32_t lo, uint32_t hi) const {
  const StateInfo& info = states_[state];
  size_t k = static_cast<size_t>(std::upper_bound(info.starts.begin(), info.starts.end(), lo) -
                                 info.starts.begin()) -
             1;
  for (; k < info.starts.size() && info.starts[k] <= hi; ++k) {
    if (info.targets[k] >= 0) return true;
  }
  return false;
}

int32_t TokenFilter::compute(int32_t state, uint8_t byte) {
  int32_t next = kDead;
  if (byte < 0x80) {
    next = after_char(state, byte);
  } else if (const int n = utf8_sequence_length(byte); n > 0) {
    if (!build_chars(state)) return kOverflow;
    const PartialUtf8 p{static_cast<uint32_t>(byte & (0x7F >> n)), static_cast<uint8_t>(n - 1),
                        byte, 1};
    uint32_t lo, hi;
    pending_char_range(p, &lo, &hi);
    if (range_live(state, lo, hi)) next = kPartial;
  }
  if (next == kOverflow) return kOverflow;
  trans_[static_cast<size_t>(state) * 256 + byte] = next;
  return next;
}

bool TokenFilter::advance(const Position& from, uint8_t byte, Position* to, bool* overflow) {
  if (from.partial.remaining == 0) {
    const int32_t t = step(from.state, byte);
    if (t >= 0) {
      *to = {t, {}};
      return true;
    }
    if (t == kPartial) {
      const int n = utf8_sequence_length(byte);
      *to = {from.state,
             {static_cast<uint32_t>(byte & (0x7F >> n)), static_cast<uint8_t>(n - 1), byte, 1}};
      return true;
    }
    if (t == kOverflow) *overflow = true;
    return false;
  }
  const PartialUtf8& p = from.partial;
  if (p.seen == 1) {
    uint8_t lo, hi;
    utf8_second_byte_range(p.lead, &lo, &hi);
    if (byte < lo || byte > hi) return false;
  } else if ((byte & 0xC0) != 0x80) {
    return false;
  }
  PartialUtf8 q = p;
  q.value = (p.value << 6) | (byte & 0x3Fu);
  --q.remaining;
  ++q.seen;
  // A pending character started from a full state whose lead byte was checked with
  // build_chars, so the character table is there.
  if (!build_chars(from.state)) {
    *overflow = true;
    return false;
  }
  if (q.remaining == 0) {
    const int32_t t = char_target(from.state, q.value);
    if (t < 0) return false;
    *to = {t, {}};
    return true;
  }
  uint32_t lo, hi;
  pending_char_range(q, &lo, &hi);
  if (!range_live(from.state, lo, hi)) return false;
  *to = {from.state, q};
  return true;
}

uint16_t TokenFilter::compute_loop_classes(int32_t state) {
  // The bytes of each class, in order (built once).
  static const std::vector<std::vector<uint8_t>> kClassBytes = [] {
    std::vector<std::vector<uint8_t>> v(TokenTrie::kByteClasses);
    for (int b = 0; b < 256; ++b) {
      v[TokenTrie::byte_class(static_cast<uint8_t>(b))].push_back(static_cast<uint8_t>(b));
    }
    return v;
  }();
  uint16_t loops = 0;
  bool overflow = false;
  for (int c = 0; c < TokenTrie::kByteClasses; ++c) {
    bool all = true;
    for (size_t k = 0; k < kClassBytes[c].size() && all; ++k) {
      const int32_t next = step(state, kClassBytes[c][k]);
      overflow = overflow || next == kOverflow;
      all = next == state;
    }
    if (all) loops |= static_cast<uint16_t>(1u << c);
  }
  // After an overflow the answer is conservative; compute it again next time.
  if (!overflow) loop_classes_[state] = loops | kLoopsKnown;
  return loops;
}

void TokenFilter::clear_cache() {
  ids_.clear();
  states_.clear();
  trans_.clear();
  mask_slot_.clear();
  loop_classes_.clear();
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

bool TokenFilter::walk(const Position& root, TokenMask* mask) {
  const TokenTrie::Node* nodes = trie_->nodes().data();
  const uint32_t* token_begin = trie_->token_begin().data();
  const int32_t* tokens = trie_->tokens().data();
  const uint16_t* subtree = trie_->subtree_classes().data();
  uint64_t* words = mask->words().data();
  Position* path = path_.data();
  path[0] = root;
  const size_t n = trie_->node_count();
  // Local copies of the cache arrays, refreshed whenever a slow path may have grown them.
  const int32_t* trans = trans_.data();
  const uint16_t* loops = loop_classes_.data();
  size_t visited = 0, bulk = 0;
  auto set_tokens = [&](uint32_t from, uint32_t to) {
    for (uint32_t k = from; k < to; ++k) {
      const int32_t id = tokens[k];
      words[id >> 6] |= uint64_t{1} << (id & 63);
    }
  };
  bool ok = true;
  size_t i = 0;
  while (i < n) {
    const TokenTrie::Node node = nodes[i];
    ++visited;
    const Position& parent = path[node.depth - 1];
    Position& here = path[node.depth];
    if (parent.partial.remaining == 0) {
      uint16_t parent_loops = loops[parent.state];
      if (!(parent_loops & kLoopsKnown)) {
        parent_loops = compute_loop_classes(parent.state);
        trans = trans_.data();
        loops = loop_classes_.data();
      }
      if ((subtree[i] & ~parent_loops) == 0) {
        // Every byte below keeps the (live) parent state: all tokens of the subtree are allowed.
        set_tokens(token_begin[i], token_begin[node.skip]);
        ++bulk;
        i = node.skip;
        continue;
      }
      int32_t next = trans[static_cast<size_t>(parent.state) * 256 + node.byte];
      if (next == kUnknown) {
        next = compute(parent.state, node.byte);
        trans = trans_.data();
        loops = loop_classes_.data();
      }
      if (next >= 0) {
        here = {next, {}};
      } else if (next == kPartial) {
        const int len = utf8_sequence_length(node.byte);
        here = {parent.state,
                {static_cast<uint32_t>(node.byte & (0x7F >> len)), static_cast<uint8_t>(len - 1),
                 node.byte, 1}};
      } else if (next == kOverflow) {
        ok = false;
        break;
      } else {
        i = node.skip;  // no token with this prefix can be accepted
        continue;
      }
    } else {
      bool overflow = false;
      const bool alive = advance(parent, node.byte, &here, &overflow);
      trans = trans_.data();
      loops = loop_classes_.data();
      if (overflow) {
        ok = false;
        break;
      }
      if (!alive) {
        i = node.skip;
        continue;
      }
    }
    if (node.has_tokens) set_tokens(token_begin[i], token_begin[i + 1]);
    ++i;
  }
  stats_.nodes_visited += visited;
  stats_.bulk_subtrees += bulk;
  return ok;
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
    Result<bool> ok =
        advance_byte(*grammar_, path[node.depth - 1], node.byte, &path[node.depth], limits_);
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
  const ParserState& current = matcher.state();
  ParserState stacks_only;
  stacks_only.stacks = current.stacks;
  bool done = false;
  for (int attempt = 0; attempt < 2 && !done; ++attempt) {
    const int32_t root = intern(stacks_only);
    if (root == kOverflow) {
      clear_cache();
      continue;
    }
    // Masks are cached for states without a pending character (the usual case).
    const bool cacheable = current.partial.remaining == 0;
    if (cacheable && mask_slot_[root] >= 0) {
      const std::vector<uint64_t>& cached = masks_[mask_slot_[root]];
      std::copy(cached.begin(), cached.end(), mask->words().begin());
      ++stats_.mask_hits;
      return Status::Ok();
    }
    ++stats_.mask_walks;
    if (!walk(Position{root, current.partial}, mask)) {
      // Too many states for the cache: start over with an empty one.
      mask->clear();
      clear_cache();
      continue;
    }
    done = true;
    if (!cacheable || options_.max_cached_masks == 0) break;
    // Remember the mask (round robin over the slots; a state whose slot is reused loses it).
    size_t slot;
    if (masks_.size() < options_.max_cached_masks) {
      slot = masks_.size();
      masks_.emplace_back();
      mask_owner_.push_back(-1);
    } else {
      slot = next_slot_;
      next_slot_ = (next_slot_ + 1) % masks_.size();
      if (mask_owner_[slot] >= 0) mask_slot_[mask_owner_[slot]] = -1;
    }
    masks_[slot].assign(mask->words().begin(), mask->words().end());
    mask_owner_[slot] = root;
    mask_slot_[root] = static_cast<int32_t>(slot);
  }
  if (!done) {
    ++stats_.fallbacks;
    mask->clear();
    walk_uncached(current, mask);
  }
  if (!limit_error_.ok() && mask->count() == 0) return limit_error_;
  return Status::Ok();
}

bool TokenFilter::follow(const GrammarMatcher& matcher, std::string_view bytes, Position* end,
                         bool* overflow) {
  ParserState stacks_only;
  stacks_only.stacks = matcher.state().stacks;
  const int32_t root = intern(stacks_only);
  if (root == kOverflow) {
    *overflow = true;
    return false;
  }
  Position pos{root, matcher.state().partial};
  for (char c : bytes) {
    Position next;
    if (!advance(pos, static_cast<uint8_t>(c), &next, overflow)) return false;
    pos = next;
  }
  *end = pos;
  return true;
}

Result<bool> TokenFilter::allows(const GrammarMatcher& matcher, int32_t id) {
  EMBER_RETURN_IF_ERROR(check_matcher(matcher));
  const std::string_view bytes = trie_->token_bytes(id);
  if (bytes.empty()) return false;
  limit_error_ = Status::Ok();
  Position end;
  bool overflow = false;
  const bool ok = follow(matcher, bytes, &end, &overflow);
  if (overflow) {
    clear_cache();
    return matcher.can_accept(bytes);
  }
  if (!ok && !limit_error_.ok()) return limit_error_;
  return ok;
}

Result<bool> TokenFilter::accept_token(GrammarMatcher& matcher, int32_t id) {
  EMBER_RETURN_IF_ERROR(check_matcher(matcher));
  const std::string_view bytes = trie_->token_bytes(id);
  if (bytes.empty()) return false;
  limit_error_ = Status::Ok();
  Position end;
  bool overflow = false;
  const bool ok = follow(matcher, bytes, &end, &overflow);
  if (overflow) {
    clear_cache();
    return matcher.try_accept(bytes);
  }
  if (!ok) {
    if (!limit_error_.ok()) return limit_error_;
    return false;
  }
  ParserState next;
  next.stacks = states_[end.state].state.stacks;
  next.partial = end.partial;
  matcher.set_state(std::move(next));
  return true;
}

}  // namespace ember::grammar
