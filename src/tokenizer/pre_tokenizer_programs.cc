// The pre-tokenizer programs: llama.cpp's regex list per LLAMA_VOCAB_PRE_TYPE_* (from its
// src/llama-vocab.cpp), and which steps ember runs with a hand-written splitter.
//
// The regexes are written as llama.cpp evaluates them (see pre_tokenizer_regex.h). Literal
// non-ASCII characters of llama.cpp's patterns are written here as \x{...} escapes, because
// several have look-alikes in other blocks (U+1F7D vs U+03CE, U+2126 vs U+03A9, ...).
#include "tokenizer/pre_tokenizer_programs.h"

#include <array>
#include <utility>

namespace ember::tokenizer::detail {

namespace {

// ---- llama.cpp's regexes ----------------------------------------------------------------------

constexpr std::string_view kGpt2Re =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))re";

#define EMBER_CONTRACTIONS R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]))re"

constexpr std::string_view kLlama3Re = EMBER_CONTRACTIONS
    R"re(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kQwen2Re = EMBER_CONTRACTIONS
    R"re(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kQwen35Re = EMBER_CONTRACTIONS
    R"re(|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kUfakzekaRe =
    R"re([^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kMinicpm5Re = EMBER_CONTRACTIONS
    R"re(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kJais2Re = EMBER_CONTRACTIONS
    R"re(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1})re";
constexpr std::string_view kSeedCoderRe = EMBER_CONTRACTIONS
    R"re(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kBailingmoeRe =
    R"re('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)re";
constexpr std::string_view kExaoneMoeRe = EMBER_CONTRACTIONS
    R"re(|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+)re";
constexpr std::string_view kTekkenRe =
    R"re([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kGpt4oRe =
    R"re([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+)re" EMBER_CONTRACTIONS
    R"re(?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*)re" EMBER_CONTRACTIONS
    R"re(?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kGraniteEmbMultiRe =
    R"re([^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))*((?=[\p{L}\p{M}])([^A-Z]))+)re" EMBER_CONTRACTIONS
    R"re(?|[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))+((?=[\p{L}\p{M}])([^A-Z]))*)re" EMBER_CONTRACTIONS
    R"re(?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kTinyAyaRe =
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)re" EMBER_CONTRACTIONS
    R"re(?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)re" EMBER_CONTRACTIONS
    R"re(?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kYoutuRe =
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)re" EMBER_CONTRACTIONS
    R"re(?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)re" EMBER_CONTRACTIONS
    R"re(?|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
// Hangul, CJK punctuation, Bopomofo and CJK/kana runs (no unicode classes: code point mode).
constexpr std::string_view kYoutuCjkRe =
    R"re([\x{AC00}-\x{D7A3}\x{3131}-\x{318E}]+|[\x{FF01}\x{2026}\x{201C}\x{201D}\x{2018}\x{2019}\x{2014}\x{FF1A}\x{FF1B}\x{FF0C}\x{3001}-\x{303F}\x{FE30}-\x{FE4F}]+|[\x{3105}-\x{312F}]+|[\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re";

// The DeepSeek-V3 family's main pattern (also AFMoE's and, with single newlines, Spark).
constexpr std::string_view kDeepseekV3Re =
    R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kSpark25Re =
    R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+)re";
// CJK ideographs (U+4E00..U+9FA5), hiragana and katakana.
constexpr std::string_view kCjkKanaRe =
    R"re([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re";
// AFMoE's East/South-East Asian scripts: CJK + Ext A + compatibility ideographs, kana, halfwidth
// katakana, Kangxi radicals, Thai, Lao, Khmer, Myanmar (+ Ext A/B), Hangul syllables and jamo.
constexpr std::string_view kAfmoeAsianRe =
    R"re([\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{F900}-\x{FAFF}\x{3040}-\x{309F}\x{30A0}-\x{30FF}\x{FF65}-\x{FF9F}\x{2F00}-\x{2FDF}\x{0E40}-\x{0E7F}\x{0E80}-\x{0EFF}\x{1780}-\x{17FF}\x{1000}-\x{109F}\x{AA60}-\x{AA7F}\x{A9E0}-\x{A9FF}\x{AC00}-\x{D7AF}\x{1100}-\x{11FF}]+)re";

// DeepSeek LLM (v1): the cased-letter list of its tokenizer.json, then ASCII/fullwidth
// punctuation, trailing whitespace, CJK + Hangul, numbers.
constexpr std::string_view kDeepseekLlmLettersRe =
    R"re(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)re";
constexpr std::string_view kDeepseekLlmPunctRe =
    R"re(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)re";
constexpr std::string_view kTrailingSpaceRe = R"re(\s+$)re";
constexpr std::string_view kCjkHangulRe =
    R"re([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re";
constexpr std::string_view kNewlineRe = R"re([\r\n])re";

