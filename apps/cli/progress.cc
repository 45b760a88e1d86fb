// Progress reporting on stderr (see progress.h).
#include "progress.h"

#include <unistd.h>

#include <cmath>

namespace ember::cli {
namespace {

constexpr int kBarWidth = 24;
constexpr size_t kItemWidth = 32;

std::string format(const char* fmt, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, value);
  return buf;
}

}  // namespace

Progress::Progress(Options options) : options_(std::move(options)), style_(options_.style) {
  if (style_ == Style::kAuto) {
    style_ =
        options_.out != nullptr && isatty(fileno(options_.out)) == 1 ? Style::kBar : Style::kLines;
  }
  if (options_.out == nullptr) style_ = Style::kQuiet;
  start_ = last_output_ = now();
}

Progress::~Progress() {
  finish();
}

Progress::Clock::time_point Progress::now() const {
  return options_.now ? options_.now() : Clock::now();
}

std::string Progress::format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(std::llround(seconds));
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%lld s", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  }
  return buf;
}

std::string Progress::stats_text(double elapsed) const {
  std::string s = std::to_string(done_) + "/" + std::to_string(total_) + " " + options_.unit;
  const double percent =
      total_ > 0 ? 100.0 * static_cast<double>(done_) / static_cast<double>(total_) : 0;
  s += " (" + format("%.0f", std::floor(percent)) + "%)";
  if (done_ > 0 && elapsed > 0) {
    const double rate = static_cast<double>(done_) / elapsed;
    s += ", " + format(rate >= 10 ? "%.0f" : "%.2g", rate) + " " + options_.unit + "/s";
    if (done_ < total_) {
      s += ", ETA " + format_duration(static_cast<double>(total_ - done_) / rate);
    }
  }
  return s;
}

void Progress::draw_bar(double elapsed) {
  const double fraction =
      total_ > 0 ? std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_)) : 0;
  const int filled = static_cast<int>(fraction * kBarWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kBarWidth, '.');
  std::string item = item_.size() > kItemWidth ? item_.substr(0, kItemWidth - 3) + "..." : item_;
  // \r: back to the line's start; \x1b[K: erase what a longer previous line left.
  std::fprintf(options_.out, "\r%s [%s] %s  %s\x1b[K", options_.label.c_str(), bar.c_str(),
               stats_text(elapsed).c_str(), item.c_str());
  std::fflush(options_.out);
  bar_drawn_ = true;
  shown_ = true;
}

void Progress::update(uint64_t done, uint64_t total, std::string_view item) {
  if (style_ == Style::kQuiet || finished_) return;
  started_ = true;
  done_ = done;
  total_ = total;
  item_ = std::string(item);
  const Clock::time_point t = now();
  if (t - start_ < options_.show_after) return;
  const double elapsed = std::chrono::duration<double>(t - start_).count();
  if (style_ == Style::kBar) {
    if (t - last_output_ >= options_.bar_interval || !bar_drawn_ || done == total) {
      last_output_ = t;
      draw_bar(elapsed);
    }
    return;
  }
  // kLines: the end is finish()'s line.
  if (done < total && t - last_output_ >= options_.line_interval) {
    last_output_ = t;
    std::fprintf(options_.out, "%s: %s\n", options_.label.c_str(), stats_text(elapsed).c_str());
    std::fflush(options_.out);
    shown_ = true;
  }
}

void Progress::clear() {
  if (style_ != Style::kBar || !bar_drawn_) return;
  std::fputs("\r\x1b[K", options_.out);
  std::fflush(options_.out);
  bar_drawn_ = false;
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (style_ == Style::kQuiet || !started_) return;
  const Clock::time_point t = now();
  if (!shown_ && t - start_ < options_.show_after) return;
  const double elapsed = std::chrono::duration<double>(t - start_).count();
  if (style_ == Style::kBar) {
    draw_bar(elapsed);
    std::fputc('\n', options_.out);
  } else {
    const double percent =
        total_ > 0 ? 100.0 * static_cast<double>(done_) / static_cast<double>(total_) : 0;
    std::fprintf(
        options_.out, "%s: %llu/%llu %s (%.0f%%) in %s\n", options_.label.c_str(),
        static_cast<unsigned long long>(done_), static_cast<unsigned long long>(total_),
        options_.unit.c_str(), std::floor(percent),
        elapsed < 60 ? format("%.1f s", elapsed).c_str() : format_duration(elapsed).c_str());
  }
  std::fflush(options_.out);
}

}  // namespace ember::cli
