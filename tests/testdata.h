// Locating the shared reference data (../shared/testdata or $EMBER_TESTDATA) from tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

namespace ember::testing {

// The reference data folder, or an empty path when it is absent.
inline std::filesystem::path testdata_dir() {
  if (const char* env = std::getenv("EMBER_TESTDATA"); env != nullptr && *env != '\0') {
    return env;
  }
  std::filesystem::path p = EMBER_DEFAULT_TESTDATA;
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) return p;
  return {};
}

// Reads a whole file as bytes; fails the test when it cannot be read.
inline std::vector<char> read_file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << p;
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::filesystem::path temp_dir() {
  auto p = std::filesystem::temp_directory_path() / ("ember-tests-" + std::to_string(::getpid()));
  std::filesystem::create_directories(p);
  return p;
}

}  // namespace ember::testing

// Skips the current test, with the reason, when the reference data is absent. In CI
// (CI=true) absence is a failure instead, so a reference suite can never be silently skipped.
#define EMBER_REQUIRE_TESTDATA(dir_var)                                                      \
  const std::filesystem::path dir_var = ::ember::testing::testdata_dir();                    \
  if (dir_var.empty()) {                                                                     \
    if (const char* ci = std::getenv("CI"); ci != nullptr && std::string(ci) == "true") {   \
      FAIL() << "reference data missing in CI (set EMBER_TESTDATA or provide ../shared/testdata)"; \
    }                                                                                        \
    GTEST_SKIP() << "reference data not found (set EMBER_TESTDATA or provide "               \
                    "../shared/testdata); skipping reference suite";                         \
  }