// Poro/Bloom: a run of anything but whitespace and sentence punctuation (ASCII and the ellipsis,
// ideographic full stop/comma, fullwidth comma, Devanagari danda, Arabic full stop and comma).
constexpr std::string_view kPoroRe =
    R"re( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{0964}\x{06D4}\x{060C})]+)re";

#undef EMBER_CONTRACTIONS

// ---- steps ------------------------------------------------------------------------------------

Step regex(std::string_view re) {
  return Step{StepType::kRegex, re, {}, 0};
}
Step gpt2() {
  return Step{StepType::kGpt2, kGpt2Re, {}, 0};
}
Step llama3(std::string_view re, bool contractions, int max_digits, bool marks = false) {
  Step s{StepType::kLlama3, re, {}, 0};
  s.llama3 = Llama3Options{contractions, max_digits, marks};
  return s;
}
Step numbers(int max_run) {
  constexpr std::string_view kEach = R"re(\p{N})re";
  constexpr std::string_view kRuns = R"re(\p{N}+)re";
  constexpr std::string_view kThrees = R"re(\p{N}{1,3})re";
  return Step{
      StepType::kNumbers, max_run == 1 ? kEach : (max_run == 3 ? kThrees : kRuns), {}, max_run};
}
Step newline_runs() {
  return Step{StepType::kNewlineRuns, R"re([^\n]+|[\n]+)re", {}, 0};
}
Step kimi_k2() {
  return Step{StepType::kKimiK2, R"re(\p{Han}+)re", {}, 0};
}
Step afmoe_digits() {
  return Step{StepType::kAfmoeDigits, R"re(\p{AFMoE_digits})re", {}, 0};
}

std::vector<Step> make_program(PreTokenizer kind) {
  using P = PreTokenizer;
  switch (kind) {
    case P::kDefault:
      return {regex(R"re([\p{P}\$\+<=>\^~\|]+)re"), gpt2(), numbers(0),
              regex(R"re([0-9][0-9][0-9])re")};
    case P::kLlama3:
    case P::kDbrx:
    case P::kSmaug:
    case P::kChatglm4:
      return {llama3(kLlama3Re, true, 3)};
    case P::kJais2:
      return {regex(kJais2Re)};
    case P::kDeepseekLlm:
      return {regex(kNewlineRe),       regex(kDeepseekLlmLettersRe), regex(kDeepseekLlmPunctRe),
              regex(kTrailingSpaceRe), regex(kCjkHangulRe),          numbers(0)};
    case P::kDeepseekV3:
    case P::kHunyuanDense:
    case P::kJoyaiLlm:
    case P::kHyV4:
      return {numbers(3), regex(kCjkKanaRe), regex(kDeepseekV3Re)};
    case P::kSpark25:
      return {numbers(3), regex(kCjkKanaRe), regex(kSpark25Re), numbers(1)};
    case P::kYoutu:
      return {regex(kYoutuCjkRe), regex(kYoutuRe)};
    case P::kDeepseekCoder:
      return {regex(kNewlineRe), regex(R"re(\s?\p{L}+)re"), regex(R"re(\s?\p{P}+)re"),
              regex(kCjkHangulRe), numbers(1)};
    case P::kFalcon:
      return {regex(R"re([\p{P}\$\+<=>\^~\|`]+)re"), gpt2(), regex(R"re([0-9][0-9][0-9])re")};
    case P::kStarcoder:
    case P::kRefact:
    case P::kCommandR:
    case P::kSmollm:
    case P::kCodeshell:
    case P::kExaone:
    case P::kMinerva:
    case P::kMellum2:
      return {numbers(1), gpt2()};
    case P::kGpt2:
    case P::kMpt:
    case P::kOlmo:
    case P::kJais:
    case P::kTrillion:
    case P::kGraniteDocling:
      return {gpt2()};
    case P::kStablelm2:
    case P::kQwen2:
    case P::kHunyuan:
    case P::kSolarOpen:
    case P::kGrok2:
      return {llama3(kQwen2Re, true, 1)};
    case P::kQwen35:
      return {llama3(kQwen35Re, true, 1, /*marks=*/true)};
    case P::kPoro:
    case P::kBloom:
    case P::kGpt3Finnish:
      return {regex(kPoroRe)};
    case P::kViking:
      return {regex(kPoroRe), numbers(1)};
    case P::kTekken:
      return {regex(kTekkenRe)};
    case P::kChameleon:
      return {
          regex(R"re(<sentinel:[0-9]+>)re"),    regex(R"re((IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z)re"),
          regex(R"re(([\t\n]|    |  ))re"),     numbers(1),
          regex(R"re([\p{P}!-/:-@\[-`{-~])re"), gpt2()};
    case P::kGpt4o:
    case P::kMinimaxM2:
      return {regex(kGpt4oRe)};
    case P::kGraniteEmbMulti:
      return {regex(kGraniteEmbMultiRe)};
    case P::kTinyAya:
      return {afmoe_digits(), regex(kTinyAyaRe)};
    case P::kKimiK2:
      return {kimi_k2()};
    case P::kSuperbpe:
      return {numbers(0), regex(R"re((?=(\d{3})+(?!\d)))re")};
    case P::kBailingmoe:
      return {regex(kBailingmoeRe)};
    case P::kSeedCoder:
      return {regex(kSeedCoderRe)};
    case P::kUfakzeka:
      return {llama3(kUfakzekaRe, false, 1)};
    case P::kAfmoe:
      return {afmoe_digits(), regex(kAfmoeAsianRe), regex(kDeepseekV3Re)};
    case P::kLaguna:
      return {newline_runs(), llama3(kQwen2Re, true, 1)};
    case P::kExaoneMoe:
      return {regex(kExaoneMoeRe)};
    case P::kGemma4:
    case P::kSarvamMoe:
      return {newline_runs()};
    case P::kMinicpm5:
      return {numbers(3), llama3(kMinicpm5Re, true, 0)};
    case P::kWhitespace:
      return {regex(R"re(\S+)re")};
  }
  return {gpt2()};
}

