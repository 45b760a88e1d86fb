"""Llama(numerics=...) reaches the engine: in "reference" mode gemma4-q8_0's logits for the first
golden position are llama.cpp's bit for bit (the golden files of the shared test data), and the
two modes give different logits; a bad name is the library's error. (An engine evaluates
attention with one algorithm at every batch size, the reference picked by batch size, so later
positions are not compared bit for bit.)"""

import array
import json
import os

import pytest

from conftest import data_path
from ember import Llama


def golden(name: str):
    path = data_path("families", "golden", name + ".json")
    with open(path, encoding="utf-8") as f:
        g = json.load(f)
    values = array.array("f")
    with open(os.path.join(os.path.dirname(path), g["logits_file"]), "rb") as f:
        values.frombytes(f.read())
    n = g["n_vocab"]
    rows = [values[i * n:(i + 1) * n].tolist() for i in range(len(g["logit_positions"]))]
    return g["prompt_tokens"], g["logit_positions"], rows


def test_reference_numerics_reach_the_kernels() -> None:
    model = data_path("families", "models", "gemma4-q8_0.gguf")
    prompt, positions, rows = golden("gemma4-q8_0.p1")
    assert positions[0] == 0
    with Llama(model_path=model, n_ctx=512, n_threads=2, numerics="reference",
               verbose=False) as llm:
        assert llm.numerics == "reference"
        reference = [llm.logits(prompt[:p + 1]) for p in positions]
    with Llama(model_path=model, n_ctx=512, n_threads=2, verbose=False) as llm:
        assert llm.numerics == "fast"
        fast = [llm.logits(prompt[:p + 1]) for p in positions]
    assert reference[0] == rows[0]
    assert any(a != b for a, b in zip(reference, fast))


def test_numerics_errors() -> None:
    model = data_path("families", "models", "gemma4-q8_0.gguf")
    with pytest.raises(ValueError, match="exact"):
        Llama(model_path=model, numerics="exact", verbose=False)
    with pytest.raises(TypeError):
        Llama(model_path=model, numerics=1, verbose=False)
    with Llama(model_path=model, n_ctx=16, n_threads=1, verbose=False) as llm:
        with pytest.raises(ValueError, match="vocabulary"):
            llm.logits([1, llm.n_vocab()])
        with pytest.raises(ValueError):
            llm.logits([])
        with pytest.raises(TypeError):
            llm.logits(["a"])
        assert len(llm.logits([2, 1])) == llm.n_vocab()
