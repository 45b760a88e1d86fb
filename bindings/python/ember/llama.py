"""``Llama``: llama-cpp-python's high-level class over ember's C API.

Completions and chat completions come back as OpenAI-shaped dicts (or iterators of chunk
dicts with ``stream=True``). Generation runs token by token through the C API's pull calls,
each made with the GIL released, so other threads keep running, ``Llama.cancel()`` from any
thread stops a generation before its next token, and Ctrl-C (KeyboardInterrupt) stops it
between two tokens, ending the generation cleanly before the exception propagates.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import threading
import time
import uuid
import warnings
from ctypes import c_char_p, c_float, c_int32, c_size_t, c_void_p
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from . import _lib

LLAMA_DEFAULT_SEED = 0xFFFFFFFF

# llama-cpp-python constructor arguments that have no meaning on ember (GPU offload, llama.cpp
# internals): accepted and ignored with a warning. Any other unknown argument is a TypeError.
_IGNORED_INIT_ARGS = frozenset({
    "n_gpu_layers", "split_mode", "main_gpu", "tensor_split", "rpc_servers", "vocab_only",
    "use_mlock", "kv_overrides", "n_ubatch", "n_threads_batch", "rope_scaling_type",
    "pooling_type", "rope_freq_base", "rope_freq_scale", "yarn_ext_factor", "yarn_attn_factor",
    "yarn_beta_fast", "yarn_beta_slow", "yarn_orig_ctx", "logits_all", "offload_kqv",
    "flash_attn", "op_offload", "swa_full", "no_perf", "last_n_tokens_size", "lora_base",
    "lora_scale", "lora_path", "numa", "chat_format", "chat_handler", "draft_model",
    "tokenizer", "type_k", "type_v", "spm_infill", "mul_mat_q", "f16_kv", "n_seq_max"})

_FINISH = {_lib.FINISH_STOP: "stop", _lib.FINISH_LENGTH: "length",
           _lib.FINISH_CANCELLED: "cancelled"}


class EmberError(RuntimeError):
    """An error reported by the ember library (``status`` is its ember_status code)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _raise(status: int, what: str) -> None:
    message = f"{what}: {_lib.last_error()}"
    if status == _lib.INVALID_ARGUMENT:
        raise ValueError(message)
    raise EmberError(message, status)


