#include "grammar/grammar_matcher.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <unordered_set>

#include "grammar/utf8.h"

namespace ember::grammar {
namespace {

struct StackHash {
  size_t operator()(const Stack& s) const noexcept {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
    for (uint32_t x : s) {
      h ^= x;
      h *= 0xFF51AFD7ED558CCDull;
      h ^= h >> 29;
    }
    return static_cast<size_t>(h);
  }
};

// Expands stacks whose top is a rule reference into stacks whose top is a character set (or
// which are empty: the root rule may end). One Expander serves one input character, so a stack
// reached from several places is expanded once.
class Expander {
 public:
  Expander(const Grammar& g, const MatcherLimits& limits) : g_(g), limits_(limits) {}

  Status expand(Stack stack, std::vector<Stack>* out) {
    todo_.push_back(std::move(stack));
    while (!todo_.empty()) {
      Stack cur = std::move(todo_.back());
      todo_.pop_back();
      if (cur.size() > limits_.max_stack_depth) {
        return resource_exhausted("grammar stack deeper than " +
                                  std::to_string(limits_.max_stack_depth) +
                                  " (the text nests too deeply)");
      }
      if (cur.empty() || g_.element(cur.back()).kind == Element::Kind::kChars) {
        if (out->size() >= limits_.max_expansion) return too_ambiguous();
        out->push_back(std::move(cur));
        continue;
      }
      // Top is a rule reference. Skip stacks already expanded for this character: this also
      // stops cycles through rules that can match the empty string, like ("a"?)*.
      if (!seen_.insert(cur).second) continue;
      if (seen_.size() > limits_.max_expansion) return too_ambiguous();
      const uint32_t pos = cur.back();
      const uint32_t rule = g_.element(pos).value;
      Stack base = std::move(cur);
      base.pop_back();
      if (g_.element(pos + 1).kind != Element::Kind::kEnd) base.push_back(pos + 1);
      for (uint32_t alt : g_.alternatives(rule)) {
        Stack next = base;
        if (g_.element(alt).kind != Element::Kind::kEnd) next.push_back(alt);
        todo_.push_back(std::move(next));
      }
    }
    return Status::Ok();
  }

 private:
  Status too_ambiguous() const {
    return resource_exhausted("grammar too ambiguous: more than " +
                              std::to_string(limits_.max_expansion) +
                              " parser stacks examined for one character");
  }