CompiledProgram compile_program(PreTokenizer kind) {
  CompiledProgram p;
  p.steps = make_program(kind);
  p.regexes.resize(p.steps.size());
  for (size_t i = 0; i < p.steps.size(); ++i) {
    if (!p.steps[i].has_regex_equivalent()) continue;
    auto re = LlamaRegex::compile(p.steps[i].regex);
    if (!re.ok()) {
      if (p.status.ok()) p.status = re.status();
      continue;
    }
    p.regexes[i] = std::move(re).value();
  }
  return p;
}

// One function-local static per kind: compiled on first use, immutable afterwards.
template <int K>
const CompiledProgram& compiled_program_for() {
  static const CompiledProgram program = compile_program(static_cast<PreTokenizer>(K));
  return program;
}

template <int... K>
constexpr auto make_program_table(std::integer_sequence<int, K...>) {
  return std::array<const CompiledProgram& (*)(), sizeof...(K)>{&compiled_program_for<K>...};
}

constexpr auto kProgramTable =
    make_program_table(std::make_integer_sequence<int, kNumPreTokenizers>{});

// Applies step `index` to every piece of `pieces`, appending the results to `out`.
void run_step(const CompiledProgram& program, size_t index, std::string_view text, bool reference,
              RegexSubject& subject, const Pieces& pieces, Pieces& out) {
  const Step& step = program.steps[index];
  if (step.type == StepType::kRegex || (reference && step.has_regex_equivalent())) {
    if (const LlamaRegex* re = program.regexes[index].get()) {
      re->split(subject, pieces, out);
    } else {
      out.insert(out.end(), pieces.begin(), pieces.end());  // unreachable: patterns compile
    }
    return;
  }
  for (const auto& [begin, end] : pieces) {
    switch (step.type) {
      case StepType::kGpt2:
        split_gpt2(text, begin, end, out);
        break;
      case StepType::kLlama3:
        split_llama3(text, begin, end, step.llama3, out);
        break;
      case StepType::kKimiK2:
        split_kimi_k2(text, begin, end, out);
        break;
      case StepType::kAfmoeDigits:
        split_afmoe_digits(text, begin, end, out);
        break;
      case StepType::kNumbers:
        split_numbers(text, begin, end, step.max_run, out);
        break;
      case StepType::kNewlineRuns:
        split_newline_runs(text, begin, end, out);
        break;
      case StepType::kRegex:
        break;
    }
  }
}

}  // namespace

const std::vector<Step>& program_steps(PreTokenizer kind) {
  return compiled_program(kind).steps;
}

const CompiledProgram& compiled_program(PreTokenizer kind) {
  const int index = static_cast<int>(kind);
  if (index < 0 || index >= kNumPreTokenizers)
    return kProgramTable[static_cast<int>(PreTokenizer::kGpt2)]();
  return kProgramTable[index]();
}

void run_program(const CompiledProgram& program, std::string_view text, bool reference,
                 Pieces& words) {
  if (text.empty()) return;
  RegexSubject subject(text);
  Pieces current{{0, static_cast<uint32_t>(text.size())}};
  Pieces next;
  for (size_t i = 0; i < program.steps.size(); ++i) {
    // The last step writes straight into `words`.
    Pieces& target = (i + 1 == program.steps.size()) ? words : next;
    run_step(program, i, text, reference, subject, current, target);
    if (&target == &next) {
      current.swap(next);
      next.clear();
    }
  }
}

}  // namespace ember::tokenizer::detail
