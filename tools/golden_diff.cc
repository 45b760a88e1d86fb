// Diagnostic (target ember_golden_diff; not a test): per-position comparison of ember's logits with
// a golden file (llama.cpp's, ../shared/testdata/.../golden/*.json), to see where ember first
// differs from the reference and how the difference grows (docs/inference.md, "Numerics").
//   golden_diff <golden.json> [--attn auto|perkey|tiled] [--kv f16|f32] [--tbt] [--threads N]
//               [--numerics fast|reference] [--quiet] [--dump logits.f32]
// Prints, per logit position: NRMSE, max |diff|, and "exact" when bit-identical; then the worst
// NRMSE, the first position that differs at all and the first with NRMSE > 1e-4.
// Build: `cmake --build --preset release --target ember_golden_diff`.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/context.h"

using namespace ember;

namespace {

int run(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: golden_diff golden.json [--attn M] [--kv T] [--tbt] [--threads N] "
                 "[--numerics fast|reference] [--quiet] [--dump F]\n");
    return 2;
  }
  std::filesystem::path json_path = argv[1];
  runtime::ContextParams cp;
  cp.n_ctx = 512;
  cp.n_threads = 2;
  runtime::ModelLoadOptions lo;
  bool tbt = false;
  bool quiet = false;
  std::string dump;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--attn" && i + 1 < argc) {
      std::string m = argv[++i];
      cp.attention = m == "perkey"  ? runtime::AttentionMode::kPerKey
                     : m == "tiled" ? runtime::AttentionMode::kTiled
                                    : runtime::AttentionMode::kAuto;
    } else if (a == "--kv" && i + 1 < argc) {
      std::string t = argv[++i];
      cp.kv_type = t == "f32" ? kernels::KvType::kF32 : kernels::KvType::kF16;
    } else if (a == "--tbt") {
      tbt = true;
    } else if (a == "--dump" && i + 1 < argc) {
      dump = argv[++i];
    } else if (a == "--numerics" && i + 1 < argc) {
      const std::string m = argv[++i];
      const std::optional<Numerics> n = numerics_from_name(m);
      if (!n) {
        std::fprintf(stderr, "golden_diff: --numerics must be fast or reference, not '%s'\n",
                     m.c_str());
        return 2;
      }
      lo.numerics = *n;
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "--threads" && i + 1 < argc) {
      cp.n_threads = std::atoi(argv[++i]);
    }
  }
  std::ifstream in(json_path);
  const nlohmann::json j = nlohmann::json::parse(in);
  const auto model_name = j.at("model").get<std::string>();
  const auto prompt = j.at("prompt_tokens").get<std::vector<int32_t>>();
  const auto positions = j.at("logit_positions").get<std::vector<int32_t>>();
  const int64_t nv = j.at("n_vocab").get<int64_t>();
  std::ifstream lf(json_path.parent_path() / j.at("logits_file").get<std::string>(),
                   std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(lf)), std::istreambuf_iterator<char>());
  std::vector<float> ref(bytes.size() / 4);
  std::memcpy(ref.data(), bytes.data(), ref.size() * 4);
  if (nv <= 0 || ref.size() != positions.size() * static_cast<size_t>(nv)) {
    std::fprintf(stderr, "golden_diff: %zu reference logits, expected %zu positions x %lld\n",
                 ref.size(), positions.size(), static_cast<long long>(nv));
    return 1;
  }

  auto model = runtime::Model::load(
      (json_path.parent_path().parent_path() / "models" / model_name).string(), lo);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().to_string().c_str());
    return 1;
  }
  if ((*model)->hparams().n_vocab != nv) {
    std::fprintf(stderr, "golden_diff: the model has %lld tokens, the golden %lld\n",
                 static_cast<long long>((*model)->hparams().n_vocab), static_cast<long long>(nv));
    return 1;
  }
  auto ctx = runtime::Context::create(**model, cp);
  if (!ctx.ok()) {
    std::fprintf(stderr, "%s\n", ctx.status().to_string().c_str());
    return 1;
  }
  std::vector<std::vector<float>> ours;
  runtime::Batch b;
  if (!tbt) {
    for (size_t i = 0; i < prompt.size(); ++i) {
      bool want = std::find(positions.begin(), positions.end(), (int32_t)i) != positions.end();
      b.add(prompt[i], (int32_t)i, 0, want);
    }
    if (!(*ctx)->decode(b).ok()) return 1;
    for (size_t i = 0; i < positions.size(); ++i)
      ours.emplace_back((*ctx)->logits((int64_t)i), (*ctx)->logits((int64_t)i) + nv);
  } else {
    for (size_t i = 0; i < prompt.size(); ++i) {
      b.clear();
      bool want = std::find(positions.begin(), positions.end(), (int32_t)i) != positions.end();
      b.add(prompt[i], (int32_t)i, 0, want);
      if (!(*ctx)->decode(b).ok()) return 1;
      if (want) ours.emplace_back((*ctx)->logits(0), (*ctx)->logits(0) + nv);
    }
  }
  if (!dump.empty()) {
    std::ofstream df(dump, std::ios::binary);
    for (auto& o : ours) df.write(reinterpret_cast<const char*>(o.data()), o.size() * 4);
  }
  double worst = 0;
  int first_diff = -1, first_big = -1;
  for (size_t i = 0; i < positions.size(); ++i) {
    const float* o = ours[i].data();
    const float* r = ref.data() + i * nv;
    double mean = 0;
    for (int64_t k = 0; k < nv; ++k) mean += r[k];
    mean /= nv;
    double var = 0, err = 0, mx = 0;
    for (int64_t k = 0; k < nv; ++k) {
      var += (r[k] - mean) * (r[k] - mean);
      double d = (double)o[k] - r[k];
      err += d * d;
      mx = std::max(mx, std::fabs(d));
    }
    double e = std::sqrt(err / nv) / std::sqrt(var / nv);
    worst = std::max(worst, e);
    if (mx != 0 && first_diff < 0) first_diff = positions[i];
    if (e > 1e-4 && first_big < 0) first_big = positions[i];
    if (!quiet)
      std::printf("pos %3d  nrmse %.6f  maxabs %.3g%s\n", positions[i], e, mx,
                  mx == 0 ? "  exact" : "");
  }
  std::printf("%s worst %.5f first_diff %d first_big %d (n_prompt %zu)\n", json_path.stem().c_str(),
              worst, first_diff, first_big, prompt.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Bad JSON or missing fields throw from nlohmann::json: report them instead of aborting.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "golden_diff: %s\n", e.what());
    return 1;
  }
}
