"""ember: local large language models on the CPU (GGUF), shaped like llama-cpp-python.

    from ember import Llama
    llm = Llama(model_path="model.gguf", n_ctx=2048)
    print(llm("Once upon a time", max_tokens=32)["choices"][0]["text"])

A thin layer over ember's C API (libember.so, loaded with ctypes). See docs/bindings.md.
"""

from .llama import LLAMA_DEFAULT_SEED, EmberError, Llama

__all__ = ["Llama", "EmberError", "LLAMA_DEFAULT_SEED"]
__version__ = "0.1.0"
