// `ember inspect FILE [--json] [--tensor NAME --dequantize OUT.f32]`
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "commands.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "model/model_check.h"
#include "tensor/quantize.h"

namespace ember::cli {
namespace {

using nlohmann::ordered_json;

struct InspectArgs {
  std::string path;
  bool json = false;
  std::string tensor;
  std::string dequantize_out;
  bool no_mmap = false;
};

// Arrays longer than this are summarized (type and length) instead of listed.
constexpr size_t kMaxListedArray = 16;

ordered_json value_to_json(const GgufValue& v) {
  if (v.is_array()) {
    if (v.array_size() > kMaxListedArray) {
      ordered_json j;
      j["array"] = gguf_type_name(v.array_type());
      j["length"] = v.array_size();
      return j;
    }
    ordered_json arr = ordered_json::array();
    if (auto s = v.as_string_array(); s.ok()) {
      for (const auto& x : *s) arr.push_back(x);
    } else if (auto i = v.as_int_array(); i.ok()) {
      for (int64_t x : *i) {
        if (v.array_type() == GgufType::kBool) arr.push_back(x != 0);
        else if (v.array_type() == GgufType::kU64) arr.push_back(static_cast<uint64_t>(x));
        else arr.push_back(x);
      }
    } else if (auto f = v.as_float_array(); f.ok()) {
      for (double x : *f) arr.push_back(x);
    } else if (auto a = v.as_array_array(); a.ok()) {
      for (const auto& x : *a) arr.push_back(value_to_json(x));
    }
    return arr;
  }
  if (auto s = v.as_string(); s.ok()) return std::string(*s);
  if (auto b = v.as_bool(); b.ok()) return *b;
  if (auto f = v.as_float(); f.ok()) return *f;
  if (v.type() == GgufType::kU64) return v.as_uint().value_or(0);
  if (auto i = v.as_int(); i.ok()) return *i;
  return nullptr;
}

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", b / double(1ull << 30));
  else if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", b / double(1ull << 20));
  else if (b >= (1ull << 10)) std::snprintf(buf, sizeof buf, "%.2f KiB", b / double(1ull << 10));
  else std::snprintf(buf, sizeof buf, "%" PRIu64 " B", b);
  return buf;
}

// Everything `inspect` reports, as JSON; the text output renders the same object.
ordered_json describe(const GgufFile& f, const std::string& path) {
  ordered_json j;
  j["file"] = path;
  j["gguf_version"] = f.version();
  j["alignment"] = f.alignment();
  j["n_files"] = f.n_files();
  j["file_size"] = f.file_size();
  const std::string arch = f.get_string("general.architecture").value_or("");
  j["architecture"] = arch;
  j["name"] = f.get_string("general.name").value_or("");
  if (auto ft = f.get_uint("general.file_type"); ft.ok()) j["file_type"] = *ft;

  // Every <arch>.* key, prefix removed.
  ordered_json hp = ordered_json::object();
  const std::string prefix = arch + ".";
  for (const auto& [k, v] : f.metadata()) {
    if (!arch.empty() && k.rfind(prefix, 0) == 0) hp[k.substr(prefix.size())] = value_to_json(v);
  }
  j["hparams"] = hp;
  if (auto parsed = read_hparams(f); parsed.ok()) {
    ordered_json d;
    d["n_vocab"] = parsed->n_vocab;
    d["head_dim_k"] = parsed->head_dim_k;
    d["head_dim_v"] = parsed->head_dim_v;
    d["n_rot"] = parsed->n_rot;
    d["n_gqa"] = parsed->n_head / parsed->n_head_kv;
    // Per-layer shapes when they differ between layers (Gemma 4: sliding layers' head size,
    // KV heads and FFN width, layers that read another layer's cache).
    const bool recurrent = parsed->has_recurrent();
    if (recurrent) {
      // Hybrid models: which layers keep recurrent state instead of a KV cache, and its size.
      ordered_json kinds = ordered_json::array();
      int64_t floats = 0;
      for (int64_t il = 0; il < parsed->n_layer; ++il) {
        const bool r = parsed->is_recurrent(il);
        kinds.push_back(r ? "recurrent" : "attention");
        const auto i = static_cast<size_t>(il);
        if (i < parsed->recurrent_conv.size()) floats += parsed->recurrent_conv[i];
        if (i < parsed->recurrent_ssm.size()) floats += parsed->recurrent_ssm[i];
      }
      if (parsed->conv_kernel > 0) d["conv_kernel"] = parsed->conv_kernel;
      d["layer_kinds"] = kinds;
      d["recurrent_state_bytes_per_sequence"] = floats * 4;
    }
    const bool per_layer = !parsed->n_head_kv_arr.empty() || !parsed->n_ff_arr.empty() ||
                           !parsed->swa_layers.empty() || parsed->shared_kv_layers > 0 || recurrent;
    if (per_layer) {
      ordered_json layers = ordered_json::array();
      for (int64_t il = 0; il < parsed->n_layer; ++il) {
        const ModelHParams::LayerShape ls = parsed->layer_shape(il);
        ordered_json l;
        if (recurrent) {
          const auto i = static_cast<size_t>(il);
          const bool r = parsed->is_recurrent(il);
          l["kind"] = r ? "recurrent" : "attention";
          if (r) {
            l["state_conv"] = i < parsed->recurrent_conv.size() ? parsed->recurrent_conv[i] : 0;
            l["state_ssm"] = i < parsed->recurrent_ssm.size() ? parsed->recurrent_ssm[i] : 0;
            l["n_ff"] = ls.n_ff;
            layers.push_back(l);
            continue;
          }
        }
        l["sliding"] = ls.sliding;
        l["n_head_kv"] = ls.n_head_kv;
        l["head_dim"] = ls.head_dim_k;
        l["n_rot"] = ls.n_rot;
        l["n_ff"] = ls.n_ff;
        if (ls.kv_layer != il) l["kv_from_layer"] = ls.kv_layer;
        layers.push_back(l);
      }
      d["layers"] = layers;
    }
    if (parsed->n_embd_per_layer > 0) d["n_embd_per_layer"] = parsed->n_embd_per_layer;
    if (parsed->is_mla()) {
      // Multi-head latent attention: the decompressed head sizes beside the cached ones above.
      d["mla_q_lora_rank"] = parsed->n_lora_q;
      d["mla_kv_lora_rank"] = parsed->n_lora_kv;
      d["mla_head_dim_k"] = parsed->head_dim_k_mla;
      d["mla_head_dim_v"] = parsed->head_dim_v_mla;
    }
    if (parsed->n_layer_dense_lead > 0) d["n_layer_dense_lead"] = parsed->n_layer_dense_lead;
    if (parsed->n_expert_shared > 0) d["n_expert_shared"] = parsed->n_expert_shared;
    if (parsed->n_expert_groups > 1) {
      d["n_expert_groups"] = parsed->n_expert_groups;
      d["n_expert_groups_used"] = parsed->n_group_used;
    }
    if (parsed->full_attn_interval > 0) {
      // Hybrid (qwen35): which layers are gated delta-net, and the delta-net heads.
      std::string kinds;
      for (int64_t il = 0; il < parsed->n_layer; ++il) {
        kinds += parsed->is_delta_net(il) ? 'D' : 'A';
      }
      d["layer_kinds (D delta-net, A attention)"] = kinds;
      d["delta_net_qk_heads"] = parsed->ssm_n_group;
      d["delta_net_v_heads"] = parsed->ssm_dt_rank;
      d["delta_net_head_dim_k"] = parsed->ssm_d_state;
      d["delta_net_head_dim_v"] = parsed->ssm_head_v_dim();
      d["delta_net_conv_channels"] = parsed->ssm_conv_channels();
      d["recurrent_state_floats_per_layer"] =
          parsed->ssm_conv_state_size() + parsed->ssm_state_size();
    }
    if (parsed->n_ff_shexp > 0) d["n_ff_shared_expert"] = parsed->n_ff_shexp;
    j["derived"] = d;
  } else {
    j["hparams_note"] = parsed.status().message();
  }

  ordered_json tok;
  tok["model"] = f.get_string("tokenizer.ggml.model").value_or("");
  tok["pre"] = f.get_string("tokenizer.ggml.pre").value_or("");
  const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
  tok["n_tokens"] = tokens ? tokens->array_size() : 0;
  const GgufValue* merges = f.find("tokenizer.ggml.merges");
  tok["n_merges"] = merges ? merges->array_size() : 0;
  for (const char* id : {"bos", "eos", "eot", "eom", "unknown", "padding", "seperator", "cls", "mask"}) {
    const std::string k = std::string("tokenizer.ggml.") + id + "_token_id";
    if (auto v = f.get_uint(k); v.ok()) tok[std::string(id) + "_token_id"] = *v;
  }
  for (const char* flag : {"add_bos_token", "add_eos_token", "add_space_prefix"}) {
    if (auto v = f.get_bool(std::string("tokenizer.ggml.") + flag); v.ok()) tok[flag] = *v;
  }
  j["tokenizer"] = tok;
  const GgufValue* tmpl = f.find("tokenizer.chat_template");
  j["chat_template"] = tmpl != nullptr;
  if (tmpl) j["chat_template_bytes"] = tmpl->as_string().value_or("").size();

  ordered_json meta = ordered_json::object();
  for (const auto& [k, v] : f.metadata()) {
    if (!arch.empty() && k.rfind(prefix, 0) == 0) continue;
    if (k == "tokenizer.chat_template") continue;
    meta[k] = value_to_json(v);
  }
  j["metadata"] = meta;

  ordered_json tensors = ordered_json::array();
  uint64_t n_params = 0, n_bytes = 0;
  std::map<std::string, std::array<uint64_t, 3>> by_type;  // tensors, params, bytes
  for (const GgufTensorInfo& t : f.tensors()) {
    ordered_json tj;
    tj["name"] = t.name;
    tj["type"] = tensor_type_name(t.type);
    tj["shape"] = t.shape;
    tj["n_elements"] = t.n_elements;
    tj["bytes"] = t.n_bytes;
    tj["offset"] = t.offset;
    if (const TensorTypeTraits* tt = tensor_type_traits(t.type); tt == nullptr || !tt->supported) {
      tj["supported"] = false;
    }
    if (f.n_files() > 1) tj["file_index"] = t.file_index;
    tensors.push_back(tj);
    n_params += static_cast<uint64_t>(t.n_elements);
    n_bytes += t.n_bytes;
    auto& bt = by_type[tensor_type_name(t.type)];
    bt[0] += 1;
    bt[1] += static_cast<uint64_t>(t.n_elements);
    bt[2] += t.n_bytes;
  }
  j["tensors"] = tensors;
  // Whether ember can load this file as a model (architecture, tensor types, tensor shapes).
  const Status loadable = check_model_file(f);
  j["loadable"] = loadable.ok();
  if (!loadable.ok()) j["load_error"] = loadable.message();
  ordered_json totals;
  totals["n_tensors"] = f.tensors().size();
  totals["n_params"] = n_params;
  totals["bytes"] = n_bytes;
  totals["bits_per_weight"] = n_params ? 8.0 * static_cast<double>(n_bytes) / static_cast<double>(n_params) : 0.0;
  ordered_json bt = ordered_json::object();
  for (const auto& [name, v] : by_type) {
    bt[name] = {{"n_tensors", v[0]}, {"n_params", v[1]}, {"bytes", v[2]}};
  }
  totals["by_type"] = bt;
  j["totals"] = totals;
  return j;
}

std::string dump(const ordered_json& j, int indent = -1) {
  return j.dump(indent, ' ', false, ordered_json::error_handler_t::replace);
}

void print_text(const ordered_json& j) {
  std::printf("file:          %s (%s, GGUF v%d, alignment %d%s)\n", j["file"].get<std::string>().c_str(),
              human_bytes(j["file_size"].get<uint64_t>()).c_str(), j["gguf_version"].get<int>(),
              j["alignment"].get<int>(),
              j["n_files"].get<int>() > 1 ? (", " + std::to_string(j["n_files"].get<int>()) + " files").c_str() : "");
  std::printf("architecture:  %s\n", j["architecture"].get<std::string>().c_str());
  std::printf("name:          %s\n", j["name"].get<std::string>().c_str());
  std::printf("hyper-parameters:\n");
  for (const auto& [k, v] : j["hparams"].items()) std::printf("  %-40s %s\n", k.c_str(), dump(v).c_str());
  if (j.contains("derived")) {
    for (const auto& [k, v] : j["derived"].items()) std::printf("  %-40s %s\n", k.c_str(), dump(v).c_str());
  } else if (j.contains("hparams_note")) {
    std::printf("  (not loadable by ember: %s)\n", j["hparams_note"].get<std::string>().c_str());
  }
  std::printf("loadable:      %s\n",
              j["loadable"].get<bool>() ? "yes" : ("no: " + j["load_error"].get<std::string>()).c_str());
  std::printf("tokenizer:\n");
  for (const auto& [k, v] : j["tokenizer"].items()) std::printf("  %-40s %s\n", k.c_str(), dump(v).c_str());
  std::printf("chat template: %s\n",
              j["chat_template"].get<bool>()
                  ? ("yes (" + std::to_string(j["chat_template_bytes"].get<size_t>()) + " bytes)").c_str()
                  : "no");
  std::printf("metadata:\n");
  for (const auto& [k, v] : j["metadata"].items()) {
    if (k.rfind("tokenizer.", 0) == 0) continue;  // summarized above
    std::printf("  %-40s %s\n", k.c_str(), dump(v).c_str());
  }
  std::printf("tensors (%zu):\n", j["tensors"].size());
  std::printf("  %-36s %-8s %-24s %12s %12s\n", "name", "type", "shape", "bytes", "offset");
  for (const auto& t : j["tensors"]) {
    std::printf("  %-36s %-8s %-24s %12" PRIu64 " %12" PRIu64 "\n", t["name"].get<std::string>().c_str(),
                t["type"].get<std::string>().c_str(), shape_to_string(t["shape"].get<std::vector<int64_t>>()).c_str(),
                t["bytes"].get<uint64_t>(), t["offset"].get<uint64_t>());
  }
  const auto& tot = j["totals"];
  std::printf("totals: %" PRIu64 " parameters, %s, %.2f bits per weight\n", tot["n_params"].get<uint64_t>(),
              human_bytes(tot["bytes"].get<uint64_t>()).c_str(), tot["bits_per_weight"].get<double>());
  for (const auto& [name, v] : tot["by_type"].items()) {
    std::printf("  %-8s %4" PRIu64 " tensors %14" PRIu64 " parameters %12s\n", name.c_str(),
                v["n_tensors"].get<uint64_t>(), v["n_params"].get<uint64_t>(),
                human_bytes(v["bytes"].get<uint64_t>()).c_str());
  }
}

Status dequantize_tensor(const GgufFile& f, const std::string& name, const std::string& out_path) {
  const GgufTensorInfo* t = f.find_tensor(name);
  if (t == nullptr) return not_found("no tensor named '" + name + "'");
  EMBER_RETURN_IF_ERROR(check_tensor_type_supported(t->type).with_context("tensor '" + name + "'"));
  EMBER_ASSIGN_OR_RETURN(const size_t row_bytes, tensor_row_size(t->type, t->shape[0]));
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) return io_error("cannot open '" + out_path + "' for writing");
  std::vector<float> row(static_cast<size_t>(t->shape[0]));
  for (int64_t r = 0; r < t->n_rows(); ++r) {
    EMBER_RETURN_IF_ERROR(dequantize_row(t->type, t->data + static_cast<size_t>(r) * row_bytes, row.data(), t->shape[0]));
    // Little-endian float32 on the little-endian hosts ember supports.
    out.write(reinterpret_cast<const char*>(row.data()), static_cast<std::streamsize>(row.size() * sizeof(float)));
  }
  out.close();
  if (!out) return io_error("failed writing '" + out_path + "'");
  return Status::Ok();
}

