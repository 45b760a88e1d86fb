// `ember serve` on a hybrid model with recurrent layers (lfm2, ../shared/testdata/families):
// prefix reuse only where the recurrent state at that position is known, cached_tokens
// reported truthfully, and the same text whether a request runs alone, beside others, with a
// reused prefix or as one of n choices. Expectations come from independent facts: the same
// request on an empty cache, single requests with the matching seeds, and which token lists
// the server has evaluated.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "server_harness.h"
#include "testdata.h"

namespace ember::testing {
namespace {

using Json = nlohmann::json;

constexpr const char* kModel = "families/models/lfm2-q8_0.gguf";

struct Reply {
  int status = 0;
  Json body;
  std::string raw;
};

Reply post(int port, const std::string& path, const Json& body) {
  HttpResponse r = http_request(port, "POST", path, body.dump());
  return {r.status, Json::parse(r.body, nullptr, false), r.body};
}

int64_t cached_tokens(const Reply& r) {
  return r.body["usage"]["prompt_tokens_details"]["cached_tokens"].get<int64_t>();
}

class ServerRecurrentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto dir = testdata_dir();
    if (dir.empty()) {
      if (const char* ci = std::getenv("CI"); ci != nullptr && std::string(ci) == "true") {
        FAIL() << "reference data missing in CI";
      }
      GTEST_SKIP() << "reference data not found (set EMBER_TESTDATA); skipping server tests";
    }
    server_ = ServerProcess::start({"-m", (dir / kModel).string(), "--parallel", "4", "-c", "512",
                                    "--kv-size", "4096", "-t", "2"});
    ASSERT_TRUE(server_->ok()) << server_->error();
  }
  int port() const { return server_->port(); }
  std::vector<int> tokenize(const std::string& text) {
    Reply k = post(port(), "/tokenize", {{"content", text}, {"add_special", true}});
    EXPECT_EQ(k.status, 200) << k.raw;
    return k.body["tokens"].get<std::vector<int>>();
  }
  // Prompt tokens of a chat request, from the template and tokenizer endpoints (the LFM2
  // template writes the BOS text itself, so no second BOS is added).
  std::vector<int> chat_tokens(const Json& messages) {
    Reply t = post(port(), "/apply-template", {{"messages", messages}});
    EXPECT_EQ(t.status, 200) << t.raw;
    Reply k =
        post(port(), "/tokenize",
             {{"content", t.body["prompt"]}, {"add_special", false}, {"parse_special", true}});
    EXPECT_EQ(k.status, 200) << k.raw;
    return k.body["tokens"].get<std::vector<int>>();
  }
  Reply complete(const std::vector<int>& prompt, int max_tokens) {
    return post(port(), "/v1/completions",
                {{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}, {"seed", 3}});
  }

  std::unique_ptr<ServerProcess> server_;
};

// Reuse happens exactly when a prompt extends a sequence the server evaluated whole (its state
// stands right after it), and the text is the text of an evaluation from scratch.
TEST_F(ServerRecurrentTest, PrefixReusedOnlyWhereTheStateIsKnown) {
  const std::vector<int> head = tokenize("The quick brown fox jumps over the lazy dog. Hello");
  ASSERT_GT(head.size(), 8u);
  std::vector<int> longer = head;
  for (int t : tokenize(", world! And then")) longer.push_back(t);

  // 1. The longer prompt on an empty cache: the reference text.
  Reply fresh = complete(longer, 8);
  ASSERT_EQ(fresh.status, 200) << fresh.raw;
  EXPECT_EQ(cached_tokens(fresh), 0);
  const std::string want = fresh.body["choices"][0]["text"];

  // 2. The head alone: the cache holds `longer` + generated tokens, whose state stands after
  // them, not after the head; nothing reusable. max_tokens 1: the sampled token is never
  // evaluated, so this sequence ends exactly at the head.
  Reply h = complete(head, 1);
  ASSERT_EQ(h.status, 200) << h.raw;
  EXPECT_EQ(cached_tokens(h), 0);

  // 3. The longer prompt again: it extends the head's sequence, whose state is reused.
  Reply again = complete(longer, 8);
  ASSERT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(cached_tokens(again), static_cast<int64_t>(head.size()));
  EXPECT_EQ(again.body["choices"][0]["text"], want);

  // 4. A prompt sharing only part of the head (an attention model would reuse that part): the
  // state there is gone, so nothing is reused, and the text is again that of a fresh start.
  std::vector<int> partial(head.begin(), head.begin() + static_cast<long>(head.size()) - 3);
  for (int t : tokenize(" cat sat on the mat")) partial.push_back(t);
  Reply p = complete(partial, 6);
  ASSERT_EQ(p.status, 200) << p.raw;
  EXPECT_EQ(cached_tokens(p), 0);

  // 5. Exactly the head again: its last token must be evaluated again for its logits, which
  // needs the state one position earlier: nothing reused, same text as step 2.
  Reply same = complete(head, 1);
  ASSERT_EQ(same.status, 200) << same.raw;
  EXPECT_EQ(cached_tokens(same), 0);
  EXPECT_EQ(same.body["choices"][0]["text"], h.body["choices"][0]["text"]);
}