def _check_number(name: str, value: Any, integer: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if integer and not isinstance(value, int):
        raise TypeError(f"{name} must be an int")


def _stop_list(stop: Union[None, str, Sequence[str]]) -> List[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    stops = list(stop)
    if not all(isinstance(s, str) for s in stops):
        raise TypeError("stop must be a string or a list of strings")
    return stops


def _grammar_text(grammar: Any) -> Optional[str]:
    """GBNF text from a string or a llama-cpp-python LlamaGrammar-like object."""
    if grammar is None:
        return None
    if isinstance(grammar, str):
        return grammar
    for attr in ("_grammar", "grammar"):
        text = getattr(grammar, attr, None)
        if isinstance(text, str):
            return text
    raise TypeError("grammar must be GBNF text (str)")


def _unsupported(name: str, value: Any, default: Any = None) -> None:
    if value is not None and value != default:
        raise NotImplementedError(f"{name} is not supported by ember (see docs/bindings.md)")


class _Generation:
    """One raw generation in pull style; always ended (even on exceptions) by ``close``."""

    def __init__(self, llama: "Llama", prompt: str, params: _lib.GenerationParams,
                 keep_alive: List[Any]) -> None:
        self._llama = llama
        self._keep_alive = keep_alive  # the stop-string array the params point into
        self.handle = c_void_p()
        status = _lib.lib().ember_begin(llama._engine, prompt.encode("utf-8"),
                                        ctypes.byref(params), ctypes.byref(self.handle))
        if status != _lib.OK:
            _raise(status, "generation could not start")
        self.n_tokens = 0

    def next(self) -> Optional[str]:
        text = c_void_p()
        length = c_size_t()
        if not _lib.lib().ember_next(self.handle, ctypes.byref(text), ctypes.byref(length)):
            return None
        self.n_tokens += 1
        return ctypes.string_at(text.value, length.value).decode("utf-8") if length.value else ""

    def close(self) -> Dict[str, Any]:
        """Ends the generation; returns text, tail, finish_reason, tokens and usage."""
        if not self.handle:
            raise RuntimeError("generation already closed")
        lib = _lib.lib()
        result = lib.ember_end(self.handle)
        self.handle = c_void_p()
        try:
            reason = lib.ember_result_finish_reason(result)
            if reason == _lib.FINISH_ERROR:
                raise EmberError("generation failed: " +
                                 lib.ember_result_error(result).decode("utf-8", "replace"))
            n = c_size_t()
            tokens = lib.ember_result_tokens(result, ctypes.byref(n))
            return {
                "text": ctypes.string_at(lib.ember_result_text(result)).decode("utf-8"),
                "tail": ctypes.string_at(lib.ember_result_tail(result)).decode("utf-8"),
                "finish_reason": _FINISH.get(reason, "stop"),
                "tokens": [tokens[i] for i in range(n.value)],
                "prompt_tokens": lib.ember_result_prompt_tokens(result),
            }
        finally:
            lib.ember_result_free(result)


class Llama:
    """A GGUF model and its context, shaped like llama-cpp-python's ``Llama``.

    >>> llm = Llama(model_path="model.gguf", n_ctx=2048, n_threads=4, seed=1)
    >>> llm("Once upon a time", max_tokens=32)["choices"][0]["text"]
    >>> for chunk in llm.create_chat_completion(messages, stream=True): ...

    One generation at a time per ``Llama`` (a second concurrent call raises RuntimeError);
    ``cancel()`` may be called from any thread. Everything runs on the CPU: GPU arguments
    (``n_gpu_layers``, ``main_gpu``, ...) are accepted and ignored with a warning.
    """

    def __init__(self, model_path: str, *, n_ctx: int = 512, n_batch: int = 512,
                 n_threads: Optional[int] = None, seed: int = LLAMA_DEFAULT_SEED,
                 use_mmap: bool = True, embedding: bool = False, verbose: bool = True,
                 numerics: str = "fast", **kwargs: Any) -> None:
        """Loads ``model_path`` and creates a context of ``n_ctx`` tokens (0 = the model's own,
        at most 8192) evaluated with ``n_threads`` threads (None = all cores). ``seed`` is the
        default sampling seed (LLAMA_DEFAULT_SEED = random). ``numerics`` (an ember addition):
        ``"fast"`` (default) or ``"reference"``, whose quantized products follow llama.cpp's x86
        summation order bit for bit, with slower prompts (docs/bindings.md)."""
        self._engine = c_void_p()
        self._model = c_void_p()
        self._lock = threading.Lock()
        for name, value in kwargs.items():
            if name not in _IGNORED_INIT_ARGS:
                raise TypeError(f"Llama() got an unexpected keyword argument '{name}'")
            if name == "n_gpu_layers" and value == 0:
                continue
            warnings.warn(f"ember: {name} is ignored (ember runs on the CPU)", stacklevel=2)
        if not isinstance(model_path, (str, os.PathLike)):
            raise TypeError("model_path must be a path")
        model_path = os.fspath(model_path)
        if not os.path.exists(model_path):
            raise ValueError(f"Model path does not exist: {model_path}")
        for name, value in (("n_ctx", n_ctx), ("n_batch", n_batch), ("seed", seed)):
            _check_number(name, value, integer=True)
        if n_threads is not None:
            _check_number("n_threads", n_threads, integer=True)
        if not 0 <= seed <= LLAMA_DEFAULT_SEED:
            raise ValueError("seed must be in [0, 2^32 - 1]")
        if not isinstance(numerics, str):
            raise TypeError("numerics must be a str (\"fast\" or \"reference\")")
        self.model_path = model_path
        self.embedding = bool(embedding)
        self.verbose = verbose
        self._seed = seed
        lib = _lib.lib()
        model_options = _lib.ModelOptions()
        lib.ember_model_options_init(ctypes.byref(model_options))
        model_options.use_mmap = int(bool(use_mmap))
        model_options.n_threads = 0 if n_threads is None else n_threads
        model_options.numerics = numerics.encode("utf-8")
        status = lib.ember_model_load_ex(model_path.encode("utf-8"),
                                         ctypes.byref(model_options), ctypes.byref(self._model))
        if status != _lib.OK:
            _raise(status, f"failed to load model from file: {model_path}")
        options = _lib.EngineOptions()
        lib.ember_engine_options_init(ctypes.byref(options))
        options.n_ctx = n_ctx
        options.n_batch = n_batch
        options.n_threads = 0 if n_threads is None else n_threads
        status = lib.ember_engine_create(self._model, ctypes.byref(options),
                                         ctypes.byref(self._engine))
        if status != _lib.OK:
            self.close()
            _raise(status, "failed to create the context")
        if verbose:
            print(f"ember: {self.model_path}: "
                  f"{lib.ember_model_description(self._model).decode()}, n_ctx {self.n_ctx()}",
                  file=sys.stderr)

    # ---- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Frees the model and context now (also done when the object is collected). A
        generation still running (another thread, or an unfinished stream) is an error:
        ``cancel()`` it or close the stream first."""
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("a generation is running on this Llama: cancel() it or close "
                               "the stream before close()")
        try:
            lib = _lib.lib()
            if self._engine:
                lib.ember_engine_free(self._engine)
                self._engine = c_void_p()
            if self._model:
                lib.ember_model_free(self._model)
                self._model = c_void_p()
        finally:
            self._lock.release()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass

    def __enter__(self) -> "Llama":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _check_open(self) -> None:
        if not self._engine:
            raise RuntimeError("this Llama was closed")

    # ---- information -----------------------------------------------------------------------

    def n_ctx(self) -> int:
        """The context size in tokens."""
        self._check_open()
        return _lib.lib().ember_engine_n_ctx(self._engine)

    def n_vocab(self) -> int:
        """Tokens in the vocabulary."""
        self._check_open()
        return _lib.lib().ember_model_n_vocab(self._model)

    @property
    def numerics(self) -> str:
        """The numerics the model was loaded with: "fast" or "reference"."""
        self._check_open()
        return _lib.lib().ember_model_numerics(self._model).decode("utf-8")

    def n_embd(self) -> int:
        """The model's embedding width."""
        self._check_open()
        return _lib.lib().ember_model_n_embd(self._model)

    @property
    def metadata(self) -> Dict[str, str]:
        """A few GGUF metadata values as text (general.architecture, general.name, ...)."""
        self._check_open()
        out: Dict[str, str] = {}
        for key in ("general.architecture", "general.name", "tokenizer.chat_template"):
            value = c_void_p()
            if _lib.lib().ember_model_metadata(self._model, key.encode(),
                                               ctypes.byref(value)) == _lib.OK:
                out[key] = _lib.take_string(value.value)
        return out

    # ---- tokens ----------------------------------------------------------------------------

    def tokenize(self, text: Union[bytes, str], add_bos: bool = True,
                 special: bool = False) -> List[int]:
        """Token ids of ``text`` (UTF-8 bytes or str). ``add_bos`` adds the model's BOS (and
        EOS) where its metadata asks for them; ``special`` parses special-token text."""
        self._check_open()
        if isinstance(text, str):
            text = text.encode("utf-8")
        if not isinstance(text, bytes):
            raise TypeError("text must be bytes or str")
        lib = _lib.lib()
        count = c_size_t()
        status = lib.ember_tokenize(self._engine, text, len(text), int(add_bos), int(special),
                                    None, 0, ctypes.byref(count))
        if status not in (_lib.OK, _lib.OUT_OF_RANGE):
            _raise(status, "tokenize")
        ids = (c_int32 * max(count.value, 1))()
        status = lib.ember_tokenize(self._engine, text, len(text), int(add_bos), int(special),
                                    ids, count.value, ctypes.byref(count))
        if status != _lib.OK:
            _raise(status, "tokenize")
        return list(ids[:count.value])

    def detokenize(self, tokens: Sequence[int], prev_tokens: Optional[Sequence[int]] = None,
                   special: bool = False) -> bytes:
        """The UTF-8 bytes of ``tokens`` (``special`` renders control tokens as text).
        ``prev_tokens`` is not supported (an error when given)."""
        self._check_open()
        _unsupported("detokenize(prev_tokens=...)", prev_tokens)
        tokens = list(tokens)
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in tokens):
            raise TypeError("tokens must be a list of ints")
        if any(t < -2**31 or t >= 2**31 for t in tokens):
            raise ValueError("token id out of range")
        lib = _lib.lib()
        ids = (c_int32 * max(len(tokens), 1))(*tokens)
        length = c_size_t()
        status = lib.ember_detokenize(self._engine, ids, len(tokens), 0, int(special), None, 0,
                                      ctypes.byref(length))
        if status not in (_lib.OK, _lib.OUT_OF_RANGE):
            _raise(status, "detokenize")
        buffer = ctypes.create_string_buffer(length.value + 1)
        status = lib.ember_detokenize(self._engine, ids, len(tokens), 0, int(special), buffer,
                                      length.value + 1, ctypes.byref(length))
        if status != _lib.OK:
            _raise(status, "detokenize")
        return buffer.raw[:length.value]

    def logits(self, tokens: Sequence[int]) -> List[float]:
        """The model's raw logits (``n_vocab()`` floats) for the token after ``tokens`` (an
        ember addition). The longest prefix the context already holds is reused, so calls on
        growing prefixes evaluate only the new tokens. Errors: no tokens, more than ``n_ctx()``,
        an id outside the vocabulary (ValueError), a generation running (RuntimeError)."""
        tokens = list(tokens)
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in tokens):
            raise TypeError("tokens must be a list of ints")
        if any(t < -2**31 or t >= 2**31 for t in tokens):
            raise ValueError("token id out of range")
        self._acquire()
        try:
            lib = _lib.lib()
            ids = (c_int32 * max(len(tokens), 1))(*tokens)
            row = (c_float * max(self.n_vocab(), 1))()
            count = c_size_t()
            status = lib.ember_engine_logits(self._engine, ids, len(tokens), row, len(row),
                                             ctypes.byref(count))
            if status != _lib.OK:
                _raise(status, "logits")
            return list(row[:count.value])
        finally:
            self._lock.release()

    # ---- control ---------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stops the running generation before its next token. Safe from any thread."""
        if self._engine:
            _lib.lib().ember_engine_cancel(self._engine)

    def _acquire(self) -> None:
        self._check_open()
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("a generation is already running on this Llama (one at a time)")

    def _seed_for(self, seed: Optional[int]) -> int:
        if seed is None:
            return self._seed
        _check_number("seed", seed, integer=True)
        if seed < 0:
            return LLAMA_DEFAULT_SEED
        if seed > LLAMA_DEFAULT_SEED:
            raise ValueError("seed must be below 2^32")
        return seed

    # ---- completions -----------------------------------------------------------------------

    def create_completion(
            self, prompt: Union[str, List[int]], suffix: Optional[str] = None,
            max_tokens: Optional[int] = 16, temperature: float = 0.8, top_p: float = 0.95,
            min_p: float = 0.05, typical_p: float = 1.0, logprobs: Optional[int] = None,
            echo: bool = False, stop: Union[None, str, List[str]] = None,
            frequency_penalty: float = 0.0, presence_penalty: float = 0.0,
            repeat_penalty: float = 1.0, top_k: int = 40, stream: bool = False,
            seed: Optional[int] = None, tfs_z: float = 1.0, mirostat_mode: int = 0,
            mirostat_tau: float = 5.0, mirostat_eta: float = 0.1, model: Optional[str] = None,
            stopping_criteria: Any = None, logits_processor: Any = None, grammar: Any = None,
            logit_bias: Optional[Dict[int, float]] = None,
    ) -> Union[Dict[str, Any], Iterator[Dict[str, Any]]]:
        """Generates a continuation of ``prompt`` (a string). Returns an OpenAI
        ``text_completion`` dict, or with ``stream=True`` an iterator of chunk dicts whose
        texts concatenate to the same text for the same seed. ``max_tokens`` None or <= 0:
        until the context is full. ``grammar``: GBNF text. finish_reason is "stop", "length"
        or "cancelled" (``cancel()``). Unsupported llama-cpp-python options (suffix, logprobs,
        stopping_criteria, logits_processor, logit_bias, tfs_z != 1) raise
        NotImplementedError."""
        _unsupported("suffix", suffix)
        _unsupported("logprobs", logprobs)
        _unsupported("stopping_criteria", stopping_criteria)
        _unsupported("logits_processor", logits_processor)
        _unsupported("logit_bias", logit_bias)
        _unsupported("tfs_z", tfs_z, 1.0)
        if not isinstance(prompt, str):
            # Text round trips of token ids are not exact (BOS, merges): refuse, never guess.
            raise NotImplementedError("prompts as token ids are not supported by ember; "
                                      "pass the prompt text")
        params = _lib.GenerationParams()
        _lib.lib().ember_generation_params_init(ctypes.byref(params))
        for name, value in (("temperature", temperature), ("top_p", top_p), ("min_p", min_p),
                            ("typical_p", typical_p), ("repeat_penalty", repeat_penalty),
                            ("frequency_penalty", frequency_penalty),
                            ("presence_penalty", presence_penalty),
                            ("mirostat_tau", mirostat_tau), ("mirostat_eta", mirostat_eta)):
            _check_number(name, value)
        _check_number("top_k", top_k, integer=True)
        _check_number("mirostat_mode", mirostat_mode, integer=True)
        if max_tokens is not None:
            _check_number("max_tokens", max_tokens, integer=True)
        params.max_tokens = -1 if max_tokens is None or max_tokens <= 0 else max_tokens
        params.temperature = temperature
        params.top_k = top_k
        params.top_p = top_p
        params.min_p = min_p
        params.typical_p = typical_p
        params.repeat_penalty = repeat_penalty
        params.frequency_penalty = frequency_penalty
        params.presence_penalty = presence_penalty
        params.mirostat = mirostat_mode
        params.mirostat_tau = mirostat_tau
        params.mirostat_eta = mirostat_eta
        params.seed = self._seed_for(seed)
        stops = [s.encode("utf-8") for s in _stop_list(stop)]
        stop_array = (c_char_p * max(len(stops), 1))(*stops)
        params.stop = stop_array
        params.n_stop = len(stops)
        grammar_bytes = None
        text = _grammar_text(grammar)
        if text is not None:
            grammar_bytes = text.encode("utf-8")
            params.grammar = grammar_bytes
        keep_alive = [stop_array, stops, grammar_bytes]
        completion_id = "cmpl-" + uuid.uuid4().hex
        created = int(time.time())
        model_name = model if model is not None else self.model_path
        it = self._completion_chunks(prompt, params, keep_alive, echo, completion_id, created,
                                     model_name)
        if stream:
            return it
        pieces: List[str] = []
        final: Dict[str, Any] = {}
        for chunk in it:
            pieces.append(chunk["choices"][0]["text"])
            final = chunk
        return {
            "id": completion_id, "object": "text_completion", "created": created,
            "model": model_name,
            "choices": [{"text": "".join(pieces), "index": 0, "logprobs": None,
                         "finish_reason": final["choices"][0]["finish_reason"]}],
            "usage": final["usage"],
        }

    def _completion_chunks(self, prompt: str, params: _lib.GenerationParams,
                           keep_alive: List[Any], echo: bool, completion_id: str, created: int,
                           model_name: str) -> Iterator[Dict[str, Any]]:
        def chunk(text: str, finish_reason: Optional[str] = None) -> Dict[str, Any]:
            return {"id": completion_id, "object": "text_completion", "created": created,
                    "model": model_name,
                    "choices": [{"text": text, "index": 0, "logprobs": None,
                                 "finish_reason": finish_reason}]}

        self._acquire()
        try:
            generation = _Generation(self, prompt, params, keep_alive)
            try:
                if echo:
                    yield chunk(prompt)
                while (text := generation.next()) is not None:
                    if text:
                        yield chunk(text)
            finally:
                # Also on KeyboardInterrupt, GeneratorExit (a stream abandoned early) or an
                # error: the generation is ended and its resources freed.
                result = generation.close()
            last = chunk(result["tail"], result["finish_reason"])
            n = len(result["tokens"])
            last["usage"] = {"prompt_tokens": result["prompt_tokens"], "completion_tokens": n,
                             "total_tokens": result["prompt_tokens"] + n}
            yield last
        finally:
            self._lock.release()

    __call__ = create_completion

    # ---- chat ------------------------------------------------------------------------------

    def create_chat_completion(
            self, messages: List[Dict[str, Any]], functions: Optional[List[Any]] = None,
            function_call: Any = None, tools: Optional[List[Dict[str, Any]]] = None,
            tool_choice: Union[None, str, Dict[str, Any]] = None, temperature: float = 0.2,
            top_p: float = 0.95, top_k: int = 40, min_p: float = 0.05, typical_p: float = 1.0,
            stream: bool = False, stop: Union[None, str, List[str]] = None,
            seed: Optional[int] = None, response_format: Optional[Dict[str, Any]] = None,
            max_tokens: Optional[int] = None, presence_penalty: float = 0.0,
            frequency_penalty: float = 0.0, repeat_penalty: float = 1.0, tfs_z: float = 1.0,
            mirostat_mode: int = 0, mirostat_tau: float = 5.0, mirostat_eta: float = 0.1,
            model: Optional[str] = None, logits_processor: Any = None, grammar: Any = None,
            logit_bias: Optional[Dict[int, float]] = None, logprobs: Optional[bool] = None,
            top_logprobs: Optional[int] = None,
    ) -> Union[Dict[str, Any], Iterator[Dict[str, Any]]]:
        """Chat completion with the model's chat template: returns an OpenAI
        ``chat.completion`` dict (``message`` with ``content``, ``reasoning_content`` and parsed
        ``tool_calls``), or with ``stream=True`` an iterator of ``chat.completion.chunk`` dicts
        (the last carries finish_reason and usage). ``tools`` / ``tool_choice`` ("auto",
        "none", "required" or {"type": "function", "function": {"name": ...}}) force tool calls
        through a grammar; ``response_format`` {"type": "json_object"} or {"type":
        "json_schema", "json_schema": {"schema": ...}} constrains the reply to JSON.
        ``functions``/``function_call`` map to tools/tool_choice. Unsupported here: grammar,
        typical_p != 1, mirostat, logit_bias, logprobs (NotImplementedError)."""
        _unsupported("create_chat_completion(grammar=...); use response_format", grammar)
        _unsupported("typical_p in chat completions", typical_p, 1.0)
        _unsupported("mirostat in chat completions", mirostat_mode, 0)
        _unsupported("logits_processor", logits_processor)
        _unsupported("logit_bias", logit_bias)
        _unsupported("logprobs", logprobs, False)
        _unsupported("top_logprobs", top_logprobs)
        _unsupported("tfs_z", tfs_z, 1.0)
        if not isinstance(messages, list):
            raise TypeError("messages must be a list of message dicts")
        if functions is not None:
            if tools is not None:
                raise ValueError("give tools or functions, not both")
            tools = [{"type": "function", "function": f} for f in functions]
            if isinstance(function_call, dict):
                tool_choice = {"type": "function", "function": function_call}
            elif function_call is not None:
                tool_choice = function_call
        request: Dict[str, Any] = {
            "temperature": temperature, "top_p": top_p, "top_k": top_k, "min_p": min_p,
            "presence_penalty": presence_penalty, "frequency_penalty": frequency_penalty,
            "repeat_penalty": repeat_penalty, "seed": self._seed_for(seed),
        }
        for name in ("temperature", "top_p", "min_p", "presence_penalty", "frequency_penalty",
                     "repeat_penalty"):
            _check_number(name, request[name])
        _check_number("top_k", top_k, integer=True)
        if request["seed"] == LLAMA_DEFAULT_SEED:
            del request["seed"]  # random
        if max_tokens is not None:
            _check_number("max_tokens", max_tokens, integer=True)
            if max_tokens > 0:
                request["max_tokens"] = max_tokens
        stops = _stop_list(stop)
        if stops:
            request["stop"] = stops
        if tools is not None:
            request["tools"] = tools
        if tool_choice is not None:
            request["tool_choice"] = tool_choice
        if response_format is not None:
            request["response_format"] = response_format
        request["model"] = model if model is not None else self.model_path
        try:
            messages_json = json.dumps(messages, ensure_ascii=False)
            request_json = json.dumps(request, ensure_ascii=False)
        except (TypeError, ValueError) as e:
            raise TypeError(f"messages and tools must be JSON-serializable: {e}") from e
        it = self._chat_chunks(messages_json.encode("utf-8"), request_json.encode("utf-8"))
        if stream:
            return it
        for _ in it:
            pass
        return self._last_completion

    def _chat_chunks(self, messages_json: bytes,
                     request_json: bytes) -> Iterator[Dict[str, Any]]:
        lib = _lib.lib()
        self._acquire()
        try:
            handle = c_void_p()
            status = lib.ember_chat_begin(self._engine, messages_json, request_json,
                                          ctypes.byref(handle))
            if status != _lib.OK:
                _raise(status, "chat completion could not start")
            try:
                text = c_void_p()
                length = c_size_t()
                while lib.ember_chat_next(handle, ctypes.byref(text), ctypes.byref(length)):
                    yield json.loads(ctypes.string_at(text.value, length.value))
            finally:
                completion = lib.ember_chat_end(handle)
                try:
                    error = lib.ember_chat_completion_error(completion).decode("utf-8")
                    result = json.loads(lib.ember_chat_completion_json(completion))
                finally:
                    lib.ember_chat_completion_free(completion)
            if error:
                raise EmberError("chat completion failed: " + error)
            self._last_completion = result
        finally:
            self._lock.release()

    def apply_chat_template(self, messages: List[Dict[str, Any]],
                            tools: Optional[List[Dict[str, Any]]] = None) -> str:
        """The prompt ``create_chat_completion`` evaluates for these messages (and tools)."""
        self._check_open()
        request = {"tools": tools} if tools is not None else {}
        out = c_void_p()
        status = _lib.lib().ember_chat_render(
            self._engine, json.dumps(messages, ensure_ascii=False).encode("utf-8"),
            json.dumps(request).encode("utf-8"), ctypes.byref(out))
        if status != _lib.OK:
            _raise(status, "apply_chat_template")
        return _lib.take_string(out.value)

    # ---- embeddings ------------------------------------------------------------------------

    def embed(self, input: Union[str, List[str]], normalize: bool = False, truncate: bool = True,
              return_count: bool = False) -> Any:
        """Embeds ``input`` as llama-cpp-python's ``Llama.embed`` does: a string gives one list
        of floats, a list of strings (embedded as one batch, each its own sequence) a list of
        them; with a model whose pooling is "none", each input gives one list per token instead.
        ``normalize`` divides each vector by its L2 norm; ``truncate`` cuts inputs longer than
        the context (without it they raise ValueError). With ``return_count``, returns
        ``(embeddings, total_tokens)``. Needs ``Llama(..., embedding=True)``."""
        self._check_open()
        if not self.embedding:
            raise RuntimeError("Llama model must be created with embedding=True to call this "
                               "method")
        texts = [input] if isinstance(input, str) else input
        if not isinstance(texts, list) or not texts or \
                not all(isinstance(t, str) for t in texts):
            raise TypeError("input must be a string or a non-empty list of strings")
        lib = _lib.lib()
        params = _lib.EmbedParams()
        lib.ember_embed_params_init(ctypes.byref(params))
        params.normalize = int(bool(normalize))
        params.truncate = int(bool(truncate))
        encoded = [t.encode("utf-8") for t in texts]
        array = (ctypes.c_char_p * len(encoded))(*encoded)
        out = c_void_p()
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("a generation is running on this Llama: one call at a time")
        try:
            status = lib.ember_embed(self._engine, array, len(encoded), ctypes.byref(params),
                                     ctypes.byref(out))
            if status == _lib.OUT_OF_RANGE:  # longer than the context, as llama-cpp-python
                raise ValueError(f"embed: {_lib.last_error()}")
            if status != _lib.OK:
                _raise(status, "embed")
            try:
                dim = lib.ember_embeddings_dim(out)
                vectors: List[Any] = []
                for i in range(lib.ember_embeddings_count(out)):
                    n = ctypes.c_size_t()
                    ptr = lib.ember_embeddings_vector(out, i, ctypes.byref(n))
                    values = ptr[:n.value]
                    if n.value == dim:
                        vectors.append(values)
                    else:  # pooling none: n_tokens rows of dim values
                        vectors.append([values[r:r + dim] for r in range(0, n.value, dim)])
                total = int(lib.ember_embeddings_total_tokens(out))
            finally:
                lib.ember_embeddings_free(out)
        finally:
            self._lock.release()
        result = vectors[0] if isinstance(input, str) else vectors
        return (result, total) if return_count else result

    def create_embedding(self, input: Union[str, List[str]], model: Optional[str] = None
                         ) -> Dict[str, Any]:
        """OpenAI-shaped embeddings of ``input`` (a string or a list of strings), as
        llama-cpp-python's ``create_embedding``: ``{"object": "list", "data": [{"object":
        "embedding", "embedding": [...], "index": i}], "model", "usage": {"prompt_tokens",
        "total_tokens"}}``. The vectors are ``embed(input)``'s: not normalized, as
        llama-cpp-python's are not. Needs ``Llama(..., embedding=True)``."""
        vectors, total = self.embed(input, return_count=True)
        if isinstance(input, str):
            vectors = [vectors]
        return {
            "object": "list",
            "data": [{"object": "embedding", "embedding": v, "index": i}
                     for i, v in enumerate(vectors)],
            "model": model if model is not None else self.model_path,
            "usage": {"prompt_tokens": total, "total_tokens": total},
        }

