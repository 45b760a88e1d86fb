// Building a Tokenizer from a GGUF file that is already open (the runtime loads the model once
// and takes the tokenizer from the same GgufFile).
#pragma once

#include "ember/status.h"
#include "ember/tokenizer.h"

namespace ember {

class GgufFile;

// Reads `file`'s `tokenizer.ggml.*` metadata. The Tokenizer keeps no reference to `file`.
Result<Tokenizer> tokenizer_from_gguf(const GgufFile& file);

}  // namespace ember
