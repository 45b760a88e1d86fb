// Flat, open-addressing hash tables for the tokenizers' hot lookups: byte string -> id (token text,
// byte-level pieces) and (id, id) -> (rank, merged id) for BPE merges.
//
// Both are built once while a vocabulary loads and are read-only afterwards, so concurrent
// lookups from many threads are safe without locks. Lookups never allocate.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace ember::tokenizer {

// 64-bit hash of a short byte string: 8 bytes at a time, multiply-xorshift mixing. Not
// cryptographic; only needs to spread token texts well.
inline uint64_t hash_bytes(std::string_view s) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0x243F6A8885A308D3ull ^ (s.size() * kMul);
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  h *= kMul;
  return h ^ (h >> 32);
}

// Byte string -> int32 id. Keys are copied into one arena; the map owns them.
class StringIdMap {
 public:
  // Adds `key` -> `id` unless the key is present. Returns the id stored for the key (the
  // existing one when it was present).
  int32_t insert(std::string_view key, int32_t id);
  // Adds `key` -> `id`, replacing the id of a present key.
  void assign(std::string_view key, int32_t id);
  // The id of `key`, or -1.
  int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash_bytes(key);
    const uint32_t tag = static_cast<uint32_t>(h);
    size_t i = static_cast<size_t>(h >> 32) & mask_;
    for (;;) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.tag == tag && s.len == key.size() &&
          std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
        return s.id;
      }
      i = (i + 1) & mask_;
    }
  }
  size_t size() const { return count_; }

 private:
  struct Slot {
    uint64_t offset = 0;
    uint32_t len = 0;
    uint32_t tag = 0;
    int32_t id = -1;  // -1: empty
  };
  void grow();

  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

// (left id, right id) -> (rank, merged id): the BPE merge table keyed by a pair of piece ids.
class PairMap {
 public:
  struct Value {
    int32_t rank = -1;
    int32_t merged = -1;
  };
  // Adds the pair unless present (the first merge listed for a pair wins, as in the reference).
  void insert(int32_t left, int32_t right, Value v);
  // The value for the pair; rank -1 when absent.
  Value find(int32_t left, int32_t right) const {
    if (slots_.empty()) return {};
    const uint64_t key = pack(left, right);
    size_t i = mix(key) & mask_;
    for (;;) {
      const Slot& s = slots_[i];
      if (s.key == kEmpty) return {};
      if (s.key == key) return s.value;
      i = (i + 1) & mask_;
    }
  }
  size_t size() const { return count_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  static uint64_t pack(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static size_t mix(uint64_t k) {
    k *= 0x9E3779B97F4A7C15ull;
    return static_cast<size_t>(k ^ (k >> 31));
  }
  struct Slot {
    uint64_t key = kEmpty;
    Value value;
  };
  void grow();

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

}  // namespace ember::tokenizer
