// UTF-8 assembly and stop-string holding for streamed output. Byte sequences and their validity
// follow the Unicode standard's well-formed UTF-8 table (Table 3-7) and its U+FFFD policy.
#include <gtest/gtest.h>

#include "text/stop_strings.h"
#include "text/utf8_stream.h"

namespace ember::text {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8Stream, HoldsBackASplitCharacter) {
  Utf8Stream s;
  // U+1F680 ROCKET = F0 9F 9A 80, delivered one byte at a time.
  EXPECT_EQ(s.push("a\xF0"), "a");
  EXPECT_EQ(s.push("\x9F"), "");
  EXPECT_EQ(s.push("\x9A"), "");
  EXPECT_EQ(s.pending().size(), 3u);
  EXPECT_EQ(s.push("\x80!"), "\xF0\x9F\x9A\x80!");
  EXPECT_EQ(s.finish(), "");
}

TEST(Utf8Stream, InvalidBytesBecomeReplacementCharacters) {
  Utf8Stream s;
  EXPECT_EQ(s.push("\xFF"), kFffd);
  EXPECT_EQ(s.push("\xC0\xAF"), kFffd + kFffd);  // C0 is never valid; AF is a lone continuation
  EXPECT_EQ(s.push("\xE0\x80"), kFffd + kFffd);  // E0 needs A0..BF next: both bytes invalid
  EXPECT_EQ(s.push("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // surrogate D800
  EXPECT_EQ(s.push("\xF4\x90"), kFffd + kFffd);              // beyond U+10FFFF
  EXPECT_EQ(s.push("\xE2\x82x"), kFffd + "x");  // truncated 3-byte sequence: one subpart
}

TEST(Utf8Stream, FinishReplacesAnUnfinishedCharacter) {
  Utf8Stream s;
  EXPECT_EQ(s.push("ok\xE2\x82"), "ok");
  EXPECT_EQ(s.finish(), kFffd);
  EXPECT_EQ(s.pending(), "");
}

TEST(Utf8Stream, SanitizeAndCompletePrefix) {
  EXPECT_EQ(utf8_sanitize("h\xC3\xA9llo"), "h\xC3\xA9llo");
  EXPECT_EQ(utf8_complete_prefix("h\xC3"), 1u);
  EXPECT_EQ(utf8_complete_prefix("h\xFF"), 2u);  // invalid counts as complete
  EXPECT_EQ(utf8_complete_prefix(""), 0u);
}

TEST(StopStrings, StopSpanningSeveralPushes) {
  StopStringMatcher m({"</answer>"});
  auto a = m.push("The result is 4</an");
  EXPECT_EQ(a.text, "The result is 4");
  EXPECT_FALSE(a.stopped);
  auto b = m.push("swer> and more");
  EXPECT_EQ(b.text, "");
  ASSERT_TRUE(b.stopped);
  EXPECT_EQ(*b.stopped, 0u);
  EXPECT_TRUE(m.push("ignored").text.empty());
  EXPECT_EQ(m.finish(), "");
}

TEST(StopStrings, FalseStartIsReleased) {
  StopStringMatcher m({"STOP"});
  EXPECT_EQ(m.push("abc ST").text, "abc ");
  EXPECT_EQ(m.push("OR").text, "STOR");
  EXPECT_EQ(m.push("S").text, "");
  EXPECT_EQ(m.finish(), "S");
}

TEST(StopStrings, EarliestMatchWinsAndLongerOnTies) {
  StopStringMatcher m({"world", "o", "\n\n", "\n"});
  auto r = m.push("hello world");
  EXPECT_EQ(r.text, "hell");
  EXPECT_EQ(*r.stopped, 1u);
  StopStringMatcher n({"\n", "\n\n"});
  auto s = n.push("a\n\nb");
  EXPECT_EQ(s.text, "a");
  EXPECT_EQ(*s.stopped, 1u);
}

TEST(StopStrings, NoStopsPassesEverything) {
  StopStringMatcher m({"", ""});
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.push("anything").text, "anything");
  EXPECT_EQ(m.finish(), "");
}

TEST(StopStrings, MultibyteStop) {
  StopStringMatcher m({"\xE3\x80\x82"});  // U+3002 IDEOGRAPHIC FULL STOP
  EXPECT_EQ(m.push("\xE4\xBD\xA0\xE5\xA5\xBD").text, "\xE4\xBD\xA0\xE5\xA5\xBD");
  auto r = m.push("\xE3\x80\x82\xE5\x86\x8D");
  EXPECT_EQ(r.text, "");
  EXPECT_TRUE(r.stopped);
}

}  // namespace
}  // namespace ember::text
