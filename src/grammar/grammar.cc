#include "grammar/grammar.h"

#include <algorithm>
#include <string>

namespace ember::grammar {
namespace {

// Which rules can match the empty string, in time linear in the grammar size: each alternative
// counts its elements not yet known to be nullable; when a rule becomes nullable every alternative
// that mentions it counts down, and an alternative reaching zero makes its own rule nullable.
std::vector<uint8_t> compute_nullable(const std::vector<RuleDef>& rules) {
  struct AltRef {
    uint32_t rule;
    uint32_t alt;
  };
  std::vector<std::vector<AltRef>> used_in(rules.size());
  std::vector<std::vector<uint32_t>> pending(rules.size());
  std::vector<uint8_t> nullable(rules.size(), 0);
  std::vector<uint32_t> work;
  for (uint32_t r = 0; r < rules.size(); ++r) {
    pending[r].resize(rules[r].alternatives.size());
    for (uint32_t a = 0; a < rules[r].alternatives.size(); ++a) {
      const auto& alt = rules[r].alternatives[a];
      pending[r][a] = static_cast<uint32_t>(alt.size());
      for (const Element& e : alt) {
        if (e.kind == Element::Kind::kRule) used_in[e.value].push_back({r, a});
      }
      if (alt.empty() && !nullable[r]) {
        nullable[r] = 1;
        work.push_back(r);
      }
    }
  }
  while (!work.empty()) {
    const uint32_t q = work.back();
    work.pop_back();
    for (const AltRef& ref : used_in[q]) {
      // A rule mentioned k times in an alternative appears k times in used_in: each occurrence
      // counts down once, so the alternative reaches zero only when all its elements are nullable.
      if (--pending[ref.rule][ref.alt] == 0 && !nullable[ref.rule]) {
        nullable[ref.rule] = 1;
        work.push_back(ref.rule);
      }
    }
  }
  return nullable;
}

struct LeftEdge {
  uint32_t to;
  bool grows;  // the reference is followed by more elements, so expanding it pushes a frame
};

// Strongly connected components of the "can start with" graph (iterative Tarjan, so deep rule
// chains from large repetitions cannot overflow the call stack). Returns the component of each
// rule.
std::vector<uint32_t> strongly_connected(const std::vector<std::vector<LeftEdge>>& graph,
                                         uint32_t* n_components) {
  const uint32_t n = static_cast<uint32_t>(graph.size());
  constexpr uint32_t kUnvisited = UINT32_MAX;
  std::vector<uint32_t> index(n, kUnvisited), low(n, 0), comp(n, kUnvisited);
  std::vector<uint8_t> on_stack(n, 0);
  std::vector<uint32_t> stack;
  struct Frame {
    uint32_t v;
    uint32_t next_edge;
  };
  std::vector<Frame> call;
  uint32_t counter = 0, n_comp = 0;
  for (uint32_t start = 0; start < n; ++start) {
    if (index[start] != kUnvisited) continue;
    call.push_back({start, 0});
    index[start] = low[start] = counter++;
    stack.push_back(start);
    on_stack[start] = 1;
    while (!call.empty()) {
      Frame& f = call.back();
      if (f.next_edge < graph[f.v].size()) {
        const uint32_t w = graph[f.v][f.next_edge++].to;
        if (index[w] == kUnvisited) {
          index[w] = low[w] = counter++;
          stack.push_back(w);
          on_stack[w] = 1;
          call.push_back({w, 0});
        } else if (on_stack[w]) {
          low[f.v] = std::min(low[f.v], index[w]);
        }
        continue;
      }
      const uint32_t v = f.v;
      call.pop_back();
      if (!call.empty()) low[call.back().v] = std::min(low[call.back().v], low[v]);
      if (low[v] == index[v]) {
        uint32_t w;
        do {
          w = stack.back();
          stack.pop_back();
          on_stack[w] = 0;
          comp[w] = n_comp;
        } while (w != v);
        ++n_comp;
      }
    }
  }
  *n_components = n_comp;
  return comp;
}

// "expr (line 2)" for a user rule, the owner's name for rules made for groups and repetitions.
std::string describe_rule(const std::vector<RuleDef>& rules, uint32_t r) {
  const RuleDef& owner = rules[rules[r].owner];
  std::string s = "'" + owner.name + "'";
  if (owner.line > 0) s += " (line " + std::to_string(owner.line) + ")";
  return s;
}

// A cycle inside component `c` through `start`, as rule names (owners, consecutive repeats folded).
std::string cycle_path(const std::vector<RuleDef>& rules,
                       const std::vector<std::vector<LeftEdge>>& graph,
                       const std::vector<uint32_t>& comp, uint32_t start) {
  // Breadth-first search from start back to start, staying inside the component.
  std::vector<uint32_t> parent(rules.size(), UINT32_MAX);
  std::vector<uint32_t> queue{start};
  uint32_t last = UINT32_MAX;
  for (size_t qi = 0; qi < queue.size() && last == UINT32_MAX; ++qi) {
    const uint32_t v = queue[qi];
    for (const LeftEdge& e : graph[v]) {
      if (comp[e.to] != comp[start]) continue;
      if (e.to == start) {
        last = v;
        break;
      }
      if (parent[e.to] == UINT32_MAX) {
        parent[e.to] = v;
        queue.push_back(e.to);
      }
    }
  }
  std::vector<uint32_t> path;
  for (uint32_t v = last; v != UINT32_MAX && v != start; v = parent[v]) path.push_back(v);
  path.push_back(start);
  std::reverse(path.begin(), path.end());
  path.push_back(start);
  std::string s;
  std::string prev;
  for (uint32_t v : path) {
    const std::string& name = rules[rules[v].owner].name;
    if (name == prev) continue;
    if (!s.empty()) s += " -> ";
    s += name;
    prev = name;
  }
  return s;
}

Status check_left_recursion(const std::vector<RuleDef>& rules,
                            const std::vector<uint8_t>& nullable) {
  std::vector<std::vector<LeftEdge>> graph(rules.size());
  for (uint32_t r = 0; r < rules.size(); ++r) {
    for (const auto& alt : rules[r].alternatives) {
      for (size_t i = 0; i < alt.size(); ++i) {
        if (alt[i].kind != Element::Kind::kRule) break;
        graph[r].push_back({alt[i].value, i + 1 < alt.size()});
        if (!nullable[alt[i].value]) break;
      }
    }
  }
  uint32_t n_comp = 0;
  const std::vector<uint32_t> comp = strongly_connected(graph, &n_comp);
  // A cycle is fatal when expanding it pushes frames (the stack would grow forever) or when it
  // runs through a rule the user wrote (`a ::= a | "x"`, as llama.cpp rejects). Cycles made only
  // of the helper rules of a repetition whose item can match nothing, like ("a"?)*, are harmless:
  // the matcher's expansion skips stacks it has already produced.
  std::vector<uint8_t> cyclic(n_comp, 0), fatal(n_comp, 0);
  for (uint32_t r = 0; r < rules.size(); ++r) {
    for (const LeftEdge& e : graph[r]) {
      if (comp[e.to] != comp[r]) continue;
      cyclic[comp[r]] = 1;
      if (e.grows) fatal[comp[r]] = 1;
    }
  }
  for (uint32_t r = 0; r < rules.size(); ++r) {
    if (cyclic[comp[r]] && !rules[r].synthesized) fatal[comp[r]] = 1;
  }
  for (uint32_t r = 0; r < rules.size(); ++r) {
    if (!fatal[comp[r]]) continue;
    // Report from a user-written rule of the cycle when there is one.
    uint32_t start = r;
    for (uint32_t q = r; q < rules.size(); ++q) {
      if (comp[q] == comp[r] && !rules[q].synthesized) {
        start = q;
        break;
      }
    }
    return invalid_argument("left recursion: rule " + describe_rule(rules, start) +
                            " can reach itself without consuming input (" +
                            cycle_path(rules, graph, comp, start) + ")");
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<const Grammar>> Grammar::build(std::vector<RuleDef> rules,
                                                      std::vector<CharSet> charsets,
                                                      uint32_t root) {
  if (root >= rules.size()) return invalid_argument("grammar has no 'root' rule");
  for (const RuleDef& rule : rules) {
    if (rule.owner >= rules.size()) return internal_error("rule owner out of range");
    for (const auto& alt : rule.alternatives) {
      for (const Element& e : alt) {
        if (e.kind == Element::Kind::kRule && e.value >= rules.size()) {
          return internal_error("rule reference out of range in '" + rule.name + "'");
        }
        if (e.kind == Element::Kind::kChars && e.value >= charsets.size()) {
          return internal_error("character set out of range in '" + rule.name + "'");
        }
        if (e.kind == Element::Kind::kEnd) {
          return internal_error("end marker inside an alternative of '" + rule.name + "'");
        }
      }
    }
  }
  std::vector<uint8_t> nullable = compute_nullable(rules);
  EMBER_RETURN_IF_ERROR(check_left_recursion(rules, nullable));

  std::shared_ptr<Grammar> g(new Grammar());
  size_t n_elements = 0, n_alts = 0;
  for (const RuleDef& rule : rules) {
    n_alts += rule.alternatives.size();
    for (const auto& alt : rule.alternatives) n_elements += alt.size() + 1;
  }
  if (n_elements >= UINT32_MAX) return resource_exhausted("grammar too large");
  g->elements_.reserve(n_elements);
  g->alt_starts_.reserve(n_alts);
  g->rule_alt_begin_.reserve(rules.size() + 1);
  g->names_.reserve(rules.size());
  for (RuleDef& rule : rules) {
    g->rule_alt_begin_.push_back(static_cast<uint32_t>(g->alt_starts_.size()));
    for (const auto& alt : rule.alternatives) {
      g->alt_starts_.push_back(static_cast<uint32_t>(g->elements_.size()));
      g->elements_.insert(g->elements_.end(), alt.begin(), alt.end());
      g->elements_.push_back({Element::Kind::kEnd, 0});
    }
    g->names_.push_back(std::move(rule.name));
  }
  g->rule_alt_begin_.push_back(static_cast<uint32_t>(g->alt_starts_.size()));
  g->charsets_ = std::move(charsets);
  g->nullable_ = std::move(nullable);
  g->root_ = root;
  return std::shared_ptr<const Grammar>(std::move(g));
}

}  // namespace ember::grammar
