"""Small models that the lab's ModelScope endpoint serves: real formats, random weights.

`thorfleet-lab/tiny-qwen2-GGUF`: a 2-layer, 64-wide qwen2 GGUF with Qwen2's real tokenizer
(copied from the vocabulary file llama.cpp carries), written with the `gguf` package. llama-server
loads and serves it; what it says is noise. It stands in for the seeds' Qwen3 GGUFs.

`thorfleet-lab/tiny-whisper-ggml`: a whisper.cpp ggml model, 1 layer each way and 64 wide, with
Whisper's real mel filters and vocabulary (copied from the header-only test model whisper.cpp
carries) and random weights. whisper-server loads it; its transcripts are noise. It stands in for
ggml-large-v3-turbo.bin.
"""

import struct
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from thorfleet.lab import downloads, sources
from thorfleet.lab.services import MODELS

TINY_QWEN2 = "thorfleet-lab/tiny-qwen2-GGUF"
TINY_QWEN2_FILE = "tiny-qwen2-f16.gguf"
VOCAB_MEMBER = "llama_cpp_python-0.3.36/vendor/llama.cpp/models/ggml-vocab-qwen2.gguf"


@dataclass(frozen=True)
class QwenShape:
    width: int
    layers: int
    ffn: int
    heads: int
    kv_heads: int
    context: int


TINY = QwenShape(64, 2, 128, 4, 2, 4096)
# Qwen3-8B's dimensions (its config.json), for the device benchmarks (benchmarks/serving/).
QWEN3_8B = QwenShape(4096, 36, 12288, 32, 8, 40960)


def _copy_tokenizer(reader, writer) -> None:
    import gguf

    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        kind = field.types[0]
        if kind == gguf.GGUFValueType.ARRAY:
            sub = field.types[1]
            if sub == gguf.GGUFValueType.STRING:
                value = [bytes(field.parts[i]).decode("utf-8", "surrogateescape") for i in field.data]
            else:
                value = [field.parts[i].tolist()[0] for i in field.data]
            writer.add_key_value(key, value, kind, sub)
        elif kind == gguf.GGUFValueType.STRING:
            writer.add_key_value(key, bytes(field.parts[field.data[0]]).decode(), kind)
        else:
            writer.add_key_value(key, field.parts[field.data[0]].tolist()[0], kind)


def write_tiny_qwen2(vocab_gguf: Path, target: Path, seed: int = 0) -> None:
    write_qwen2(vocab_gguf, target, TINY, "thorfleet lab tiny qwen2 (random weights)", seed)


