"""The ember Python package against real and tiny models (see conftest.py)."""

import _thread
import json
import threading
import time
import warnings

import pytest

from conftest import data_path
from ember import EmberError, Llama
from jsonschema_check import errors as schema_errors
from jsonschema_check import test_the_validator_itself  # noqa: F401 (collected here)

SAMPLERS = [
    {},
    {"temperature": 0},
    {"temperature": 1.3, "top_k": 0, "top_p": 1.0, "min_p": 0.02},
    {"repeat_penalty": 1.3, "frequency_penalty": 0.4, "presence_penalty": 0.3},
    {"typical_p": 0.7, "top_k": 100},
    {"mirostat_mode": 2, "mirostat_tau": 4.0, "mirostat_eta": 0.2},
]


def collect_text(chunks) -> tuple:
    chunks = list(chunks)
    return "".join(c["choices"][0]["text"] for c in chunks), chunks


@pytest.mark.parametrize("model", ["stories", "spm", "qwen2"])
def test_streamed_equals_non_streamed(model, request) -> None:
    llm = request.getfixturevalue(model)
    for sampler in SAMPLERS:
        for seed in range(1, 6):
            whole = llm.create_completion("Once upon a time", max_tokens=16, seed=seed, **sampler)
            text, chunks = collect_text(
                llm("Once upon a time", max_tokens=16, seed=seed, stream=True, **sampler))
            assert text == whole["choices"][0]["text"], (sampler, seed)
            assert chunks[-1]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
            assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
            assert whole["object"] == "text_completion"
            assert whole["usage"]["completion_tokens"] <= 16


def test_completion_matches_llama_cpp_greedy(stories) -> None:
    # llama.cpp's greedy continuation of the real model (testdata real/golden).
    with open(data_path("real", "golden", "stories260k-f32.p1.json")) as f:
        golden = json.load(f)
    assert stories.tokenize(golden["prompt"].encode(), add_bos=golden["add_special"],
                            special=golden["parse_special"]) == golden["prompt_tokens"]
    margins = golden["greedy_margins"] + [0]
    n = next(i for i, m in enumerate(margins) if m < 0.1)
    assert n >= 4
    out = stories(golden["prompt"], max_tokens=n, temperature=0)
    expected = bytes.fromhex(golden["greedy_bytes_hex"]).decode("utf-8", errors="replace")
    assert expected.startswith(out["choices"][0]["text"])
    assert len(out["choices"][0]["text"]) > 10


def test_tokenize_matches_llama_cpp(qwen2, spm) -> None:
    for llm, name in ((qwen2, "qwen2-q8_0"), (spm, "llama-spm-q8_0")):
        with open(data_path("golden", f"{name}.p2.json")) as f:
            golden = json.load(f)
        ids = llm.tokenize(golden["prompt"].encode(), add_bos=golden["add_special"],
                           special=golden["parse_special"])
        assert ids == golden["prompt_tokens"]
        assert llm.tokenize(golden["prompt"], add_bos=golden["add_special"],
                            special=golden["parse_special"]) == ids
    text = "Hello, world!"
    assert qwen2.detokenize(qwen2.tokenize(text, add_bos=False)) == text.encode()


def test_stop_strings_and_echo(stories) -> None:
    out = stories("Once upon a time", max_tokens=64, temperature=0, stop=["Lily"])
    assert "Lily" not in out["choices"][0]["text"]
    assert out["choices"][0]["finish_reason"] == "stop"
    echoed = stories("Once upon a time", max_tokens=4, temperature=0, echo=True)
    assert echoed["choices"][0]["text"].startswith("Once upon a time")


def test_grammar_constrains_the_completion(qwen2) -> None:
    grammar = 'root ::= ("yes" | "no") ", " [0-9] [0-9] " items"'
    for seed in range(1, 6):
        out = qwen2("Answer:", max_tokens=32, seed=seed, temperature=1.2, grammar=grammar)
        text = out["choices"][0]["text"]
        assert text.split(", ")[0] in ("yes", "no")
        assert text.endswith(" items") and text[-8:-6].isdigit()


