// Progress of long command-line work (quantize, synth, bench) on stderr:
//  - on a terminal, one line redrawn in place: a bar, done / total, rate and ETA, the item;
//  - otherwise (a log file, a pipe) a plain line at most every few seconds and one at the end:
//      quantize: 45/200 tensors (22%), 3.1 tensors/s, ETA 50 s
//      quantize: 200/200 tensors (100%) in 64.3 s
//  - nothing with --quiet;
//  - optionally nothing at all for work that ends quickly (Options::show_after).
// The library never prints: it reports through callbacks (e.g. QuantizeModelOptions::progress)
// that the commands forward to update().
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace ember::cli {

class Progress {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Style {
    kAuto,   // kBar when `out` is a terminal, else kLines
    kBar,    // redrawn line
    kLines,  // periodic plain lines
    kQuiet,  // nothing
  };
  struct Options {
    std::string label;           // "quantize"
    std::string unit = "items";  // "tensors", "runs"
    Style style = Style::kAuto;
    std::chrono::milliseconds line_interval{
        std::chrono::seconds(5)};                 // kLines: at most one line per interval
    std::chrono::milliseconds bar_interval{100};  // kBar: redraw at most this often
    // Nothing is shown before this much time has passed (work that ends sooner stays silent:
    // e.g. loading a small model).
    std::chrono::milliseconds show_after{0};
    std::FILE* out = stderr;
    std::function<Clock::time_point()>
        now;  // the clock (tests pass a fake one); default steady_clock
  };

  explicit Progress(Options options);
  // Calls finish().
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `done` of `total` units are complete; `item` names the one just done (may be empty).
  void update(uint64_t done, uint64_t total, std::string_view item = {});
  // Erases the bar (before printing other output to the same terminal); the next update redraws.
  void clear();
  // The last state: kBar draws it and ends the line, kLines prints the final line. Only once,
  // and only when update() was called (and, with show_after, the work lasted that long).
  void finish();

  Style style() const { return style_; }

  // "42 s", "3:05", "1:02:03".
  static std::string format_duration(double seconds);

 private:
  Clock::time_point now() const;
  std::string stats_text(double elapsed) const;  // "45/200 tensors (22%), 3.1 tensors/s, ETA 50 s"
  void draw_bar(double elapsed);

  Options options_;
  Style style_;
  Clock::time_point start_;
  Clock::time_point last_output_;
  uint64_t done_ = 0;
  uint64_t total_ = 0;
  std::string item_;
  bool started_ = false;
  bool finished_ = false;
  bool bar_drawn_ = false;
  bool shown_ = false;  // anything was written
};

}  // namespace ember::cli