  const Grammar& g_;
  const MatcherLimits& limits_;
  std::vector<Stack> todo_;
  std::unordered_set<Stack, StackHash> seen_;
};

Status finish_stacks(std::vector<Stack>* stacks, const MatcherLimits& limits) {
  std::sort(stacks->begin(), stacks->end());
  stacks->erase(std::unique(stacks->begin(), stacks->end()), stacks->end());
  if (stacks->size() > limits.max_stacks) {
    return resource_exhausted("grammar too ambiguous: " + std::to_string(stacks->size()) +
                              " parser stacks alive, more than the limit of " +
                              std::to_string(limits.max_stacks));
  }
  return Status::Ok();
}

// Stacks after matching code point `cp`.
Status advance_code_point(const Grammar& g, const std::vector<Stack>& stacks, uint32_t cp,
                          std::vector<Stack>* out, const MatcherLimits& limits) {
  out->clear();
  Expander expander(g, limits);
  for (const Stack& s : stacks) {
    if (s.empty()) continue;
    const uint32_t pos = s.back();
    if (!g.charset(g.element(pos).value).contains(cp)) continue;
    Stack next = s;
    if (g.element(pos + 1).kind == Element::Kind::kEnd) {
      next.pop_back();
    } else {
      next.back() = pos + 1;
    }
    EMBER_RETURN_IF_ERROR(expander.expand(std::move(next), out));
  }
  return finish_stacks(out, limits);
}

// The code points a pending UTF-8 sequence can still complete to, exactly (well-formed only).
void partial_range(const PartialUtf8& p, uint32_t* lo, uint32_t* hi) {
  if (p.seen == 1) {
    uint8_t slo, shi;
    utf8_second_byte_range(p.lead, &slo, &shi);
    const uint32_t rest = 6u * (p.remaining - 1u);
    *lo = ((p.value << 6) | (slo & 0x3Fu)) << rest;
    *hi = (((p.value << 6) | (shi & 0x3Fu)) << rest) | ((1u << rest) - 1u);
  } else {
    const uint32_t rest = 6u * p.remaining;
    *lo = p.value << rest;
    *hi = *lo | ((1u << rest) - 1u);
  }
}

// Whether some stack can take some completion of the pending character.
bool partial_feasible(const Grammar& g, const std::vector<Stack>& stacks, const PartialUtf8& p) {
  uint32_t lo, hi;
  partial_range(p, &lo, &hi);
  for (const Stack& s : stacks) {
    if (!s.empty() && g.charset(g.element(s.back()).value).intersects(lo, hi)) return true;
  }
  return false;
}

}  // namespace

Result<ParserState> initial_state(const Grammar& grammar, const MatcherLimits& limits) {
  ParserState state;
  Expander expander(grammar, limits);
  for (uint32_t alt : grammar.alternatives(grammar.root())) {
    Stack s;
    if (grammar.element(alt).kind != Element::Kind::kEnd) s.push_back(alt);
    EMBER_RETURN_IF_ERROR(expander.expand(std::move(s), &state.stacks));
  }
  EMBER_RETURN_IF_ERROR(finish_stacks(&state.stacks, limits));
  return state;
}

Result<bool> advance_byte(const Grammar& g, const ParserState& in, uint8_t b, ParserState* out,
                          const MatcherLimits& limits) {
  const PartialUtf8& p = in.partial;
  if (p.remaining == 0) {
    if (b < 0x80) {
      out->partial = {};
      EMBER_RETURN_IF_ERROR(advance_code_point(g, in.stacks, b, &out->stacks, limits));
      return !out->stacks.empty();
    }
    const int n = utf8_sequence_length(b);
    if (n == 0) return false;
    PartialUtf8 next{static_cast<uint32_t>(b & (0x7F >> n)), static_cast<uint8_t>(n - 1), b, 1};
    if (!partial_feasible(g, in.stacks, next)) return false;
    out->stacks = in.stacks;
    out->partial = next;
    return true;
  }
  if (p.seen == 1) {
    uint8_t lo, hi;
    utf8_second_byte_range(p.lead, &lo, &hi);
    if (b < lo || b > hi) return false;
  } else if ((b & 0xC0) != 0x80) {
    return false;
  }
  PartialUtf8 next = p;
  next.value = (p.value << 6) | (b & 0x3Fu);
  --next.remaining;
  ++next.seen;
  if (next.remaining == 0) {
    out->partial = {};
    EMBER_RETURN_IF_ERROR(advance_code_point(g, in.stacks, next.value, &out->stacks, limits));
    return !out->stacks.empty();
  }
  if (!partial_feasible(g, in.stacks, next)) return false;
  out->stacks = in.stacks;
  out->partial = next;
  return true;
}

Result<bool> advance_char(const Grammar& g, const ParserState& in, uint32_t cp, ParserState* out,
                          const MatcherLimits& limits) {
  out->partial = {};
  EMBER_RETURN_IF_ERROR(advance_code_point(g, in.stacks, cp, &out->stacks, limits));
  return !out->stacks.empty();
}

void pending_char_range(const PartialUtf8& pending, uint32_t* lo, uint32_t* hi) {
  partial_range(pending, lo, hi);
}

bool pending_char_feasible(const Grammar& g, const ParserState& state, const PartialUtf8& pending) {
  return partial_feasible(g, state.stacks, pending);
}

bool state_is_complete(const ParserState& state) {
  // Stacks are sorted, so an empty stack (the root rule ended) comes first.
  return state.partial.remaining == 0 && !state.stacks.empty() && state.stacks.front().empty();
}

Result<GrammarMatcher> GrammarMatcher::create(std::shared_ptr<const Grammar> grammar,
                                              MatcherLimits limits) {
  if (grammar == nullptr) return invalid_argument("grammar matcher needs a grammar");
  EMBER_ASSIGN_OR_RETURN(ParserState init, initial_state(*grammar, limits));
  auto shared = std::make_shared<const ParserState>(std::move(init));
  return GrammarMatcher(std::move(grammar), limits, std::move(shared));
}

Result<bool> GrammarMatcher::try_accept(std::string_view bytes) {
  if (bytes.empty()) return true;
  ParserState a = state_, b;
  for (char c : bytes) {
    EMBER_ASSIGN_OR_RETURN(const bool ok,
                           advance_byte(*grammar_, a, static_cast<uint8_t>(c), &b, limits_));
    if (!ok) return false;
    std::swap(a, b);
  }
  state_ = std::move(a);
  return true;
}

bool GrammarMatcher::accept_bytes(std::string_view bytes) {
  Result<bool> r = try_accept(bytes);
  last_error_ = r.status();
  return r.ok() && *r;
}

Result<bool> GrammarMatcher::can_accept(std::string_view bytes) const {
  GrammarMatcher copy = *this;
  return copy.try_accept(bytes);
}

bool GrammarMatcher::can_continue() const {
  for (const Stack& s : state_.stacks) {
    if (!s.empty()) return true;
  }
  return false;
}

std::vector<bool> GrammarMatcher::allowed(std::span<const std::string_view> candidates) const {
  std::vector<bool> result(candidates.size(), false);
  std::vector<size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return candidates[a] < candidates[b]; });
  // path[d]: state after the first d bytes of the previous candidate, valid for d <= alive.
  std::vector<ParserState> path{state_};
  size_t alive = 0;
  std::string_view prev;
  for (size_t idx : order) {
    const std::string_view c = candidates[idx];
    size_t common = 0;
    while (common < c.size() && common < prev.size() && c[common] == prev[common]) ++common;
    size_t d = std::min(common, alive);
    prev = c;
    bool dead = false;
    while (d < c.size()) {
      if (path.size() <= d + 1) path.resize(d + 2);
      Result<bool> ok =
          advance_byte(*grammar_, path[d], static_cast<uint8_t>(c[d]), &path[d + 1], limits_);
      if (!ok.ok() || !*ok) {
        dead = true;
        break;
      }
      ++d;
    }
    alive = d;
    result[idx] = !dead;
  }
  return result;
}

}  // namespace ember::grammar
