#include "grammar/token_trie.h"

#include <algorithm>
#include <numeric>

namespace ember::grammar {

TokenTrie::TokenTrie(std::span<const std::string> token_bytes) {
  std::vector<std::string_view> views(token_bytes.begin(), token_bytes.end());
  build(std::move(views));
}

TokenTrie::TokenTrie(std::span<const std::string_view> token_bytes) {
  build(std::vector<std::string_view>(token_bytes.begin(), token_bytes.end()));
}

std::string_view TokenTrie::token_bytes(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_size_) return {};
  return std::string_view(storage_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
}

void TokenTrie::build(std::vector<std::string_view> views) {
  vocab_size_ = views.size();
  // Own a copy of the bytes so callers may free theirs.
  offsets_.resize(views.size() + 1);
  size_t total = 0;
  for (size_t i = 0; i < views.size(); ++i) {
    offsets_[i] = total;
    total += views[i].size();
  }
  offsets_[views.size()] = total;
  storage_.reserve(total);
  for (std::string_view v : views) storage_.append(v);
  for (size_t i = 0; i < views.size(); ++i) views[i] = token_bytes(static_cast<int32_t>(i));

  // Sorted order is depth-first order: each token adds the nodes past its common prefix with the
  // previous one, and a token that is a prefix of another comes first.
  std::vector<int32_t> order;
  order.reserve(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    if (!views[i].empty() && views[i].size() <= kMaxTokenBytes)
      order.push_back(static_cast<int32_t>(i));
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return views[a] < views[b] || (views[a] == views[b] && a < b);
  });
  std::vector<uint32_t> path;  // node index at each depth of the previous token
  std::vector<uint32_t> token_node;
  token_node.reserve(order.size());
  std::string_view prev;
  for (int32_t id : order) {
    const std::string_view t = views[id];
    size_t common = 0;
    while (common < t.size() && common < prev.size() && t[common] == prev[common]) ++common;
    path.resize(common);
    for (size_t d = common; d < t.size(); ++d) {
      path.push_back(static_cast<uint32_t>(nodes_.size()));
      nodes_.push_back({0, static_cast<uint16_t>(d + 1), static_cast<uint8_t>(t[d]), 0});
    }
    token_node.push_back(path.back());
    max_depth_ = std::max(max_depth_, t.size());
    prev = t;
  }
  // Token ranges: tokens were appended in node order.
  tokens_.assign(order.begin(), order.end());
  const uint32_t n = static_cast<uint32_t>(nodes_.size());
  std::vector<uint32_t> count(n + 1, 0);
  for (uint32_t node : token_node) ++count[node];
  token_begin_.resize(n + 1);
  uint32_t acc = 0;
  for (uint32_t i = 0; i < n; ++i) {
    token_begin_[i] = acc;
    nodes_[i].has_tokens = count[i] > 0;
    acc += count[i];
  }
  token_begin_[n] = acc;
  // Subtree ends: the next node at the same or a smaller depth.
  std::vector<uint32_t> open;
  for (uint32_t i = 0; i < n; ++i) {
    while (!open.empty() && nodes_[open.back()].depth >= nodes_[i].depth) {
      nodes_[open.back()].skip = i;
      open.pop_back();
    }
    open.push_back(i);
  }
  for (uint32_t i : open) nodes_[i].skip = n;
  // Subtree classes, children before parents: a node's direct children are i + 1, then the
  // node after each child's subtree, up to the end of its own subtree.
  subtree_classes_.assign(n, 0);
  for (uint32_t i = n; i-- > 0;) {
    uint16_t c = static_cast<uint16_t>(1u << byte_class(nodes_[i].byte));
    for (uint32_t child = i + 1; child < nodes_[i].skip; child = nodes_[child].skip) {
      c |= subtree_classes_[child];
    }
    subtree_classes_[i] = c;
  }
}

}  // namespace ember::grammar
