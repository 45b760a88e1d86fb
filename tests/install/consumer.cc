// A C++ program built against the *installed* ember (pkg-config or find_package(ember)): loads a
// model with the C++ API, generates in pull style and checks the chunks + tail against the
// result, then renders a chat prompt (ember/chat.h pulls in nlohmann/json through the package's
// declared dependency). Usage: consumer_cpp MODEL.gguf
#include <ember/chat.h>
#include <ember/engine.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " MODEL.gguf\n";
    return 2;
  }
  auto engine = ember::Engine::load(argv[1], {.n_ctx = 128, .n_threads = 1});
  if (!engine.ok()) {
    std::cerr << "load failed: " << engine.status().to_string() << "\n";
    return 1;
  }
  ember::GenerationParams params;
  params.max_tokens = 8;
  params.sampling.temperature = 0.0f;
  params.ignore_eos = true;
  auto g = (*engine)->begin("Once upon a time", params);
  if (!g.ok()) {
    std::cerr << "begin failed: " << g.status().to_string() << "\n";
    return 1;
  }
  std::string streamed;
  while (auto chunk = g->next()) streamed += chunk->text;
  const ember::GenerationResult r = g->end();
  const bool generated = r.tokens.size() == 8 && streamed + r.tail == r.text &&
                         r.finish_reason == ember::FinishReason::kLength;
  auto prompt = (*engine)->apply_chat_template({ember::ChatMessage::user("Hi")}, {});
  const bool rendered = prompt.ok() && prompt->text.find("Hi") != std::string::npos;
  std::cout << "C++ consumer (" << (*engine)->model_description() << "): " << r.text << "\n";
  return generated && rendered ? 0 : 1;
}
