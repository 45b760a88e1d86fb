// `ember chat -m FILE [--system S] [--tools FILE.json] [--no-think] [--chat-template FILE]
// [engine flags] [sampling flags]`: an interactive, streaming, multi-turn chat. Each stdin line
// is a user message; `/reset` starts over, `/exit` (or end of input) quits. Ctrl-C stops the
// current reply; at the prompt, a second Ctrl-C exits. Reasoning is shown dimmed on a terminal
// and after a "[reasoning]" marker otherwise; tool calls the model makes are printed (not run).
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "model_session.h"
#include "ember/chat.h"
#include "generation_flags.h"

namespace ember::cli {
namespace {

struct ChatArgs {
  std::string model, system, tools_file, template_file;
  bool no_think = false;
  EngineFlags engine;
  SamplingFlags sampling;
};

// What a SIGINT acts on. A signal handler can only touch lock-free atomics, so these are the
// process-wide state of this command (the library keeps none).
std::atomic<Engine*> g_chat_engine{nullptr};  // set while a reply is generated
std::atomic<int> g_chat_interrupts{0};        // Ctrl-C presses at the prompt

extern "C" void on_chat_sigint(int) {
  if (Engine* e = g_chat_engine.load()) {
    e->cancel();
    return;
  }
  if (g_chat_interrupts.fetch_add(1) >= 1) std::_Exit(130);
  static constexpr char kHint[] = "\n(press Ctrl-C again or type /exit to quit)\n";
  (void)!write(STDERR_FILENO, kHint, sizeof(kHint) - 1);
}

Result<std::string> read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(std::string("cannot open ") + what + " '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Streams a reply to stdout: reasoning dimmed (terminal) or marked, then the content.
class ReplyPrinter {
 public:
  explicit ReplyPrinter(bool tty) : tty_(tty) {}

  void chunk(const ChatChunk& c) {
    if (!c.reasoning_content.empty()) {
      if (!in_reasoning_) {
        std::fputs(tty_ ? "\x1b[2m" : "[reasoning] ", stdout);
        in_reasoning_ = true;
      }
      write(c.reasoning_content);
    }
    if (!c.content.empty()) {
      end_reasoning();
      write(c.content);
    }
    if (!c.tool_calls.empty()) end_reasoning();
    std::fflush(stdout);
  }

  void finish(const ChatCompletion& r) {
    end_reasoning();
    for (const ChatToolCall& call : r.message.tool_calls) {
      std::printf("%s[tool call %s] %s(%s)", wrote_ ? "\n" : "", call.id.c_str(), call.name.c_str(),
                  call.arguments.c_str());
      wrote_ = true;
    }
    if (r.finish_reason == ChatFinishReason::kCancelled) std::fputs(" [stopped]", stdout);
    if (r.finish_reason == ChatFinishReason::kLength) std::fputs(" [length limit]", stdout);
    std::fputs("\n", stdout);
    std::fflush(stdout);
  }

 private:
  void write(const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    wrote_ = true;
  }
  void end_reasoning() {
    if (!in_reasoning_) return;
    std::fputs(tty_ ? "\x1b[0m\n" : "\n", stdout);
    in_reasoning_ = false;
  }

  bool tty_;
  bool in_reasoning_ = false;
  bool wrote_ = false;
};

int run_chat(const ChatArgs& a) {
  ChatParams params;
  if (Status st = apply_sampling_flags(a.sampling, params.generation); !st.ok()) {
    return report_error(st);
  }
  if (a.no_think) params.enable_thinking = false;
  if (!a.tools_file.empty()) {
    auto text = read_file(a.tools_file, "tools file");
    if (!text.ok()) return report_error(text.status());
    params.tools = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (params.tools.is_discarded() || !params.tools.is_array()) {
      return report_error("--tools: '" + a.tools_file + "' must hold a JSON list of tools");
    }
  }
  if (!a.template_file.empty()) {
    auto text = read_file(a.template_file, "chat template");
    if (!text.ok()) return report_error(text.status());
    params.chat_template = std::move(*text);
  }
  auto options = engine_options(a.engine);
  if (!options.ok()) return report_error(options.status());
  ModelOptions model_options;
  model_options.use_mmap = options->use_mmap;
  model_options.numerics = options->numerics;
  auto model = load_public_model(a.model, model_options);
  if (!model.ok()) return report_error(model.status());
  auto engine = Engine::create(std::move(*model), *options);
  if (!engine.ok()) return report_error(engine.status());

  ChatSession session(**engine, params);
  session.set_system(a.system);
  const bool tty_in = isatty(STDIN_FILENO) == 1;
  const bool tty_out = isatty(STDOUT_FILENO) == 1;
  if (tty_in) {
    std::fprintf(stderr, "ember chat: %s. /reset starts over, /exit quits, Ctrl-C stops a reply.\n",
                 (*engine)->model_description().c_str());
  }
  auto previous = std::signal(SIGINT, on_chat_sigint);
  int exit_code = 0;
  std::string line;
  while (true) {
    if (tty_in) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    g_chat_interrupts = 0;
    const std::string text = trim(line);
    if (text.empty()) continue;
    if (text == "/exit" || text == "/quit") break;
    if (text == "/reset") {
      session.reset();
      session.set_system(a.system);
      std::fputs("(conversation reset)\n", stdout);
      std::fflush(stdout);
      continue;
    }
    ReplyPrinter printer(tty_out);
    g_chat_engine = engine->get();
    auto reply = session.send(text, [&](const ChatChunk& c) {
      printer.chunk(c);
      return true;
    });
    g_chat_engine = nullptr;
    if (!reply.ok()) {
      exit_code = report_error(reply.status());
      continue;
    }
    printer.finish(*reply);
    if (reply->finish_reason == ChatFinishReason::kError) exit_code = report_error(reply->error);
  }
  std::signal(SIGINT, previous);
  return exit_code;
}

}  // namespace

void register_chat(CLI::App& app, CommandResult& result) {
  auto a = std::make_shared<ChatArgs>();
  CLI::App* cmd = app.add_subcommand(
      "chat", "Interactive multi-turn chat with the model's chat template (stdin lines)");
  cmd->add_option("-m,--model", a->model, "GGUF model file")->required();
  cmd->add_option("--system", a->system, "System message");
  cmd->add_option("--tools", a->tools_file,
                  "JSON file with OpenAI-style tools; calls are printed, not run");
  cmd->add_flag("--no-think", a->no_think, "Ask the model not to reason (enable_thinking=false)");
  cmd->add_option("--chat-template", a->template_file,
                  "Jinja file to use instead of the model's chat template");
  add_engine_flags(cmd, a->engine);
  add_sampling_flags(cmd, a->sampling);
  cmd->callback([a, &result] { result.exit_code = run_chat(*a); });
}

}  // namespace ember::cli