// A second chat turn reuses the first turn's evaluated tokens when its prompt extends them.
// max_tokens 1: the sampled reply token is never evaluated, so the server holds exactly the
// first prompt (a longer random-weight reply would not survive the template's round trip).
TEST_F(ServerRecurrentTest, SecondChatTurnReportsWhatItReused) {
  Json msgs = Json::array({{{"role", "user"}, {"content", "Name a color."}}});
  Reply r1 = post(port(), "/v1/chat/completions",
                  {{"messages", msgs}, {"max_tokens", 1}, {"temperature", 0}});
  ASSERT_EQ(r1.status, 200) << r1.raw;
  EXPECT_EQ(cached_tokens(r1), 0);
  const std::vector<int> held = chat_tokens(msgs);
  EXPECT_EQ(r1.body["usage"]["prompt_tokens"].get<size_t>(), held.size());
  Json msgs2 = msgs;
  msgs2.push_back(
      {{"role", "assistant"}, {"content", r1.body["choices"][0]["message"]["content"]}});
  msgs2.push_back({{"role", "user"}, {"content", "Another one."}});
  const std::vector<int> p2 = chat_tokens(msgs2);
  Reply r2 = post(port(), "/v1/chat/completions",
                  {{"messages", msgs2}, {"max_tokens", 4}, {"temperature", 0}});
  ASSERT_EQ(r2.status, 200) << r2.raw;
  // Reusable only if the new prompt extends everything held (the state stands after it).
  const bool extends = held.size() < p2.size() && std::equal(held.begin(), held.end(), p2.begin());
  EXPECT_TRUE(extends) << "the template no longer renders the first turn as a prefix";
  EXPECT_EQ(cached_tokens(r2), extends ? static_cast<int64_t>(held.size()) : 0)
      << "held " << held.size() << " tokens, new prompt " << p2.size();

  // The first turn asked again: its prompt is held whole, but its last token must be evaluated
  // again for its logits, which needs the state one position earlier: nothing reused.
  Reply r3 = post(port(), "/v1/chat/completions",
                  {{"messages", msgs}, {"max_tokens", 1}, {"temperature", 0}});
  ASSERT_EQ(r3.status, 200) << r3.raw;
  EXPECT_EQ(cached_tokens(r3), 0);
  EXPECT_EQ(r3.body["choices"][0]["message"]["content"],
            r1.body["choices"][0]["message"]["content"]);
}

TEST_F(ServerRecurrentTest, SameTextAloneBesideOthersAndAsNChoices) {
  Json req = {{"messages", Json::array({{{"role", "user"}, {"content", "Tell a short story."}}})},
              {"max_tokens", 12},
              {"temperature", 0.9},
              {"seed", 77}};
  Reply alone = post(port(), "/v1/chat/completions", req);
  ASSERT_EQ(alone.status, 200) << alone.raw;
  const std::string expected = alone.body["choices"][0]["message"]["content"];
  std::vector<std::string> got(6);
  std::vector<int> status(6);
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      // Others with different prompts and lengths run in the same batches.
      Json r = req;
      if (i % 2 == 1) {
        r["messages"][0]["content"] = "Something else entirely, number " + std::to_string(i);
        r["max_tokens"] = 5 + i;
      }
      Reply rep = post(port(), "/v1/chat/completions", r);
      status[i] = rep.status;
      if (rep.status == 200) got[i] = rep.body["choices"][0]["message"]["content"];
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(status[i], 200) << i;
    if (i % 2 == 0) {
      EXPECT_EQ(got[i], expected) << "request " << i;
    }
  }

  // n = 3: choice i samples with seed + i, as a single request with that seed does.
  Json multi = req;
  multi["n"] = 3;
  Reply m = post(port(), "/v1/chat/completions", multi);
  ASSERT_EQ(m.status, 200) << m.raw;
  ASSERT_EQ(m.body["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    Json single = req;
    single["seed"] = 77 + i;
    Reply s = post(port(), "/v1/chat/completions", single);
    ASSERT_EQ(s.status, 200) << s.raw;
    EXPECT_EQ(m.body["choices"][i]["message"]["content"],
              s.body["choices"][0]["message"]["content"])
        << "choice " << i;
  }
}

}  // namespace
}  // namespace ember::testing