def test_chat_streamed_equals_non_streamed(qwen2) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    for seed in range(1, 4):
        whole = qwen2.create_chat_completion(messages, max_tokens=12, seed=seed)
        chunks = list(qwen2.create_chat_completion(messages, max_tokens=12, seed=seed,
                                                   stream=True))
        content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
        assert content == whole["choices"][0]["message"]["content"]
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        assert chunks[-1]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert whole["object"] == "chat.completion"


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather",
    "parameters": {"type": "object", "additionalProperties": False, "required": ["city"],
                   "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]},
                                  "unit": {"type": "string", "enum": ["C", "F"]}}}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "parameters": {"type": "object", "properties": {}}}}


@pytest.mark.parametrize("tool_choice", [
    "required", {"type": "function", "function": {"name": "get_weather"}}])
def test_chat_with_forced_tool_calls_returns_parsed_calls(qwen2, tool_choice) -> None:
    for seed in range(1, 4):
        out = qwen2.create_chat_completion(
            [{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER, TIME],
            tool_choice=tool_choice, max_tokens=200, seed=seed)
        choice = out["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        calls = choice["message"]["tool_calls"]
        assert len(calls) == 1
        call = calls[0]
        assert call["type"] == "function" and call["id"]
        if isinstance(tool_choice, dict):
            assert call["function"]["name"] == "get_weather"
        assert call["function"]["name"] in ("get_weather", "get_time")
        args = json.loads(call["function"]["arguments"])
        schema = WEATHER if call["function"]["name"] == "get_weather" else TIME
        assert schema_errors(args, schema["function"]["parameters"]) == []


def test_chat_streamed_tool_calls_equal_non_streamed(qwen2) -> None:
    kwargs = dict(tools=[WEATHER], tool_choice="required", max_tokens=200, seed=5)
    messages = [{"role": "user", "content": "Weather?"}]
    whole = qwen2.create_chat_completion(messages, **kwargs)
    args = ""
    for chunk in qwen2.create_chat_completion(messages, stream=True, **kwargs):
        for delta in chunk["choices"][0]["delta"].get("tool_calls") or []:
            args += delta["function"].get("arguments", "")
    assert args == whole["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]


def test_json_schema_output_validates(qwen2) -> None:
    schema = {"type": "object", "additionalProperties": False, "required": ["name", "tags"],
              "properties": {"name": {"type": "string", "maxLength": 12},
                             "age": {"type": "integer", "minimum": 0, "maximum": 120},
                             "tags": {"type": "array", "items": {"enum": ["a", "b"]},
                                      "minItems": 1, "maxItems": 3}}}
    checked = 0
    for seed in range(1, 6):
        out = qwen2.create_chat_completion(
            [{"role": "user", "content": "A person"}], seed=seed, max_tokens=256,
            response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}})
        if out["choices"][0]["finish_reason"] == "length":
            continue  # a random model may ramble inside a string
        value = json.loads(out["choices"][0]["message"]["content"])
        assert schema_errors(value, schema) == [], value
        checked += 1
    assert checked >= 3


def test_cancel_from_another_thread_stops_within_one_token(stories) -> None:
    # Deterministic: the consumer pauses between tokens; another thread cancels meanwhile.
    chunks = []
    paused = threading.Event()
    resume = threading.Event()

    def consume() -> None:
        for chunk in stories("Once upon a time", max_tokens=300, temperature=0, stream=True):
            chunks.append(chunk)
            if len(chunks) == 5:
                paused.set()
                resume.wait()

    worker = threading.Thread(target=consume)
    worker.start()
    assert paused.wait(30)
    canceller = threading.Thread(target=stories.cancel)
    canceller.start()
    canceller.join()
    resume.set()
    worker.join(30)
    assert not worker.is_alive()
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "cancelled"
    assert last["usage"]["completion_tokens"] == 5  # not one token more

    # Free-running: cancelled while a token is being computed, at most that one follows.
    seen = []
    result = {}

    def run() -> None:
        for chunk in stories("Once upon a time", max_tokens=100000, temperature=1.0,
                             stream=True):
            seen.append(chunk)
            result["last"] = chunk

    worker = threading.Thread(target=run)
    worker.start()
    while len(seen) < 3 and worker.is_alive():
        time.sleep(0.001)
    at_cancel = len(seen)
    stories.cancel()
    worker.join(30)
    finish = result["last"]["choices"][0]["finish_reason"]
    if finish == "cancelled":
        assert result["last"]["usage"]["completion_tokens"] <= at_cancel + 2


def test_keyboard_interrupt_stops_the_generation_cleanly(spm) -> None:
    timer = threading.Timer(0.3, _thread.interrupt_main)
    finished = []
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        spm("x", max_tokens=100000, temperature=1.5)  # ~2048 tokens: seconds
        finished.append(True)
        time.sleep(5)  # the generation ended by itself: let the interrupt land here
    timer.join()
    if finished:
        pytest.skip("the generation finished before the interrupt")
    # The generation was ended and the lock released: the Llama is usable again.
    out = spm("Once", max_tokens=4, temperature=0)
    assert out["usage"]["completion_tokens"] == 4


def test_the_gil_is_released_during_generation(spm) -> None:
    counter = [0]
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            counter[0] += 1

    thread = threading.Thread(target=count)
    thread.start()
    try:
        time.sleep(0.05)
        before = counter[0]
        spm("x", max_tokens=200, temperature=1.0, seed=1)
        progressed = counter[0] - before
    finally:
        stop.set()
        thread.join()
    assert progressed > 1000


def test_errors_are_exceptions(stories) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        Llama(model_path="/nonexistent/model.gguf", verbose=False)
    with pytest.raises(TypeError, match="unexpected keyword"):
        Llama(model_path=data_path("real", "models", "stories260k-f32.gguf"), n_cxt=5)
    with pytest.raises(TypeError):
        Llama(model_path=42)
    with pytest.raises(ValueError, match="top_p"):
        stories("x", top_p=3.0)
    with pytest.raises(TypeError):
        stories("x", temperature="hot")
    with pytest.raises(ValueError, match="grammar"):
        stories("x", grammar="root ::= (")
    with pytest.raises(TypeError):
        stories.tokenize(123)
    with pytest.raises((ValueError, EmberError)):
        stories.detokenize([10**6])
    with pytest.raises(ValueError):
        stories.create_chat_completion([{"role": "wizard", "content": "x"}])
    with pytest.raises(ValueError):
        stories.create_chat_completion([{"role": "user", "content": "x"}],
                                       tool_choice="required")
    with pytest.raises(RuntimeError, match="embedding=True"):
        stories.create_embedding("x")
    with pytest.raises(NotImplementedError):
        stories("x", logit_bias={1: 1.0})
    with pytest.raises(NotImplementedError):
        stories([1, 2, 3])
    # Still usable after all of these.
    assert stories("Once", max_tokens=2, temperature=0)["usage"]["completion_tokens"] == 2


def test_gpu_arguments_are_ignored_with_a_warning() -> None:
    path = data_path("real", "models", "stories260k-f32.gguf")
    with pytest.warns(UserWarning, match="n_gpu_layers"):
        Llama(model_path=path, n_gpu_layers=99, n_ctx=64, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Llama(model_path=path, n_gpu_layers=0, n_ctx=64, verbose=False)


def test_one_generation_at_a_time(stories) -> None:
    stream = stories("Once upon a time", max_tokens=50, stream=True)
    next(stream)
    with pytest.raises(RuntimeError, match="already running"):
        stories("x", max_tokens=2)
    stream.close()  # abandoning a stream ends its generation
    assert stories("Once", max_tokens=2, temperature=0)["usage"]["completion_tokens"] == 2


def test_close_refuses_while_a_generation_runs_then_frees() -> None:
    llm = Llama(model_path=data_path("real", "models", "stories260k-f32.gguf"), n_ctx=64,
                verbose=False)
    stream = llm("Once", max_tokens=8, stream=True)
    next(stream)
    with pytest.raises(RuntimeError, match="generation is running"):
        llm.close()
    stream.close()
    llm.close()
    llm.close()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        llm("Once", max_tokens=2)
    with pytest.raises(RuntimeError, match="closed"):
        llm.tokenize("x")
