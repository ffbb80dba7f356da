"""Small models that the lab's ModelScope endpoint serves: real formats, random weights.

`thorfleet-lab/tiny-qwen2-GGUF`: a 2-layer, 64-wide qwen2 GGUF with Qwen2's real tokenizer
(copied from the vocabulary file llama.cpp carries), written with the `gguf` package. llama-server
loads and serves it; what it says is noise. It stands in for the seeds' Qwen3 GGUFs.
"""

import tarfile
import tempfile
from pathlib import Path



from thorfleet.lab import downloads, sources
from thorfleet.lab.services import MODELS

TINY_QWEN2 = "thorfleet-lab/tiny-qwen2-GGUF"
TINY_QWEN2_FILE = "tiny-qwen2-f16.gguf"
VOCAB_MEMBER = "llama_cpp_python-0.3.36/vendor/llama.cpp/models/ggml-vocab-qwen2.gguf"
WIDTH, LAYERS, FFN, HEADS, KV_HEADS, CONTEXT = 64, 2, 128, 4, 2, 4096


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
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(vocab_gguf)
    vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    writer = gguf.GGUFWriter(target, "qwen2")
    writer.add_name("thorfleet lab tiny qwen2 (random weights)")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(WIDTH)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_freq_base(1000000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    _copy_tokenizer(reader, writer)
    rng = np.random.default_rng(seed)

    def weights(*shape):
        return (rng.standard_normal(shape) * 0.02).astype(np.float16)

    head = WIDTH // HEADS
    # token_embd doubles as the output matrix (qwen2 ties them when output.weight is absent).
    writer.add_tensor("token_embd.weight", weights(vocab, WIDTH))
    writer.add_tensor("output_norm.weight", np.ones(WIDTH, np.float32))
    for i in range(LAYERS):
        block = f"blk.{i}"
        writer.add_tensor(f"{block}.attn_norm.weight", np.ones(WIDTH, np.float32))
        writer.add_tensor(f"{block}.attn_q.weight", weights(WIDTH, WIDTH))
        writer.add_tensor(f"{block}.attn_q.bias", np.zeros(WIDTH, np.float32))
        writer.add_tensor(f"{block}.attn_k.weight", weights(KV_HEADS * head, WIDTH))
        writer.add_tensor(f"{block}.attn_k.bias", np.zeros(KV_HEADS * head, np.float32))
        writer.add_tensor(f"{block}.attn_v.weight", weights(KV_HEADS * head, WIDTH))
        writer.add_tensor(f"{block}.attn_v.bias", np.zeros(KV_HEADS * head, np.float32))
        writer.add_tensor(f"{block}.attn_output.weight", weights(WIDTH, WIDTH))
        writer.add_tensor(f"{block}.ffn_norm.weight", np.ones(WIDTH, np.float32))
        writer.add_tensor(f"{block}.ffn_gate.weight", weights(FFN, WIDTH))
        writer.add_tensor(f"{block}.ffn_up.weight", weights(FFN, WIDTH))
        writer.add_tensor(f"{block}.ffn_down.weight", weights(WIDTH, FFN))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def ensure_models(log=print) -> None:
    """Generate the lab models once (deterministic: a fixed seed)."""
    target = MODELS / TINY_QWEN2 / TINY_QWEN2_FILE
    if target.exists():
        return
    log(f"generating the lab model {TINY_QWEN2}/{TINY_QWEN2_FILE}")
    archive = downloads.sdist(*sources.LLAMA_SDIST)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, tarfile.open(archive) as tar:
        tar.extractall(scratch, members=[tar.getmember(VOCAB_MEMBER)], filter="data")
        partial = target.with_suffix(".partial")
        write_tiny_qwen2(Path(scratch) / VOCAB_MEMBER, partial)
        partial.rename(target)
