#include "chat/parsers/tools.h"

namespace ember::chat::detail {

Result<std::vector<ToolInfo>> read_tools(const Json& tools) {
  if (!tools.is_array()) return invalid_argument("tools must be a JSON array");
  std::vector<ToolInfo> out;
  for (size_t i = 0; i < tools.size(); ++i) {
    const Json& t = tools[i];
    const std::string where = "tools[" + std::to_string(i) + "]";
    if (!t.is_object()) return invalid_argument(where + " is not an object");
    if (auto type = t.find("type"); type != t.end() && *type != "function") {
      return invalid_argument(where + ": only tools of type \"function\" are supported");
    }
    auto fn = t.find("function");
    const Json& f = fn != t.end() ? *fn : t;
    if (!f.is_object()) return invalid_argument(where + ".function is not an object");
    auto name = f.find("name");
    if (name == f.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
      return invalid_argument(where + " has no function name");
    }
    ToolInfo info;
    info.name = name->get<std::string>();
    auto params = f.find("parameters");
    if (params == f.end() || params->is_null()) {
      info.parameters = Json{{"type", "object"}, {"properties", Json::object()}};
    } else if (!params->is_object()) {
      return invalid_argument(where + ": parameters must be a JSON schema object");
    } else {
      info.parameters = *params;
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace ember::chat::detail
