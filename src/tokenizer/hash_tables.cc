#include "tokenizer/hash_tables.h"

#include <utility>

namespace ember::tokenizer {

int32_t StringIdMap::insert(std::string_view key, int32_t id) {
  // Keep the load factor at or below one half so probe sequences stay short.
  if ((count_ + 1) * 2 > slots_.size()) grow();
  const uint64_t h = hash_bytes(key);
  const uint32_t tag = static_cast<uint32_t>(h);
  size_t i = static_cast<size_t>(h >> 32) & mask_;
  for (;;) {
    Slot& s = slots_[i];
    if (s.id < 0) {
      s.offset = arena_.size();
      s.len = static_cast<uint32_t>(key.size());
      s.tag = tag;
      s.id = id;
      arena_.append(key);
      ++count_;
      return id;
    }
    if (s.tag == tag && s.len == key.size() &&
        std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
      return s.id;
    }
    i = (i + 1) & mask_;
  }
}

void StringIdMap::assign(std::string_view key, int32_t id) {
  if (insert(key, id) == id) return;
  const uint64_t h = hash_bytes(key);
  const uint32_t tag = static_cast<uint32_t>(h);
  for (size_t i = static_cast<size_t>(h >> 32) & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.tag == tag && s.len == key.size() &&
        std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
      s.id = id;
      return;
    }
  }
}

void StringIdMap::grow() {
  const size_t capacity = slots_.empty() ? 64 : slots_.size() * 2;
  std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(capacity));
  mask_ = capacity - 1;
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    const std::string_view key(arena_.data() + s.offset, s.len);
    size_t i = static_cast<size_t>(hash_bytes(key) >> 32) & mask_;
    while (slots_[i].id >= 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void PairMap::insert(int32_t left, int32_t right, Value v) {
  if ((count_ + 1) * 2 > slots_.size()) grow();
  const uint64_t key = pack(left, right);
  size_t i = mix(key) & mask_;
  for (;;) {
    Slot& s = slots_[i];
    if (s.key == kEmpty) {
      s.key = key;
      s.value = v;
      ++count_;
      return;
    }
    if (s.key == key) return;
    i = (i + 1) & mask_;
  }
}

void PairMap::grow() {
  const size_t capacity = slots_.empty() ? 64 : slots_.size() * 2;
  std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(capacity));
  mask_ = capacity - 1;
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    size_t i = mix(s.key) & mask_;
    while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

}  // namespace ember::tokenizer
