// Internal: the GGUF header parser, a friend of GgufFile so it can fill one in.
#pragma once

#include <cstdint>
#include <span>

#include "base/mapped_file.h"
#include "gguf/gguf.h"

namespace ember {

struct GgufFile::Storage {
  MappedFile file;
};

class GgufParser {
 public:
  // Parses and validates `bytes` (which must outlive `out`'s use of tensor data pointers) into
  // `out`'s metadata, tensors, version, alignment and size. Tensors get `file_index`.
  static Status parse(std::span<const uint8_t> bytes, uint32_t file_index, GgufFile* out);
  static Status parse_unchecked(std::span<const uint8_t> bytes, uint32_t file_index, GgufFile* out);
  // Opens one file (no split handling) into a fresh GgufFile.
  static Result<GgufFile> open_single(const std::string& path, bool use_mmap, uint32_t file_index);
  // Opens every part of a split model and merges them into one GgufFile.
  static Result<GgufFile> open_splits(const std::string& prefix, uint32_t first_no, uint32_t count,
                                      bool use_mmap);
};

}  // namespace ember
