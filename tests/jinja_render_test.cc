// Chat template conformance: every template in ../shared/testdata/templates rendered with every
// conversation of chat-renders/<name>.json must equal Python Jinja2's output byte for byte, or
// fail where Jinja2 raised.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "chat/jinja/template.h"
#include "testdata.h"

namespace ember {
namespace {

std::string read_text(const std::filesystem::path& p) {
  const auto bytes = testing::read_file_bytes(p);
  return std::string(bytes.begin(), bytes.end());
}

// "at byte N: expected ...X... got ...Y..." around the first difference.
std::string describe_diff(const std::string& expected, const std::string& got) {
  size_t i = 0;
  while (i < expected.size() && i < got.size() && expected[i] == got[i]) ++i;
  const size_t from = i > 40 ? i - 40 : 0;
  return "first difference at byte " + std::to_string(i) + " (expected " +
         std::to_string(expected.size()) + " bytes, got " + std::to_string(got.size()) +
         ")\n  expected: " + nlohmann::json(expected.substr(from, 80)).dump() +
         "\n  got:      " + nlohmann::json(got.substr(from, 80)).dump();
}

TEST(JinjaRender, EveryTemplateAndConversationMatchesJinja2) {
  EMBER_REQUIRE_TESTDATA(dir);
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir / "chat-renders")) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  int templates = 0, cases = 0, mismatches = 0;
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    const auto spec = nlohmann::ordered_json::parse(read_text(file));
    const std::string name = spec["template"];
    auto tmpl = jinja::Template::parse(read_text(dir / "templates" / name));
    ASSERT_TRUE(tmpl.ok()) << name << ": " << tmpl.status().to_string();
    ++templates;
    jinja::RenderOptions options;
    auto now = jinja::parse_iso8601(spec["now"].get<std::string>());
    ASSERT_TRUE(now.ok()) << now.status().to_string();
    options.now = *now;
    for (const auto& [case_name, c] : spec["cases"].items()) {
      SCOPED_TRACE(case_name);
      ++cases;
      nlohmann::ordered_json ctx = c["input"];
      ctx["bos_token"] = spec["bos_token"];
      ctx["eos_token"] = spec["eos_token"];
      const auto out = tmpl->render(ctx, options);
      if (c.contains("expected")) {
        const std::string expected = c["expected"];
        if (!out.ok()) {
          ++mismatches;
          ADD_FAILURE() << name << " / " << case_name << ": " << out.status().to_string();
        } else if (*out != expected) {
          ++mismatches;
          ADD_FAILURE() << name << " / " << case_name << ": " << describe_diff(expected, *out);
        }
      } else {
        const std::string error = c["error"];
        if (out.ok()) {
          ++mismatches;
          ADD_FAILURE() << name << " / " << case_name << ": rendered, Jinja2 raised: " << error;
        } else {
          // Same message as Jinja2, after ember's "line L, column C: " prefix.
          EXPECT_NE(out.status().message().find(error), std::string::npos)
              << out.status().message() << " vs " << error;
          EXPECT_EQ(out.status().message().rfind("line ", 0), 0u) << out.status().message();
        }
      }
    }
  }
  EXPECT_EQ(templates, 43);
  EXPECT_GT(cases, 400);
  EXPECT_EQ(mismatches, 0) << mismatches << " of " << cases << " cases differ";
}

// Rendering twice from one parsed template gives the same text (no state leaks between
// renders), and a render does not depend on other templates rendered before it.
TEST(JinjaRender, TemplatesAreReusable) {
  EMBER_REQUIRE_TESTDATA(dir);
  const auto spec =
      nlohmann::ordered_json::parse(read_text(dir / "chat-renders" / "Qwen-Qwen3-0.6B.json"));
  auto tmpl = jinja::Template::parse(read_text(dir / "templates" / "Qwen-Qwen3-0.6B.jinja"));
  ASSERT_TRUE(tmpl.ok());
  for (const auto& [case_name, c] : spec["cases"].items()) {
    if (!c.contains("expected")) continue;
    nlohmann::ordered_json ctx = c["input"];
    ctx["bos_token"] = spec["bos_token"];
    ctx["eos_token"] = spec["eos_token"];
    for (int i = 0; i < 2; ++i) {
      auto out = tmpl->render(ctx);
      ASSERT_TRUE(out.ok()) << out.status().to_string();
      EXPECT_EQ(*out, c["expected"].get<std::string>()) << case_name;
    }
  }
}

}  // namespace
}  // namespace ember
