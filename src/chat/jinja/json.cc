// nlohmann::json -> Value, and Value -> JSON text with Python json.dumps() output.
#include "chat/jinja/json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chat/jinja/ops.h"
#include "chat/jinja/unicode.h"

namespace ember::jinja {

namespace {

template <typename J>
Value convert(const J& j, int depth) {
  if (depth > 512) return Value::none();  // nlohmann's parser already bounds depth in practice
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value::none();
    case nlohmann::json::value_t::boolean:
      return Value::boolean(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value::integer(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const auto u = j.template get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value::integer(static_cast<int64_t>(u));
      return Value::number(static_cast<double>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value::number(j.template get<double>());
    case nlohmann::json::value_t::string:
      return Value::string(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(convert(e, depth + 1));
      return Value::new_list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Value d = Value::new_dict();
      for (auto it = j.begin(); it != j.end(); ++it) {
        d.dict().entries().emplace_back(Value::string(it.key()), convert(it.value(), depth + 1));
      }
      return d;
    }
    default:
      return Value::none();
  }
}

void append_hex4(std::string& out, unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\u%04x", v);
  out += buf;
}

void encode_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      switch (b) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (b < 0x20) {
            append_hex4(out, b);
          } else {
            out += static_cast<char>(b);
          }
      }
      continue;
    }
    const size_t start = i;
    const char32_t cp = next_code_point(s, i);
    if (!ensure_ascii) {
      out.append(s, start, i - start);
    } else if (cp >= 0x10000) {
      const char32_t v = cp - 0x10000;
      append_hex4(out, 0xD800 + static_cast<unsigned>(v >> 10));
      append_hex4(out, 0xDC00 + static_cast<unsigned>(v & 0x3FF));
    } else {
      append_hex4(out, static_cast<unsigned>(cp));
    }
  }
  out += '"';
}

std::string float_json(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return float_repr(d);
}

class Dumper {
 public:
  explicit Dumper(const JsonDumpOptions& o) : o_(o) {
    item_sep_ = o.item_separator ? *o.item_separator : (o.indent ? "," : ", ");
    key_sep_ = o.key_separator ? *o.key_separator : ": ";
  }

  Status dump(const Value& v, int level) {
    if (level > 500) return invalid_argument("Circular reference detected");
    if (out_.size() > kMaxBuiltSize) return resource_exhausted("tojson output too large");
    switch (v.kind()) {
      case Value::Kind::kNone:
        out_ += "null";
        return Status::Ok();
      case Value::Kind::kBool:
        out_ += v.as_bool() ? "true" : "false";
        return Status::Ok();
      case Value::Kind::kInt:
        out_ += std::to_string(v.as_int());
        return Status::Ok();
      case Value::Kind::kFloat:
        out_ += float_json(v.as_double());
        return Status::Ok();
      case Value::Kind::kString:
        encode_string(out_, v.str(), o_.ensure_ascii);
        return Status::Ok();
      case Value::Kind::kList: {
        const auto& items = v.list().items;
        if (items.empty()) {
          out_ += "[]";
          return Status::Ok();
        }
        out_ += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out_ += item_sep_;
          newline(level + 1);
          EMBER_RETURN_IF_ERROR(dump(items[i], level + 1));
        }
        newline(level);
        out_ += ']';
        return Status::Ok();
      }
      case Value::Kind::kDict: {
        std::vector<const std::pair<Value, Value>*> entries;
        for (const auto& e : v.dict().entries()) entries.push_back(&e);
        if (entries.empty()) {
          out_ += "{}";
          return Status::Ok();
        }
        if (o_.sort_keys) {
          Status err;
          std::stable_sort(entries.begin(), entries.end(), [&](const auto* a, const auto* b) {
            if (!err.ok()) return false;
            auto r = py_compare(a->first, CompareOp::kLt, b->first);
            if (!r.ok()) {
              err = r.status();
              return false;
            }
            return *r;
          });
          EMBER_RETURN_IF_ERROR(err);
        }
        out_ += '{';
        bool first = true;
        for (const auto* e : entries) {
          const Value& k = e->first;
          std::string key;
          switch (k.kind()) {
            case Value::Kind::kString:
              key = k.str();
              break;
            case Value::Kind::kNone:
              key = "null";
              break;
            case Value::Kind::kBool:
              key = k.as_bool() ? "true" : "false";
              break;
            case Value::Kind::kInt:
              key = std::to_string(k.as_int());
              break;
            case Value::Kind::kFloat:
              key = float_json(k.as_double());
              break;
            default:
              return invalid_argument("keys must be str, int, float, bool or None, not " +
                                      type_name(k));
          }
          if (!first) out_ += item_sep_;
          first = false;
          newline(level + 1);
          encode_string(out_, key, o_.ensure_ascii);
          out_ += key_sep_;
          EMBER_RETURN_IF_ERROR(dump(e->second, level + 1));
        }
        newline(level);
        out_ += '}';
        return Status::Ok();
      }
      default:
        return invalid_argument("Object of type " + type_name(v) + " is not JSON serializable");
    }
  }

  std::string take() { return std::move(out_); }

 private:
  void newline(int level) {
    if (!o_.indent) return;
    out_ += '\n';
    for (int i = 0; i < level; ++i) out_ += *o_.indent;
  }

  const JsonDumpOptions& o_;
  std::string item_sep_, key_sep_;
  std::string out_;
};

}  // namespace

Value from_json(const nlohmann::ordered_json& j) {
  return convert(j, 0);
}
Value from_json(const nlohmann::json& j) {
  return convert(j, 0);
}

Result<std::string> to_json(const Value& v, const JsonDumpOptions& options) {
  Dumper d(options);
  EMBER_RETURN_IF_ERROR(d.dump(v, 0));
  return d.take();
}

}  // namespace ember::jinja
