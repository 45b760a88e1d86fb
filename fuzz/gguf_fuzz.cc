// libFuzzer target for the GGUF parser: any input must parse or fail cleanly. On success every
// metadata value and every tensor byte is touched, so a bad pointer or size shows up under ASan.
#include <cstddef>
#include <cstdint>
#include <span>

#include "gguf/gguf.h"

namespace {

uint64_t touch(const ember::GgufValue& v) {
  uint64_t h = v.summary().size() + static_cast<uint64_t>(v.type());
  if (auto s = v.as_string(); s.ok()) h += s->size();
  if (auto u = v.as_uint(); u.ok()) h += *u;
  if (auto a = v.as_string_array(); a.ok()) {
    for (const auto& s : *a) h += s.size();
  }
  if (auto a = v.as_int_array(); a.ok()) {
    for (int64_t x : *a) h += static_cast<uint64_t>(x);
  }
  if (auto a = v.as_float_array(); a.ok()) h += a->size();
  if (auto a = v.as_array_array(); a.ok()) {
    for (const auto& inner : *a) h += touch(inner);
  }
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ember::Result<ember::GgufFile> f = ember::GgufFile::from_bytes(std::span(data, size));
  if (!f.ok()) return 0;
  uint64_t h = 0;
  for (const auto& [key, value] : f->metadata()) h += key.size() + touch(value);
  for (const auto& t : f->tensors()) {
    for (uint8_t b : f->tensor_data(t)) h += b;
    h += static_cast<uint64_t>(t.n_rows());
  }
  // Keep the sum observable so the loops are not optimized away.
  volatile uint64_t sink = h;
  (void)sink;
  return 0;
}
