// The CLI's progress reporter (apps/cli/progress.h): the plain lines written when stderr is not a
// terminal, the redrawn bar, and silence with --quiet, on a fake clock.
#include "progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "cli_runner.h"

namespace ember::cli {
namespace {

using namespace std::chrono_literals;

// Captures what a Progress writes, with a clock the test moves.
struct Capture {
  char* data = nullptr;
  size_t size = 0;
  std::FILE* file = open_memstream(&data, &size);
  Progress::Clock::time_point t{};

  Progress::Options options(Progress::Style style) {
    Progress::Options o;
    o.label = "quantize";
    o.unit = "tensors";
    o.style = style;
    o.out = file;
    o.now = [this] { return t; };
    return o;
  }
  std::string text() {
    std::fflush(file);
    return std::string(data, size);
  }
  ~Capture() {
    std::fclose(file);
    std::free(data);
  }
};

TEST(CliProgress, PlainLinesEveryIntervalAndAtTheEnd) {
  Capture c;
  {
    Progress p(c.options(Progress::Style::kLines));
    c.t += 1s;
    p.update(10, 200, "blk.0.attn_q.weight");  // before the 5 s interval: nothing
    EXPECT_EQ(c.text(), "");
    c.t += 4s;
    p.update(50, 200, "blk.1.attn_q.weight");  // 5 s: 50 tensors → 10/s, 150 left → 15 s
    EXPECT_EQ(c.text(), "quantize: 50/200 tensors (25%), 10 tensors/s, ETA 15 s\n");
    c.t += 1s;
    p.update(60, 200, "x");  // within the next interval: nothing more
    c.t += 75s;
    p.update(199, 200, "y");  // 81 s: 199 done, 2.46/s, 1 left
    c.t += 1s;
    p.update(200, 200, "z");  // the end: no periodic line, finish() reports it
  }
  EXPECT_EQ(c.text(),
            "quantize: 50/200 tensors (25%), 10 tensors/s, ETA 15 s\n"
            "quantize: 199/200 tensors (99%), 2.5 tensors/s, ETA 0 s\n"
            "quantize: 200/200 tensors (100%) in 1:22\n");
}

TEST(CliProgress, ShortRunPrintsOnlyTheFinalLine) {
  Capture c;
  Progress p(c.options(Progress::Style::kLines));
  c.t += 1500ms;
  p.update(3, 3, "last");
  p.finish();
  p.finish();  // only once
  EXPECT_EQ(c.text(), "quantize: 3/3 tensors (100%) in 1.5 s\n");
}

TEST(CliProgress, QuietWritesNothing) {
  Capture c;
  {
    Progress p(c.options(Progress::Style::kQuiet));
    for (int i = 1; i <= 100; ++i) {
      c.t += 1s;
      p.update(static_cast<uint64_t>(i), 100, "t");
    }
  }
  EXPECT_EQ(c.text(), "");
}

TEST(CliProgress, NothingWhenNoWorkWasReported) {
  Capture c;
  { Progress p(c.options(Progress::Style::kLines)); }
  EXPECT_EQ(c.text(), "");
}

TEST(CliProgress, BarIsRedrawnInPlaceWithRateAndEta) {
  Capture c;
  {
    Progress p(c.options(Progress::Style::kBar));
    c.t += 2s;
    p.update(1, 4, "blk.0.ffn_up.weight");  // first update: drawn at once
    c.t += 10ms;
    p.update(2, 4, "skipped");  // within 100 ms of the last draw: not drawn
    c.t += 2s;
    p.update(3, 4, "blk.2.ffn_up.weight");
    p.clear();
    c.t += 2s;
    p.update(4, 4, "done");
  }
  const std::string out = c.text();
  EXPECT_EQ(
      out,
      "\rquantize [######..................] 1/4 tensors (25%), 0.5 tensors/s, ETA 6 s  "
      "blk.0.ffn_up.weight\x1b[K"
      "\rquantize [##################......] 3/4 tensors (75%), 0.75 tensors/s, ETA 1 s  "
      "blk.2.ffn_up.weight\x1b[K"
      "\r\x1b[K"
      "\rquantize [########################] 4/4 tensors (100%), 0.67 tensors/s  done\x1b[K"
      "\rquantize [########################] 4/4 tensors (100%), 0.67 tensors/s  done\x1b[K\n");
  EXPECT_EQ(out.find("skipped"), std::string::npos);
}

TEST(CliProgress, ShowAfterKeepsQuickWorkSilent) {
  {
    Capture c;
    Progress::Options o = c.options(Progress::Style::kLines);
    o.show_after = 1s;
    {
      Progress p(o);
      c.t += 900ms;
      p.update(10, 10, "");  // done in 0.9 s: nothing at all
    }
    EXPECT_EQ(c.text(), "");
  }
  Capture c;
  Progress::Options o = c.options(Progress::Style::kLines);
  o.show_after = 1s;
  o.label = "load";
  o.unit = "matrices";
  {
    Progress p(o);
    c.t += 500ms;
    p.update(1, 10, "");
    c.t += 6s;
    p.update(5, 10, "");  // 6.5 s: past show_after and the line interval
    c.t += 1s;
    p.update(10, 10, "");
  }
  EXPECT_EQ(c.text(),
            "load: 5/10 matrices (50%), 0.77 matrices/s, ETA 7 s\n"
            "load: 10/10 matrices (100%) in 7.5 s\n");
}

TEST(CliProgress, Durations) {
  EXPECT_EQ(Progress::format_duration(0), "0 s");
  EXPECT_EQ(Progress::format_duration(59.4), "59 s");
  EXPECT_EQ(Progress::format_duration(185), "3:05");
  EXPECT_EQ(Progress::format_duration(3723), "1:02:03");
  EXPECT_EQ(Progress::format_duration(-1), "?");
}

// The commands, run with stderr in a file (not a terminal): one final plain line naming every
// tensor / run, and none with --quiet (the result summary stays).
TEST(CliProgress, CommandsReportPlainProgressAndQuietSilencesIt) {
  using testing::run_cli;
  using testing::shell_quote;
  const auto dir = testing::temp_dir();
  const std::string model = (dir / "progress-synth.gguf").string();
  const std::string quant = (dir / "progress-q8.gguf").string();

  auto r = run_cli("synth --arch llama --type f16 -o " + shell_quote(model));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto info = run_cli("inspect --json " + shell_quote(model));
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const size_t n_tensors = nlohmann::json::parse(info.out)["tensors"].size();
  ASSERT_GT(n_tensors, 0u);
  const std::string all = std::to_string(n_tensors) + "/" + std::to_string(n_tensors);
  const std::regex final_line("(^|\n)synth: " + all + " tensors \\(100%\\) in [0-9.]+ s\\n");
  EXPECT_TRUE(std::regex_search(r.err, final_line)) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << "no bar when stderr is not a terminal";

  r = run_cli("quantize " + shell_quote(model) + " " + shell_quote(quant) + " Q8_0 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("quantize: " + all + " tensors (100%) in "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("quantized "), std::string::npos) << r.err;

  r = run_cli("quantize " + shell_quote(model) + " " + shell_quote(quant) + " Q8_0 -t 1 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("quantize:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("quantized "), std::string::npos) << r.err;

  r = run_cli("synth --arch llama --type f16 -q -o " + shell_quote(model));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("synth:"), std::string::npos) << r.err;

  // bench: 2 tests x (1 warm-up + 2 runs) = 6 runs.
  r = run_cli("bench -m " + shell_quote(quant) + " -p 8 -n 4 -r 2 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("bench: 6/6 runs (100%) in "), std::string::npos) << r.err;
  r = run_cli("bench -m " + shell_quote(quant) + " -p 8 -n 4 -r 2 -t 1 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("bench:"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ember::cli
