// Read-only access to a whole file's bytes: a memory map, or (when mapping is not wanted or not
// possible) a heap copy read with ordinary reads. Either way the bytes stay valid and unchanged
// for the object's lifetime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ember/status.h"

namespace ember {

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Maps `path` read-only. An empty file gives an empty span (mmap cannot map zero bytes).
  static Result<MappedFile> map(const std::string& path);
  // Reads the whole of `path` into a heap buffer.
  static Result<MappedFile> read(const std::string& path);
  // Opens with map() or read() depending on `use_mmap`.
  static Result<MappedFile> open(const std::string& path, bool use_mmap);
  // Owns a copy of `bytes` (for parsing data that is already in memory).
  static MappedFile copy_of(std::span<const uint8_t> bytes);

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool is_mapped() const { return mapping_ != nullptr; }
  const std::string& path() const { return path_; }

 private:
  void reset();

  std::string path_;
  void* mapping_ = nullptr;  // the mmap'd region, or null when the bytes live in `buffer_`
  size_t mapping_size_ = 0;
  std::vector<uint8_t> buffer_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ember
