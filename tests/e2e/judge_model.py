"""Judge models made at test time: small llama-architecture GGUF files that Ollama loads
with `ollama create`, written with the `gguf` package in seconds, with no download.

Their weights are random, but not all of them. With random weights only, a model asked
for JSON under a schema may write the `reason` string until the token limit and never
close it. So the embeddings and the output layer are shaped: every token belongs to
a small "context class", its embedding points along that class's dimension (plus a
little noise), and the output layer ranks the next token by that class. The attention
and feed-forward weights are small random numbers that barely move the residual stream,
so the model behaves like a bigram model with a fixed preference:

- free text: after the prompt it writes `fits` and stops (end of sequence);
- under a JSON schema with an integer `score` and a string `reason` (the judge's
  verdict), the grammar forces the structure and the preferences fill it in:
  `{"score":3,"reason":"fits"}`.

The vocabulary is SentencePiece-style ("llama" tokenizer): the control tokens and the
256 byte tokens, so every text is encoded byte by byte and every byte can be decoded.

    files = write_judge_model(directory)               # tiny: about 0.2 MB, milliseconds
    files = write_judge_model(directory, LARGE)        # a few hundred MB, for pulls
    # then: ollama create NAME -f files.modelfile
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

# What the model writes: as free text, and inside the verdict's `reason` string.
FREE_REPLY = "fits"
# The verdict's score when a schema asks for an integer.
SCORE = 3


@dataclass(frozen=True)
class ModelShape:
    """The dimensions of a judge model; the preferences are the same for every shape."""

    embedding: int
    layers: int
    feed_forward: int
    heads: int
    context: int = 2048

    def __post_init__(self) -> None:
        if self.embedding % self.heads:
            raise ValueError(f"embedding {self.embedding} is not divisible by {self.heads} heads")
        if self.embedding < len(_CLASSES) + 1:
            raise ValueError(f"embedding must be at least {len(_CLASSES) + 1}")


@dataclass(frozen=True)
class ModelFiles:
    gguf: Path
    modelfile: Path


# Token ids: SentencePiece's control tokens first, then one token per byte value.
UNK, BOS, EOS = 0, 1, 2
_BYTE_BASE = 3
VOCAB_SIZE = _BYTE_BASE + 256


def byte_token(char: str) -> int:
    (value,) = char.encode()
    return _BYTE_BASE + value


# The prompt format. It ends with a newline, so the reply starts after "\n".
TEMPLATE = "{{- range .Messages }}<|{{ .Role }}|>\n{{ .Content }}\n{{ end }}<|assistant|>\n"

# Which next tokens each class of previous token prefers, best first. Where a grammar
# allows several tokens (whitespace or not, which digit, close a string or go on), the
# first allowed one wins; every other token scores far below these.
_FIRST_REPLY_CHAR = FREE_REPLY[0]
_CLASSES: dict[str, list[int]] = {
    # Anything not listed: stop, or close what is open.
    "default": [EOS, byte_token("}"), byte_token('"'), byte_token(",")],
    # The end of the prompt: start the reply.
    "\n": [byte_token(_FIRST_REPLY_CHAR), EOS],
    # In JSON: no whitespace after `{` or `,`; the score after `:`.
    "{": [byte_token('"')],
    ",": [byte_token('"')],
    ":": [byte_token(str(SCORE)), byte_token('"')],
    # After the score: close the object if the schema allows (and in plain JSON mode,
    # where more keys could follow forever), else go on to the next property.
    str(SCORE): [byte_token("}"), byte_token(","), EOS],
    # After a quote: start the reply text (an opening quote); else, after a closing
    # one, close the object, go on to the next property, or give a key its value.
    '"': [byte_token(_FIRST_REPLY_CHAR), byte_token("}"), byte_token(","), byte_token(":")],
    "}": [EOS],
}
# The reply's letters, each to the next; after the last one stop, or close the string.
for _this, _next in itertools.pairwise(FREE_REPLY):
    _CLASSES[_this] = [byte_token(_next)]
_CLASSES[FREE_REPLY[-1]] = [EOS, byte_token('"')]

# Logit of the best preference; each next one scores this much less. Far above the
# random part of every logit, so that sampling at any usual temperature follows them.
_TOP_LOGIT = 60.0
_STEP = 15.0


# About 0.2 MB: created, pushed and pulled in well under a second.
TINY = ModelShape(embedding=32, layers=1, feed_forward=64, heads=2)
# About 300 MB of float32 weights: big enough that pulling dominates, and that Ollama
# downloads the blob in several ranged parts (it splits blobs into parts of 100 MB).
LARGE = ModelShape(embedding=1024, layers=6, feed_forward=2816, heads=16)


def _class_of(token: int) -> int:
    if token >= _BYTE_BASE:
        char = chr(token - _BYTE_BASE)
        if char in _CLASSES:
            return list(_CLASSES).index(char)
    return 0


def _vocabulary() -> tuple[list[bytes], list[int]]:
    tokens = [b"<unk>", b"<s>", b"</s>"] + [f"<0x{value:02X}>".encode() for value in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * 256
    return tokens, [int(kind) for kind in types]


def _tensors(shape: ModelShape, rng: np.random.Generator) -> dict[str, np.ndarray]:
    d, ff = shape.embedding, shape.feed_forward

    # Small enough at every width that what the blocks add to the residual stays well
    # below the class dimension (a block's output grows with d * scale**2 per dimension).
    scale = 0.1 / np.sqrt(d)

    def noise(*dims: int, factor: float = 1.0) -> np.ndarray:
        return (rng.standard_normal(dims, dtype=np.float32) * scale * factor).astype(np.float32)

    # Embeddings: one strong dimension per class, noise elsewhere. After RMS
    # normalisation the class dimension carries about sqrt(d).
    embeddings = noise(VOCAB_SIZE, d)
    for token in range(VOCAB_SIZE):
        embeddings[token, _class_of(token)] = 1.0

    # Output: column c holds the next-token logits of class c (divided by the sqrt(d)
    # the normalised hidden state carries there).
    output = noise(VOCAB_SIZE, d, factor=0.5)
    for column, preferred in enumerate(_CLASSES.values()):
        for rank, token in enumerate(preferred):
            output[token, column] = (_TOP_LOGIT - rank * _STEP) / np.sqrt(d)

    tensors = {
        "token_embd.weight": embeddings,
        "output_norm.weight": np.ones(d, dtype=np.float32),
        "output.weight": output,
    }
    for layer in range(shape.layers):
        block = f"blk.{layer}"
        tensors |= {
            f"{block}.attn_norm.weight": np.ones(d, dtype=np.float32),
            f"{block}.attn_q.weight": noise(d, d),
            f"{block}.attn_k.weight": noise(d, d),
            f"{block}.attn_v.weight": noise(d, d),
            f"{block}.attn_output.weight": noise(d, d),
            f"{block}.ffn_norm.weight": np.ones(d, dtype=np.float32),
            f"{block}.ffn_gate.weight": noise(ff, d),
            f"{block}.ffn_up.weight": noise(ff, d),
            f"{block}.ffn_down.weight": noise(d, ff),
        }
    return tensors


def write_gguf(path: Path, shape: ModelShape = TINY, seed: int = 0) -> Path:
    """Writes the model to `path`; the same shape and seed give the same bytes."""
    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_name(f"ollama-judge test judge {shape.embedding}x{shape.layers}")
    writer.add_context_length(shape.context)
    writer.add_embedding_length(shape.embedding)
    writer.add_block_count(shape.layers)
    writer.add_feed_forward_length(shape.feed_forward)
    writer.add_head_count(shape.heads)
    writer.add_head_count_kv(shape.heads)
    writer.add_rope_dimension_count(shape.embedding // shape.heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    tokens, types = _vocabulary()
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types(types)
    writer.add_unk_token_id(UNK)
    writer.add_bos_token_id(BOS)
    writer.add_eos_token_id(EOS)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)

    for name, tensor in _tensors(shape, np.random.default_rng(seed)).items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def modelfile_text(gguf_name: str) -> str:
    """A Modelfile for the GGUF beside it. Temperature 0 makes replies repeatable; a
    stop at the template's role marker keeps a free reply from running on."""
    return (
        f"FROM ./{gguf_name}\n"
        f'TEMPLATE """{TEMPLATE}"""\n'
        "PARAMETER temperature 0\n"
        'PARAMETER stop "<|"\n'
        "PARAMETER num_predict 64\n"
    )


def write_judge_model(directory: Path, shape: ModelShape = TINY, seed: int = 0) -> ModelFiles:
    """Writes `judge.gguf` and a `Modelfile` into `directory` (created if needed), ready
    for `ollama create NAME -f DIRECTORY/Modelfile`."""
    directory.mkdir(parents=True, exist_ok=True)
    model = write_gguf(directory / "judge.gguf", shape, seed)
    modelfile = directory / "Modelfile"
    modelfile.write_text(modelfile_text(model.name))
    return ModelFiles(gguf=model, modelfile=modelfile)
