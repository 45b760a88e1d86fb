"""ctypes declarations of ember's C API (include/ember/ember.h) and how the library is found.

ctypes releases the GIL for the duration of every foreign call, so other Python threads run
while the engine evaluates a prompt or a token (and may call ``Llama.cancel``).

The shared library is looked up, in order: ``$EMBER_LIBRARY`` (a path to libember.so), the
path recorded by scripts/install.sh in ``_install_config.py``, then the system's search path
(``libember.so.0``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from ctypes import (POINTER, Structure, c_char_p, c_double, c_float, c_int, c_int32, c_size_t,
                    c_uint32, c_uint64, c_void_p)

# ember_status values (ember/ember.h).
OK = 0
INVALID_ARGUMENT = 1
NOT_FOUND = 2
OUT_OF_RANGE = 5
CANCELLED = 8

# ember_finish_reason values.
FINISH_NONE = 0
FINISH_STOP = 1
FINISH_LENGTH = 2
FINISH_CANCELLED = 3
FINISH_ERROR = 4


class EngineOptions(Structure):
    _fields_ = [("n_ctx", c_int32), ("n_threads", c_int32), ("n_batch", c_int32),
                ("kv_cache_type", c_int32), ("use_mmap", c_int32)]


class ModelOptions(Structure):
    _fields_ = [("size", c_uint32), ("use_mmap", c_int32), ("n_threads", c_int32),
                ("numerics", c_char_p)]


class GenerationParams(Structure):
    _fields_ = [("max_tokens", c_int32), ("temperature", c_float), ("top_k", c_int32),
                ("top_p", c_float), ("min_p", c_float), ("typical_p", c_float),
                ("repeat_penalty", c_float), ("repeat_last_n", c_int32),
                ("frequency_penalty", c_float), ("presence_penalty", c_float),
                ("mirostat", c_int32), ("mirostat_tau", c_float), ("mirostat_eta", c_float),
                ("seed", c_uint32), ("ignore_eos", c_int32), ("stop", POINTER(c_char_p)),
                ("n_stop", c_size_t), ("grammar", c_char_p), ("json_schema", c_char_p),
                ("add_special", c_int32), ("parse_special", c_int32)]


class EmbedParams(Structure):
    _fields_ = [("pooling", c_int32), ("normalize", c_int32), ("dimensions", c_int32),
                ("truncate", c_int32)]


def _find_library() -> str:
    path = os.environ.get("EMBER_LIBRARY")
    if path:
        return path
    try:
        from . import _install_config  # written by scripts/install.sh
        return _install_config.LIBRARY
    except ImportError:
        pass
    found = ctypes.util.find_library("ember")
    return found if found else "libember.so.0"


def _declare(lib: ctypes.CDLL) -> None:
    def fn(name, restype, *argtypes):
        f = getattr(lib, name)
        f.restype = restype
        f.argtypes = list(argtypes)

    pp = POINTER(c_void_p)
    fn("ember_last_error", c_char_p)
    fn("ember_free", None, c_void_p)
    fn("ember_model_load", c_int, c_char_p, c_int, c_int32, pp)
    fn("ember_model_options_init", None, POINTER(ModelOptions))
    fn("ember_model_load_ex", c_int, c_char_p, POINTER(ModelOptions), pp)
    fn("ember_model_numerics", c_char_p, c_void_p)
    fn("ember_model_free", None, c_void_p)
    fn("ember_model_description", c_char_p, c_void_p)
    fn("ember_model_architecture", c_char_p, c_void_p)
    fn("ember_model_chat_template", c_char_p, c_void_p)
    for name in ("n_vocab", "n_ctx_train", "n_embd", "n_layer", "n_head", "n_head_kv"):
        fn("ember_model_" + name, c_int32, c_void_p)
    fn("ember_model_size", c_uint64, c_void_p)
    fn("ember_model_metadata", c_int, c_void_p, c_char_p, pp)
    fn("ember_engine_options_init", None, POINTER(EngineOptions))
    fn("ember_engine_create", c_int, c_void_p, POINTER(EngineOptions), pp)
    fn("ember_engine_free", None, c_void_p)
    fn("ember_engine_cancel", None, c_void_p)
    fn("ember_engine_n_ctx", c_int32, c_void_p)
    fn("ember_engine_logits", c_int, c_void_p, POINTER(c_int32), c_size_t, POINTER(c_float),
       c_size_t, POINTER(c_size_t))
    fn("ember_tokenize", c_int, c_void_p, c_char_p, c_size_t, c_int, c_int, POINTER(c_int32),
       c_size_t, POINTER(c_size_t))
    fn("ember_detokenize", c_int, c_void_p, POINTER(c_int32), c_size_t, c_int, c_int,
       ctypes.c_char_p, c_size_t, POINTER(c_size_t))
    fn("ember_generation_params_init", None, POINTER(GenerationParams))
    fn("ember_begin", c_int, c_void_p, c_char_p, POINTER(GenerationParams), pp)
    fn("ember_next", c_int, c_void_p, pp, POINTER(c_size_t))
    fn("ember_end", c_void_p, c_void_p)
    fn("ember_result_text", c_void_p, c_void_p)
    fn("ember_result_tail", c_void_p, c_void_p)
    fn("ember_result_finish_reason", c_int, c_void_p)
    fn("ember_result_error", c_char_p, c_void_p)
    fn("ember_result_tokens", POINTER(c_int32), c_void_p, POINTER(c_size_t))
    fn("ember_result_prompt_tokens", c_int32, c_void_p)
    fn("ember_result_cached_prompt_tokens", c_int32, c_void_p)
    fn("ember_result_prompt_tokens_per_second", c_double, c_void_p)
    fn("ember_result_generation_tokens_per_second", c_double, c_void_p)
    fn("ember_result_free", None, c_void_p)
    fn("ember_chat_begin", c_int, c_void_p, c_char_p, c_char_p, pp)
    fn("ember_chat_next", c_int, c_void_p, pp, POINTER(c_size_t))
    fn("ember_chat_end", c_void_p, c_void_p)
    fn("ember_chat_completion_json", c_char_p, c_void_p)
    fn("ember_chat_completion_error", c_char_p, c_void_p)
    fn("ember_chat_completion_free", None, c_void_p)
    fn("ember_chat_render", c_int, c_void_p, c_char_p, c_char_p, pp)
    fn("ember_embed_params_init", None, POINTER(EmbedParams))
    fn("ember_embed", c_int, c_void_p, POINTER(c_char_p), c_size_t, POINTER(EmbedParams), pp)
    fn("ember_embeddings_count", c_size_t, c_void_p)
    fn("ember_embeddings_vector", POINTER(c_float), c_void_p, c_size_t, POINTER(c_size_t))
    fn("ember_embeddings_dim", c_int32, c_void_p)
    fn("ember_embeddings_n_tokens", c_int32, c_void_p, c_size_t)
    fn("ember_embeddings_total_tokens", ctypes.c_int64, c_void_p)
    fn("ember_embeddings_free", None, c_void_p)


@functools.lru_cache(maxsize=None)
def lib() -> ctypes.CDLL:
    """The loaded library (loaded once, on first use)."""
    path = _find_library()
    try:
        loaded = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(
            f"cannot load the ember library ({path}): {e}. Install it with "
            "scripts/install.sh PREFIX, or set EMBER_LIBRARY to libember.so") from e
    _declare(loaded)
    return loaded


def last_error() -> str:
    message = lib().ember_last_error()
    return message.decode("utf-8", errors="replace") if message else ""


def take_string(ptr: int | None) -> str:
    """Copies and frees a string the library allocated for us (char** outputs)."""
    if not ptr:
        return ""
    try:
        return ctypes.string_at(ptr).decode("utf-8")
    finally:
        lib().ember_free(ptr)
