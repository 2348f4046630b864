"""The test judge model's file, and the preferences shaped into its weights, read back
with the `gguf` package (no Ollama needed; the e2e tests run it for real)."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest

from tests.e2e import judge_model
from tests.e2e.judge_model import EOS, TINY, byte_token


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> judge_model.ModelFiles:
    return judge_model.write_judge_model(tmp_path_factory.mktemp("tiny"))


def tensor(reader: gguf.GGUFReader, name: str) -> np.ndarray:
    (found,) = (t for t in reader.tensors if t.name == name)
    return np.asarray(found.data, dtype=np.float32).reshape(
        tuple(int(n) for n in reversed(found.shape))
    )


def next_token_logits(reader: gguf.GGUFReader, previous: int) -> np.ndarray:
    """The output layer's logits from the previous token's embedding alone: what the
    model computes when its small random blocks are left out."""
    hidden = tensor(reader, "token_embd.weight")[previous]
    hidden = hidden / np.sqrt(np.mean(hidden**2) + 1e-5) * tensor(reader, "output_norm.weight")
    return tensor(reader, "output.weight") @ hidden


def test_the_same_seed_writes_the_same_bytes(tmp_path: Path, tiny: judge_model.ModelFiles):
    again = judge_model.write_judge_model(tmp_path / "again")
    other = judge_model.write_judge_model(tmp_path / "other", seed=1)
    assert again.gguf.read_bytes() == tiny.gguf.read_bytes()
    assert other.gguf.read_bytes() != tiny.gguf.read_bytes()


def test_the_tiny_model_is_small(tiny: judge_model.ModelFiles):
    assert tiny.gguf.stat().st_size < 256 * 1024


def test_the_file_is_a_llama_model_with_a_byte_vocabulary(tiny: judge_model.ModelFiles):
    reader = gguf.GGUFReader(tiny.gguf)
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == "llama"
    tokens = reader.fields["tokenizer.ggml.tokens"]
    assert len(tokens.data) == judge_model.VOCAB_SIZE
    names = {t.name for t in reader.tensors}
    assert {"token_embd.weight", "output_norm.weight", "output.weight"} <= names
    assert {f"blk.0.{part}.weight" for part in ("attn_q", "ffn_down")} <= names
    assert tensor(reader, "token_embd.weight").shape == (judge_model.VOCAB_SIZE, TINY.embedding)


def test_the_modelfile_names_the_gguf_and_a_chat_template(tiny: judge_model.ModelFiles):
    text = tiny.modelfile.read_text()
    assert text.startswith(f"FROM ./{tiny.gguf.name}\n")
    assert "{{- range .Messages }}" in text and "TEMPLATE" in text
    assert "PARAMETER num_predict" in text


def test_free_text_is_a_short_word_then_the_end(tiny: judge_model.ModelFiles):
    reader = gguf.GGUFReader(tiny.gguf)
    token, reply = byte_token("\n"), ""  # the template's last character
    for _ in range(10):
        token = int(np.argmax(next_token_logits(reader, token)))
        if token == EOS:
            break
        reply += chr(token - judge_model._BYTE_BASE)
    assert reply == judge_model.FREE_REPLY
    assert token == EOS


@pytest.mark.parametrize(
    ("previous", "allowed", "chosen"),
    [
        # After `{` the grammar allows whitespace or the first key's quote.
        ("{", [" ", "\n", '"'], '"'),
        # An integer after `:`, or whitespace first.
        (":", [" ", "\n", *"12345"], str(judge_model.SCORE)),
        # After the digit: end the object if allowed, else the next property; never
        # whitespace.
        (str(judge_model.SCORE), [" ", "\n", ",", "}"], "}"),
        (str(judge_model.SCORE), [" ", "\n", ","], ","),
        # Inside the reason string: close it, or go on with any character.
        ('"', ['"', "a", "x", " ", judge_model.FREE_REPLY[0]], judge_model.FREE_REPLY[0]),
        (judge_model.FREE_REPLY[-1], ['"', "a", "x", " "], '"'),
        # After a closing quote: close the object, or give a key its value, rather
        # than add whitespace.
        ('"', ["}", " ", "\n"], "}"),
        ('"', [":", " ", "\n"], ":"),
    ],
)
def test_where_a_json_grammar_leaves_a_choice_the_short_verdict_wins(
    tiny: judge_model.ModelFiles, previous: str, allowed: list[str], chosen: str
):
    logits = next_token_logits(gguf.GGUFReader(tiny.gguf), byte_token(previous))
    best = max(allowed, key=lambda char: logits[byte_token(char)])
    assert best == chosen


def test_after_the_verdict_the_end_wins(tiny: judge_model.ModelFiles):
    logits = next_token_logits(gguf.GGUFReader(tiny.gguf), byte_token("}"))
    assert int(np.argmax(logits)) == EOS