int run_inspect(const InspectArgs& args) {
  GgufReadOptions opts;
  opts.use_mmap = !args.no_mmap;
  auto file = GgufFile::open(args.path, opts);
  if (!file.ok()) return report_error(file.status());
  if (!args.dequantize_out.empty() || !args.tensor.empty()) {
    if (args.tensor.empty() || args.dequantize_out.empty()) {
      return report_error("--tensor and --dequantize must be given together");
    }
    Status s = dequantize_tensor(*file, args.tensor, args.dequantize_out);
    if (!s.ok()) return report_error(s);
    const GgufTensorInfo* t = file->find_tensor(args.tensor);
    std::fprintf(stderr, "wrote %s: %" PRId64 " float32 values, shape %s\n", args.dequantize_out.c_str(),
                 t->n_elements, shape_to_string(t->shape).c_str());
    return 0;
  }
  const ordered_json j = describe(*file, args.path);
  if (args.json) {
    std::printf("%s\n", dump(j, 2).c_str());
  } else {
    print_text(j);
  }
  return 0;
}

}  // namespace

void register_inspect(CLI::App& app, CommandResult& result) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show a GGUF file's metadata, hyper-parameters and tensors");
  cmd->add_option("file", args->path, "GGUF file (first part of a split model)")->required();
  cmd->add_flag("--json", args->json, "Print everything as one JSON object");
  cmd->add_option("--tensor", args->tensor, "Tensor to extract (with --dequantize)");
  cmd->add_option("--dequantize", args->dequantize_out,
                  "Write the --tensor as little-endian float32, row-major, to this file");
  cmd->add_flag("--no-mmap", args->no_mmap, "Read the file into memory instead of mapping it");
  cmd->callback([args, &result] { result.exit_code = run_inspect(*args); });
}

}  // namespace ember::cli
