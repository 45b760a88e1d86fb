#include "base/mapped_file.h"

#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ember {
namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

Status os_error(const std::string& what, const std::string& path, int err) {
  return io_error("cannot " + what + " '" + path + "': " + errno_text(err));
}

// Closes a descriptor on every exit path of the open functions.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Opens `path` and returns its size; refuses directories and other non-regular files, whose
// "size" means nothing and which mmap or read would handle badly.
Result<size_t> open_regular(const std::string& path, int* fd_out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return not_found("cannot open '" + path + "': " + errno_text(err));
    return os_error("open", path, err);
  }
  *fd_out = fd;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return os_error("stat", path, errno);
  if (!S_ISREG(st.st_mode)) return io_error("'" + path + "' is not a regular file");
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > std::numeric_limits<size_t>::max()) {
    return io_error("'" + path + "' is too large to load");
  }
  return static_cast<size_t>(st.st_size);
}

}  // namespace

MappedFile::~MappedFile() {
  reset();
}

MappedFile::MappedFile(MappedFile&& other) noexcept {
  *this = std::move(other);
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this == &other) return *this;
  reset();
  path_ = std::move(other.path_);
  mapping_ = std::exchange(other.mapping_, nullptr);
  mapping_size_ = std::exchange(other.mapping_size_, 0);
  // Moving a vector keeps its heap block, so data_ (pointing into it) stays valid.
  buffer_ = std::move(other.buffer_);
  data_ = std::exchange(other.data_, nullptr);
  size_ = std::exchange(other.size_, 0);
  other.buffer_.clear();
  return *this;
}

void MappedFile::reset() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
  mapping_ = nullptr;
  mapping_size_ = 0;
  buffer_.clear();
  buffer_.shrink_to_fit();
  data_ = nullptr;
  size_ = 0;
}

Result<MappedFile> MappedFile::map(const std::string& path) {
  int raw_fd = -1;
  Result<size_t> size = open_regular(path, &raw_fd);
  Fd fd(raw_fd);
  if (!size.ok()) return size.status();
  MappedFile f;
  f.path_ = path;
  if (*size == 0) return f;
  void* p = ::mmap(nullptr, *size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (p == MAP_FAILED) return os_error("mmap", path, errno);
  f.mapping_ = p;
  f.mapping_size_ = *size;
  f.data_ = static_cast<const uint8_t*>(p);
  f.size_ = *size;
  return f;
}

Result<MappedFile> MappedFile::read(const std::string& path) {
  int raw_fd = -1;
  Result<size_t> size = open_regular(path, &raw_fd);
  Fd fd(raw_fd);
  if (!size.ok()) return size.status();
  MappedFile f;
  f.path_ = path;
  // The size comes from the OS, not from file content, so allocating it is safe; a failed
  // allocation is still reported rather than thrown.
  try {
    f.buffer_.resize(*size);
  } catch (const std::bad_alloc&) {
    return resource_exhausted("cannot allocate " + std::to_string(*size) + " bytes to read '" +
                              path + "'");
  }
  size_t done = 0;
  while (done < *size) {
    const ssize_t n = ::read(fd.get(), f.buffer_.data() + done, *size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error("read", path, errno);
    }
    if (n == 0) return io_error("'" + path + "' shrank while being read");
    done += static_cast<size_t>(n);
  }
  f.data_ = f.buffer_.data();
  f.size_ = f.buffer_.size();
  return f;
}

Result<MappedFile> MappedFile::open(const std::string& path, bool use_mmap) {
  return use_mmap ? map(path) : read(path);
}

MappedFile MappedFile::copy_of(std::span<const uint8_t> bytes) {
  MappedFile f;
  f.buffer_.assign(bytes.begin(), bytes.end());
  f.data_ = f.buffer_.data();
  f.size_ = f.buffer_.size();
  return f;
}

}  // namespace ember
