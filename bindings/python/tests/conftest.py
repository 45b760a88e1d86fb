"""Fixtures: test models from ember's shared test data ($EMBER_TESTDATA, else
$EMBER_DEFAULT_TESTDATA); missing data skips, except in CI where it fails."""

import os

import pytest

from ember import Llama


def data_path(*parts: str) -> str:
    root = os.environ.get("EMBER_TESTDATA") or os.environ.get("EMBER_DEFAULT_TESTDATA", "")
    path = os.path.join(root, *parts)
    if not root or not os.path.exists(path):
        if os.environ.get("CI") == "true":
            pytest.fail(f"test data missing: {path}")
        pytest.skip(f"test data missing: {path}")
    return path


@pytest.fixture(scope="session")
def stories() -> Llama:
    return Llama(model_path=data_path("real", "models", "stories260k-f32.gguf"), n_ctx=512,
                 n_threads=2, verbose=False)


@pytest.fixture(scope="session")
def qwen2() -> Llama:
    # Random weights, a real Qwen2 tokenizer and its ChatML + tool-call template.
    return Llama(model_path=data_path("models", "qwen2-q8_0.gguf"), n_ctx=1024, n_threads=2,
                 verbose=False)


@pytest.fixture(scope="session")
def spm() -> Llama:
    return Llama(model_path=data_path("models", "llama-spm-q8_0.gguf"), n_ctx=2048, n_threads=2,
                 verbose=False)