def write_qwen2(vocab_gguf: Path, target: Path, shape: QwenShape, name: str, seed: int = 0) -> None:
    """A qwen2-architecture F16 GGUF of the given shape with Qwen2's tokenizer and random weights."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(vocab_gguf)
    vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    writer = gguf.GGUFWriter(target, "qwen2")
    writer.add_name(name)
    writer.add_context_length(shape.context)
    writer.add_embedding_length(shape.width)
    writer.add_block_count(shape.layers)
    writer.add_feed_forward_length(shape.ffn)
    writer.add_head_count(shape.heads)
    writer.add_head_count_kv(shape.kv_heads)
    writer.add_rope_freq_base(1000000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    _copy_tokenizer(reader, writer)
    rng = np.random.default_rng(seed)

    def weights(*dims):
        return (rng.standard_normal(dims) * 0.02).astype(np.float16)

    width, kv = shape.width, shape.kv_heads * (shape.width // shape.heads)
    # token_embd doubles as the output matrix (qwen2 ties them when output.weight is absent).
    writer.add_tensor("token_embd.weight", weights(vocab, width))
    writer.add_tensor("output_norm.weight", np.ones(width, np.float32))
    for i in range(shape.layers):
        block = f"blk.{i}"
        writer.add_tensor(f"{block}.attn_norm.weight", np.ones(width, np.float32))
        writer.add_tensor(f"{block}.attn_q.weight", weights(width, width))
        writer.add_tensor(f"{block}.attn_q.bias", np.zeros(width, np.float32))
        writer.add_tensor(f"{block}.attn_k.weight", weights(kv, width))
        writer.add_tensor(f"{block}.attn_k.bias", np.zeros(kv, np.float32))
        writer.add_tensor(f"{block}.attn_v.weight", weights(kv, width))
        writer.add_tensor(f"{block}.attn_v.bias", np.zeros(kv, np.float32))
        writer.add_tensor(f"{block}.attn_output.weight", weights(width, width))
        writer.add_tensor(f"{block}.ffn_norm.weight", np.ones(width, np.float32))
        writer.add_tensor(f"{block}.ffn_gate.weight", weights(shape.ffn, width))
        writer.add_tensor(f"{block}.ffn_up.weight", weights(shape.ffn, width))
        writer.add_tensor(f"{block}.ffn_down.weight", weights(width, shape.ffn))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


TINY_WHISPER = "thorfleet-lab/tiny-whisper-ggml"
TINY_WHISPER_FILE = "ggml-tiny-random.bin"
WHISPER_TEST_MODEL = "pywhispercpp-1.5.1/whisper.cpp/models/for-tests-ggml-tiny.bin"
GGML_MAGIC = 0x67676D6C


def write_tiny_whisper(header_model: Path, target: Path, seed: int = 0) -> None:
    """whisper.cpp's ggml format (src/whisper.cpp, whisper_model_load): header, filters, vocab, tensors."""
    import numpy as np

    data = header_model.read_bytes()
    magic, *hparams = struct.unpack_from("<I11i", data)
    if magic != GGML_MAGIC:
        raise ValueError(f"{header_model} is not a ggml whisper model")
    offset = 4 + 11 * 4
    n_mel, n_fft = struct.unpack_from("<2i", data, offset)
    offset += 8 + 4 * n_mel * n_fft
    (n_vocab,) = struct.unpack_from("<i", data, offset)
    offset += 4
    for _ in range(n_vocab):
        (length,) = struct.unpack_from("<I", data, offset)
        offset += 4 + length
    filters_and_vocab = data[4 + 11 * 4:offset]
    vocab, audio_ctx, text_ctx, mels, width = hparams[0], 1500, 448, hparams[9], 64
    rng = np.random.default_rng(seed)
    tensors = []  # (name, array in ggml order reversed, i.e. numpy shape)

    def add(name, *shape, kind="f16"):
        """f16: random weights; f32: layer-norm gains of 1, biases of 0."""
        if kind == "f16":
            tensors.append((name, (rng.standard_normal(shape) * 0.02).astype(np.float16)))
        else:
            gain = "ln" in name.split(".")[-2] and name.endswith(".weight")
            tensors.append((name, np.full(shape, 1.0 if gain else 0.0, np.float32)))

    def block(prefix, cross):
        for part in (["attn", "cross_attn"] if cross else ["attn"]):
            add(f"{prefix}.{part}_ln.weight", width, kind="f32")
            add(f"{prefix}.{part}_ln.bias", width, kind="f32")
            for proj in ("query", "key", "value", "out"):
                add(f"{prefix}.{part}.{proj}.weight", width, width)
                if proj != "key":
                    add(f"{prefix}.{part}.{proj}.bias", width, kind="f32")
        add(f"{prefix}.mlp_ln.weight", width, kind="f32")
        add(f"{prefix}.mlp_ln.bias", width, kind="f32")
        add(f"{prefix}.mlp.0.weight", 4 * width, width)
        add(f"{prefix}.mlp.0.bias", 4 * width, kind="f32")
        add(f"{prefix}.mlp.2.weight", width, 4 * width)
        add(f"{prefix}.mlp.2.bias", width, kind="f32")

    tensors.append(("encoder.positional_embedding", (rng.standard_normal((audio_ctx, width)) * 0.02).astype(np.float32)))
    add("encoder.conv1.weight", width, mels, 3)
    add("encoder.conv1.bias", width, 1, kind="f32")
    add("encoder.conv2.weight", width, width, 3)
    add("encoder.conv2.bias", width, 1, kind="f32")
    block("encoder.blocks.0", cross=False)
    add("encoder.ln_post.weight", width, kind="f32")
    add("encoder.ln_post.bias", width, kind="f32")
    tensors.append(("decoder.positional_embedding", (rng.standard_normal((text_ctx, width)) * 0.02).astype(np.float32)))
    add("decoder.token_embedding.weight", vocab, width)
    block("decoder.blocks.0", cross=True)
    add("decoder.ln.weight", width, kind="f32")
    add("decoder.ln.bias", width, kind="f32")
    header = [vocab, audio_ctx, width, 1, 1, text_ctx, width, 1, 1, mels, 1]  # 1 head, 1 layer, ftype f16
    with open(target, "wb") as out:
        out.write(struct.pack("<I11i", GGML_MAGIC, *header))
        out.write(filters_and_vocab)
        for name, array in tensors:
            encoded = name.encode()
            shape = tuple(reversed(array.shape))
            out.write(struct.pack(f"<3i{len(shape)}i", len(shape), len(encoded), 1 if array.dtype == np.float16 else 0, *shape))
            out.write(encoded)
            out.write(array.tobytes())


def _generate(repo: str, filename: str, sdist: tuple, member: str, write, log) -> None:
    """Write a lab model from a file inside an sdist, once; the result appears only when complete."""
    target = MODELS / repo / filename
    if target.exists():
        return
    log(f"generating the lab model {repo}/{filename}")
    archive = downloads.sdist(*sdist)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, tarfile.open(archive) as tar:
        tar.extractall(scratch, members=[tar.getmember(member)], filter="data")
        partial = target.with_suffix(".partial")
        write(Path(scratch) / member, partial)
        partial.rename(target)


def ensure_models(log=print) -> None:
    """Generate the lab models once (deterministic: fixed seeds)."""
    _generate(TINY_QWEN2, TINY_QWEN2_FILE, sources.LLAMA_SDIST, VOCAB_MEMBER, write_tiny_qwen2, log)
    _generate(TINY_WHISPER, TINY_WHISPER_FILE, sources.WHISPER_SDIST, WHISPER_TEST_MODEL, write_tiny_whisper, log)
