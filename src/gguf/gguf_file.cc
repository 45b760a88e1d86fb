// GgufFile: opening (single files and split models), lookups and typed getters.
#include <cstdio>
#include <unordered_set>

#include "gguf/gguf.h"
#include "gguf/gguf_parser.h"

namespace ember {
namespace {

struct SplitName {
  std::string prefix;  // everything before "-NNNNN-of-NNNNN.gguf"
  uint32_t no = 0;     // 1-based part number from the name
  uint32_t count = 0;
};

bool parse_digits5(std::string_view s, uint32_t* out) {
  if (s.size() != 5) return false;
  uint32_t v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + static_cast<uint32_t>(ch - '0');
  }
  *out = v;
  return true;
}

// Recognizes llama.cpp's split naming, "<prefix>-00001-of-00003.gguf".
bool parse_split_name(const std::string& path, SplitName* out) {
  constexpr std::string_view kSuffix = ".gguf";
  constexpr size_t kTail = 1 + 5 + 4 + 5;  // "-NNNNN-of-NNNNN"
  if (path.size() < kTail + kSuffix.size()) return false;
  const std::string_view p(path);
  if (p.substr(p.size() - kSuffix.size()) != kSuffix) return false;
  const std::string_view tail = p.substr(p.size() - kSuffix.size() - kTail, kTail);
  if (tail[0] != '-' || tail.substr(6, 4) != "-of-") return false;
  if (!parse_digits5(tail.substr(1, 5), &out->no) ||
      !parse_digits5(tail.substr(10, 5), &out->count)) {
    return false;
  }
  out->prefix = std::string(p.substr(0, p.size() - kSuffix.size() - kTail));
  return true;
}

std::string split_path(const std::string& prefix, uint32_t no, uint32_t count) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "-%05u-of-%05u.gguf", no, count);
  return prefix + buf;
}

}  // namespace

GgufFile::GgufFile() = default;
GgufFile::~GgufFile() = default;
GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;

Result<GgufFile> GgufParser::open_single(const std::string& path, bool use_mmap,
                                         uint32_t file_index) {
  Result<MappedFile> mapped = MappedFile::open(path, use_mmap);
  if (!mapped.ok()) return mapped.status();
  auto storage = std::make_unique<GgufFile::Storage>();
  storage->file = std::move(mapped).value();
  GgufFile f;
  Status s = parse(storage->file.bytes(), file_index, &f);
  if (!s.ok()) return s.with_context("'" + path + "'");
  f.storage_.push_back(std::move(storage));
  return f;
}

Result<GgufFile> GgufParser::open_splits(const std::string& prefix, uint32_t first_no,
                                         uint32_t count, bool use_mmap) {
  GgufFile merged;
  std::unordered_set<std::string> names;
  for (uint32_t i = 0; i < count; ++i) {
    const std::string path = split_path(prefix, first_no + i, count);
    Result<GgufFile> part = open_single(path, use_mmap, i);
    if (!part.ok()) {
      if (part.status().code() == StatusCode::kNotFound) {
        return not_found("split model part " + std::to_string(i + 1) + " of " +
                         std::to_string(count) + " is missing: '" + path + "'");
      }
      return part.status();
    }
    // llama.cpp's gguf-split stores the 0-based part number and the part count in every part.
    Result<uint64_t> no = part->get_uint("split.no");
    Result<uint64_t> n = part->get_uint("split.count");
    if (!no.ok() || !n.ok()) {
      return data_loss("'" + path + "': split part lacks a valid split.no / split.count (" +
                       (!no.ok() ? no.status().message() : n.status().message()) + ")");
    }
    if (*no != i || *n != count) {
      return data_loss("'" + path + "': split.no " + std::to_string(*no) + " / split.count " +
                       std::to_string(*n) + " do not match its name (part " + std::to_string(i) +
                       " of " + std::to_string(count) + ")");
    }
    for (GgufTensorInfo& t : part->tensors_) {
      if (!names.insert(t.name).second) {
        return data_loss("'" + path + "': tensor '" + t.name +
                         "' also appears in an earlier split part");
      }
      merged.tensors_.push_back(std::move(t));
    }
    if (i == 0) {
      merged.version_ = part->version_;
      merged.alignment_ = part->alignment_;
      merged.metadata_ = std::move(part->metadata_);
    }
    merged.file_size_ += part->file_size_;
    for (auto& s : part->storage_) merged.storage_.push_back(std::move(s));
  }
  if (const GgufValue* v = merged.find("split.tensors.count"); v != nullptr) {
    Result<uint64_t> expected = v->as_uint();
    if (expected.ok() && *expected != merged.tensors_.size()) {
      return data_loss("split model has " + std::to_string(merged.tensors_.size()) +
                       " tensors but split.tensors.count says " + std::to_string(*expected));
    }
  }
  return merged;
}

Result<GgufFile> GgufFile::open(const std::string& path, const GgufReadOptions& options) {
  SplitName split;
  if (options.load_all_splits && parse_split_name(path, &split) && split.count > 1) {
    if (split.no == 0 || split.no > split.count) {
      return invalid_argument("'" + path + "': split part number " + std::to_string(split.no) +
                              " is outside 1.." + std::to_string(split.count));
    }
    if (split.no != 1) {
      return invalid_argument("'" + path + "' is part " + std::to_string(split.no) + " of " +
                              std::to_string(split.count) +
                              " of a split model; open the first part '" +
                              split_path(split.prefix, 1, split.count) + "' instead");
    }
    return GgufParser::open_splits(split.prefix, 1, split.count, options.use_mmap);
  }
  return GgufParser::open_single(path, options.use_mmap, 0);
}

Result<GgufFile> GgufFile::from_bytes(std::span<const uint8_t> bytes) {
  auto storage = std::make_unique<Storage>();
  storage->file = MappedFile::copy_of(bytes);
  GgufFile f;
  EMBER_RETURN_IF_ERROR(GgufParser::parse(storage->file.bytes(), 0, &f));
  f.storage_.push_back(std::move(storage));
  return f;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  for (const auto& [k, v] : metadata_) {
    if (k == key) return &v;
  }
  return nullptr;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {

template <typename T, typename Get>
Result<T> typed_get(const GgufFile& f, std::string_view key, Get get) {
  const GgufValue* v = f.find(key);
  if (v == nullptr) return not_found("metadata key '" + std::string(key) + "' not found");
  auto r = get(*v);
  if (!r.ok()) return invalid_argument("key '" + std::string(key) + "': " + r.status().message());
  return T(*r);
}

}  // namespace

Result<std::string> GgufFile::get_string(std::string_view key) const {
  return typed_get<std::string>(*this, key, [](const GgufValue& v) { return v.as_string(); });
}
Result<uint64_t> GgufFile::get_uint(std::string_view key) const {
  return typed_get<uint64_t>(*this, key, [](const GgufValue& v) { return v.as_uint(); });
}
Result<int64_t> GgufFile::get_int(std::string_view key) const {
  return typed_get<int64_t>(*this, key, [](const GgufValue& v) { return v.as_int(); });
}
Result<double> GgufFile::get_float(std::string_view key) const {
  return typed_get<double>(*this, key, [](const GgufValue& v) { return v.as_float(); });
}
Result<bool> GgufFile::get_bool(std::string_view key) const {
  return typed_get<bool>(*this, key, [](const GgufValue& v) { return v.as_bool(); });
}

}  // namespace ember
