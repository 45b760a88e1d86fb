// The web chat page's routes on the real `ember serve` (tests/server_harness.h): the files are
// the ones in apps/server/webui and its npm packages, byte for byte, with their media types, a
// strict Content-Security-Policy, ETag revalidation, no API key needed for them, and --no-webui.
// The page's behaviour in a browser is tested by tests/webui (CTest `webui`).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "server_harness.h"
#include "testdata.h"
#include "webui_assets.h"

namespace ember::testing {
namespace {

const std::filesystem::path kWebuiDir =
    std::filesystem::path(EMBER_SOURCE_DIR) / "apps" / "server" / "webui";

std::string read_source(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::unique_ptr<ServerProcess> start(const std::filesystem::path& data,
                                     std::vector<std::string> extra) {
  std::vector<std::string> args = {"-m", (data / "models" / "qwen2-q8_0.gguf").string(), "-t", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ServerProcess::start(args);
}

TEST(ServerWebui, ServesTheEmbeddedFilesWithCspAndEtag) {
  if (!http::web_assets_missing().empty()) {
    GTEST_SKIP() << "the page is not built in: " << http::web_assets_missing();
  }
  EMBER_REQUIRE_TESTDATA(data);
  auto srv = start(data, {"--api-key", "k-123"});
  ASSERT_TRUE(srv->ok()) << srv->error();
  const int port = srv->port();

  struct File {
    const char* path;
    std::filesystem::path source;
    const char* type;
  };
  const File files[] = {
      {"/", kWebuiDir / "index.html", "text/html; charset=utf-8"},
      {"/webui/app.js", kWebuiDir / "app.js", "text/javascript; charset=utf-8"},
      {"/webui/render.js", kWebuiDir / "render.js", "text/javascript; charset=utf-8"},
      {"/webui/style.css", kWebuiDir / "style.css", "text/css; charset=utf-8"},
      {"/webui/vendor/marked.esm.js", kWebuiDir / "node_modules/marked/lib/marked.esm.js",
       "text/javascript; charset=utf-8"},
      {"/webui/vendor/purify.es.mjs", kWebuiDir / "node_modules/dompurify/dist/purify.es.mjs",
       "text/javascript; charset=utf-8"},
  };
  for (const File& f : files) {
    SCOPED_TRACE(f.path);
    // No API key needed for the page's files.
    HttpResponse r = http_request(port, "GET", f.path);
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    EXPECT_EQ(r.header("content-type"), f.type);
    ASSERT_TRUE(std::filesystem::exists(f.source)) << f.source;
    EXPECT_EQ(r.body, read_source(f.source));
    EXPECT_NE(r.header("content-security-policy").find("script-src 'self'"), std::string::npos);
    EXPECT_EQ(r.header("content-security-policy").find("unsafe-inline"), std::string::npos);
    EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
    EXPECT_EQ(r.header("cache-control"), "no-cache");
    const std::string etag = r.header("etag");
    ASSERT_GE(etag.size(), 3u);
    EXPECT_EQ(etag.front(), '"');
    // Revalidation: the same ETag (alone, in a list, weak) → 304 without a body; another → 200.
    for (const std::string& inm : {etag, "\"nope\", " + etag, "W/" + etag, std::string("*")}) {
      HttpResponse again = http_request(port, "GET", f.path, "", {{"If-None-Match", inm}});
      EXPECT_EQ(again.status, 304) << inm;
      EXPECT_TRUE(again.body.empty());
      EXPECT_FALSE(again.has_header("content-length"));
      EXPECT_EQ(again.header("etag"), etag);
    }
    EXPECT_EQ(http_request(port, "GET", f.path, "", {{"If-None-Match", "\"other\""}}).status, 200);
  }
  // Every asset has its own ETag.
  EXPECT_NE(http_request(port, "GET", "/").header("etag"),
            http_request(port, "GET", "/webui/app.js").header("etag"));
  // The API still needs the key.
  EXPECT_EQ(http_request(port, "GET", "/v1/models").status, 401);
  // Unknown files, paths that climb out, other methods.
  for (const char* p : {"/webui/nope.js", "/webui/", "/webui/../webui/app.js", "/index.html"}) {
    HttpResponse r = http_request(port, "GET", p, "", {{"Authorization", "Bearer k-123"}});
    EXPECT_EQ(r.status, 404) << p;
    EXPECT_EQ(r.header("content-type"), "application/json") << p;
  }
  HttpResponse post = http_request(port, "POST", "/", "{}");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.header("allow"), "GET, HEAD");

  // HEAD / (Ollama's client checks a server this way): GET's head, no body, connection reusable.
  const HttpResponse get = http_request(port, "GET", "/");
  HttpConnection c(port);
  ASSERT_TRUE(c.connected()) << c.error();
  for (int i = 0; i < 2; ++i) {
    c.send_raw("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    HttpResponse head = c.read_head();
    ASSERT_EQ(head.status, 200) << head.error;
    EXPECT_EQ(head.header("content-length"), std::to_string(get.body.size()));
    EXPECT_EQ(head.header("etag"), get.header("etag"));
  }
  // The next request on the connection is answered first thing: no body bytes came in between.
  HttpResponse after = c.request("GET", "/webui/app.js");
  EXPECT_EQ(after.status, 200) << after.error;
  EXPECT_EQ(after.body, read_source(kWebuiDir / "app.js"));
}

TEST(ServerWebui, NoWebuiTurnsThePageOff) {
  EMBER_REQUIRE_TESTDATA(data);
  auto srv = start(data, {"--no-webui"});
  ASSERT_TRUE(srv->ok()) << srv->error();
  for (const char* p : {"/", "/webui/app.js"}) {
    HttpResponse r = http_request(srv->port(), "GET", p);
    EXPECT_EQ(r.status, 404) << p;
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_NE(r.body.find("--no-webui"), std::string::npos) << r.body;
  }
  // The startup lines say so.
  EXPECT_NE(srv->stderr_text().find("web chat page off (--no-webui)"), std::string::npos);
}

TEST(ServerWebui, StartupLinesSayWhatAPersonNeeds) {
  EMBER_REQUIRE_TESTDATA(data);
  auto srv = start(data, {"--parallel", "3", "-c", "1024", "--api-key", "x"});
  ASSERT_TRUE(srv->ok()) << srv->error();
  const std::string log = srv->stderr_text();
  const std::string url = "http://127.0.0.1:" + std::to_string(srv->port()) + "/";
  EXPECT_NE(log.find("ember: model qwen2-q8_0 (qwen2 "), std::string::npos) << log;
  EXPECT_NE(log.find("ember: 3 slots, context 1024 tokens per request, KV cache 3072 cells (f16), "
                     "1 thread\n"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("ember: API key required"), std::string::npos) << log;
  if (http::web_assets_missing().empty()) {
    EXPECT_NE(log.find("ember: open " + url + " for the web chat page"), std::string::npos) << log;
  }
  // The readiness line scripts wait for is still the last of them.
  const size_t ready =
      log.find("ember: listening on http://127.0.0.1:" + std::to_string(srv->port()));
  ASSERT_NE(ready, std::string::npos);
  EXPECT_GT(ready, log.find("ember: model "));
}

}  // namespace
}  // namespace ember::testing
