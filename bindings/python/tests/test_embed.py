"""Embeddings: Llama(embedding=True).embed / create_embedding equal the `ember embed --json`
output of the CLI for the same inputs (within 1e-6), and llama.cpp's reference vectors
(testdata embed/expected, cosine >= 0.9999)."""

import json
import math
import os
import shutil
import subprocess

import pytest

from conftest import data_path
from ember import Llama

MODEL = "bert-mean-f32"


def cosine(a, b):
    ab = sum(x * y for x, y in zip(a, b))
    return ab / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def cli() -> str:
    path = os.environ.get("EMBER_CLI") or shutil.which("ember")
    if not path or not os.path.exists(path):
        if os.environ.get("CI") == "true":
            pytest.fail("the ember CLI was not found (EMBER_CLI)")
        pytest.skip("the ember CLI was not found (set EMBER_CLI)")
    return path


def cli_embed(model_path, texts, *extra):
    args = [cli(), "embed", "-m", model_path, "--json", "-t", "2"]
    for t in texts:
        args += ["--text", t]
    out = subprocess.run(args + list(extra), check=True, capture_output=True, text=True,
                         timeout=120)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def bert():
    path = data_path("embed", "models", MODEL + ".gguf")
    with open(data_path("embed", "expected", MODEL + ".json")) as f:
        ref = json.load(f)
    llm = Llama(model_path=path, embedding=True, n_threads=2, verbose=False)
    yield llm, path, ref
    llm.close()


def test_embed_equals_the_cli_and_the_reference(bert):
    llm, path, ref = bert
    texts = [x["text"] for x in ref["inputs"][:3]]
    want = cli_embed(path, texts)  # L2-normalized, as the CLI prints by default
    got = llm.embed(texts, normalize=True)
    assert len(got) == len(texts)
    for i, vec in enumerate(got):
        expected = want["data"][i]["embedding"]
        assert len(vec) == len(expected) == ref["n_embd"]
        assert max(abs(a - b) for a, b in zip(vec, expected)) <= 1e-6
        assert cosine(vec, ref["inputs"][i]["embedding_l2"]) >= 0.9999
    # A string gives one vector; the same as the first of the batch.
    one = llm.embed(texts[0], normalize=True)
    assert isinstance(one[0], float)
    assert max(abs(a - b) for a, b in zip(one, got[0])) <= 1e-6
    vecs, count = llm.embed(texts, return_count=True)
    assert count == sum(len(x["tokens"]) for x in ref["inputs"][:3])


def test_create_embedding_is_openai_shaped_and_not_normalized(bert):
    llm, path, ref = bert
    texts = [x["text"] for x in ref["inputs"][:2]]
    want = cli_embed(path, texts, "--no-normalize")
    r = llm.create_embedding(texts)
    assert r["object"] == "list"
    assert [d["index"] for d in r["data"]] == [0, 1]
    assert all(d["object"] == "embedding" for d in r["data"])
    n_tokens = sum(len(x["tokens"]) for x in ref["inputs"][:2])
    assert r["usage"] == {"prompt_tokens": n_tokens, "total_tokens": n_tokens}
    assert r["usage"]["prompt_tokens"] == want["usage"]["prompt_tokens"]
    for i, d in enumerate(r["data"]):
        expected = want["data"][i]["embedding"]
        assert max(abs(a - b) for a, b in zip(d["embedding"], expected)) <= 1e-6
        assert cosine(d["embedding"], ref["inputs"][i]["embedding"]) >= 0.9999
        norm = math.sqrt(sum(x * x for x in d["embedding"]))
        assert abs(norm - ref["inputs"][i]["l2_norm"]) <= 1e-3 * ref["inputs"][i]["l2_norm"]
    single = llm.create_embedding(texts[0], model="m")
    assert single["model"] == "m" and len(single["data"]) == 1


def test_bad_input_raises(bert):
    llm, _, _ = bert
    with pytest.raises(TypeError):
        llm.embed(5)
    with pytest.raises(TypeError):
        llm.embed([])
    with pytest.raises(TypeError):
        llm.embed(["a", 1])
    with pytest.raises(ValueError):
        llm.embed("the fox " * 2000, truncate=False)
    # Truncated by default, as llama-cpp-python does.
    assert len(llm.embed("the fox " * 2000)) == llm.n_embd()
    # Still usable.
    assert len(llm.embed("hello")) == llm.n_embd()
