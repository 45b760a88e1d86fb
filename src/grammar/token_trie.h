// The vocabulary's token byte strings as a trie in depth-first (preorder) layout, built once per
// vocabulary and shared (read-only, thread-safe) by every TokenFilter.
//
// Node i has a byte, a depth (1 for children of the root) and `skip`, the index of the first node
// after its subtree, so a walk that finds a prefix impossible jumps over everything below it. The
// tokens whose bytes end exactly at node i are tokens()[token_begin()[i], token_begin()[i + 1]),
// and `has_tokens` says whether that range is non-empty. Nodes are 8 bytes so a walk over the
// whole vocabulary streams little memory.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ember::grammar {

class TokenTrie {
 public:
  struct Node {
    uint32_t skip;   // index of the first node after this subtree
    uint16_t depth;  // bytes from the root (>= 1)
    uint8_t byte;
    uint8_t has_tokens;  // some token ends here
  };
  // Tokens longer than this are left out of the trie (never allowed by a TokenFilter).
  static constexpr size_t kMaxTokenBytes = 65535;

  // Bytes fall into a few classes (control, space, digit, lower, upper, quote, backslash, other
  // ASCII punctuation, UTF-8 continuation, UTF-8 lead / invalid). For each node, the set of classes
  // of all bytes in its subtree lets a TokenFilter accept a whole subtree at once from a state that
  // every byte of those classes leads back to (inside a JSON string, say).
  static constexpr int kByteClasses = 10;
  static int byte_class(uint8_t b) {
    if (b < 0x20 || b == 0x7F) return 0;
    if (b == ' ') return 1;
    if (b >= '0' && b <= '9') return 2;
    if (b >= 'a' && b <= 'z') return 3;
    if (b >= 'A' && b <= 'Z') return 4;
    if (b == '"') return 5;
    if (b == '\\') return 6;
    if (b < 0x80) return 7;
    if (b < 0xC0) return 8;
    return 9;
  }

  // token_bytes[id] = the bytes token `id` stands for when generated. Tokens with no bytes
  // (control tokens, end of generation) are left out: they never continue a grammar, and the
  // sampler decides about end of generation with GrammarMatcher::is_complete(). So are tokens
  // over kMaxTokenBytes (no real vocabulary has them).
  explicit TokenTrie(std::span<const std::string> token_bytes);
  explicit TokenTrie(std::span<const std::string_view> token_bytes);

  size_t vocab_size() const { return vocab_size_; }
  size_t node_count() const { return nodes_.size(); }
  std::span<const Node> nodes() const { return nodes_; }
  std::span<const uint32_t> token_begin() const { return token_begin_; }  // node_count() + 1
  // Bit c set: some byte in the node's subtree (itself included) has class c.
  std::span<const uint16_t> subtree_classes() const { return subtree_classes_; }
  std::span<const int32_t> tokens() const { return tokens_; }
  size_t max_depth() const { return max_depth_; }
  // The bytes of token `id` (empty for ids out of range).
  std::string_view token_bytes(int32_t id) const;

 private:
  void build(std::vector<std::string_view> views);

  size_t vocab_size_ = 0;
  size_t max_depth_ = 0;
  std::vector<Node> nodes_;
  std::vector<uint32_t> token_begin_;
  std::vector<uint16_t> subtree_classes_;
  std::vector<int32_t> tokens_;
  std::string storage_;            // all token bytes, concatenated
  std::vector<uint64_t> offsets_;  // token id -> [offsets_[id], offsets_[id + 1]) in storage_
};

}  // namespace ember::grammar
