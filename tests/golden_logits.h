// llama.cpp's reference logits in ../shared/testdata/golden, families/golden and real/golden (see
// the README there): one JSON file per model x prompt beside a raw F32 logits file, and the
// normalized RMS error the golden suites hold ember's logits to.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testdata.h"

namespace ember::testing {

struct GoldenLogits {
  std::string name;   // e.g. "llama-spm-f32.p1"
  std::string model;  // the model file's name
  std::vector<int32_t> prompt;
  std::vector<int32_t> positions;
  std::vector<int32_t> greedy;
  std::vector<double> margins;
  int64_t n_vocab = 0;
  std::vector<float> logits;  // [positions][n_vocab]
};

inline GoldenLogits load_golden_logits(const std::filesystem::path& json_path) {
  GoldenLogits g;
  std::ifstream in(json_path);
  const nlohmann::json j = nlohmann::json::parse(in);
  g.name = json_path.stem().string();
  g.model = j.at("model").get<std::string>();
  g.prompt = j.at("prompt_tokens").get<std::vector<int32_t>>();
  g.positions = j.at("logit_positions").get<std::vector<int32_t>>();
  g.greedy = j.at("greedy_tokens").get<std::vector<int32_t>>();
  g.margins = j.at("greedy_margins").get<std::vector<double>>();
  g.n_vocab = j.at("n_vocab").get<int64_t>();
  const auto bytes =
      read_file_bytes(json_path.parent_path() / j.at("logits_file").get<std::string>());
  g.logits.resize(bytes.size() / sizeof(float));
  std::memcpy(g.logits.data(), bytes.data(), g.logits.size() * sizeof(float));
  return g;
}

// RMS of (ours - ref) over the standard deviation of ref, over n values.
inline double nrmse(const float* ours, const float* ref, int64_t n) {
  double mean = 0.0;
  for (int64_t i = 0; i < n; ++i) mean += ref[i];
  mean /= static_cast<double>(n);
  double var = 0.0, err = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    var += (ref[i] - mean) * (ref[i] - mean);
    err += (static_cast<double>(ours[i]) - ref[i]) * (static_cast<double>(ours[i]) - ref[i]);
  }
  return std::sqrt(err / static_cast<double>(n)) / std::sqrt(var / static_cast<double>(n));
}

}  // namespace ember::testing
