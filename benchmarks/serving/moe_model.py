"""A Qwen3-30B-A3B-shaped GGUF (qwen3moe: the layer, head, expert and vocabulary counts of its
config.json) with random weights, written already quantized: no F16 copy is ever on disk, so a 30B
model fits the GPU machine's 64 GiB disk. The example's file is Q5_K_M; here every 2-D and expert
weight is Q5_K and `output` Q6_K (Q5_K_M mixes in some Q6_K for attn_v and ffn_down: a few per cent
of the bytes), the norms and the router F32, as llama.cpp keeps them. Random bytes are a valid Q5_K
block once its two fp16 scales are set; the blocks come from one pool, viewed by every tensor.

    python3 benchmarks/serving/moe_model.py VOCAB_GGUF OUT.gguf [tiny]    # tiny: a 2-layer check of the format
"""

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from thorfleet.lab.lab_models import _copy_tokenizer  # noqa: E402

Q5_K, Q6_K = gguf.GGMLQuantizationType.Q5_K, gguf.GGMLQuantizationType.Q6_K


@dataclass(frozen=True)
class MoeShape:
    width: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    experts: int
    experts_used: int
    expert_ffn: int
    context: int
    rope_base: float


# Qwen/Qwen3-Coder-30B-A3B-Instruct's config.json (the example's thor-02 model).
QWEN3_CODER_30B_A3B = MoeShape(2048, 48, 32, 4, 128, 128, 8, 768, 262144, 10_000_000.0)
TINY_MOE = MoeShape(256, 2, 4, 2, 64, 4, 2, 256, 4096, 10_000_000.0)


class BlockPool:
    """Random quantized blocks with sane scales; `take(rows, row_len)` views enough of them as a tensor."""

    def __init__(self, kind: gguf.GGMLQuantizationType, blocks: int, seed: int):
        self.block_len, self.type_size = gguf.GGML_QUANT_SIZES[kind]
        data = np.random.default_rng(seed).integers(0, 256, (blocks, self.type_size), dtype=np.uint8)
        scale = np.frombuffer(np.float16(1e-3).tobytes(), np.uint8)
        if kind == Q5_K:  # block_q5_K: d, dmin (fp16), scales[12], qh[32], qs[128]
            data[:, 0:2] = scale
            data[:, 2:4] = np.frombuffer(np.float16(5e-4).tobytes(), np.uint8)
        else:  # block_q6_K: ql[128], qh[64], scales[16] (int8), d (fp16)
            data[:, 208:210] = scale
        self.flat = data.reshape(-1)

    def take(self, *shape: int) -> np.ndarray:
        """uint8 bytes of a tensor of numpy shape `shape` (the last dimension is the row, in weights)."""
        *outer, row = shape
        row_bytes = row // self.block_len * self.type_size
        count = int(np.prod(outer)) * row_bytes
        if count > self.flat.size:
            raise ValueError(f"the pool holds {self.flat.size} bytes, a tensor needs {count}")
        return self.flat[:count].reshape(*outer, row_bytes)


def write_qwen3moe(vocab_gguf: Path, target: Path, shape: MoeShape, name: str) -> None:
    reader = gguf.GGUFReader(vocab_gguf)
    vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    writer = gguf.GGUFWriter(target, "qwen3moe")
    writer.add_name(name)
    writer.add_context_length(shape.context)
    writer.add_embedding_length(shape.width)
    writer.add_block_count(shape.layers)
    writer.add_feed_forward_length(6144 if shape.width == 2048 else 4 * shape.width)  # the dense size; unused by MoE layers
    writer.add_head_count(shape.heads)
    writer.add_head_count_kv(shape.kv_heads)
    writer.add_key_length(shape.head_dim)
    writer.add_value_length(shape.head_dim)
    writer.add_rope_freq_base(shape.rope_base)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_expert_count(shape.experts)
    writer.add_expert_used_count(shape.experts_used)
    writer.add_expert_feed_forward_length(shape.expert_ffn)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q5_K_M)
    _copy_tokenizer(reader, writer)
    width, q_width, kv_width = shape.width, shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim
    largest = max(vocab * width, shape.experts * shape.expert_ffn * width)
    q5 = BlockPool(Q5_K, largest // 256 + 1, seed=5)
    q6 = BlockPool(Q6_K, vocab * width // 256 + 1, seed=6)
    ones = np.ones(width, np.float32)
    rng = np.random.default_rng(0)
    writer.add_tensor("token_embd.weight", q5.take(vocab, width), raw_dtype=Q5_K)
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", q6.take(vocab, width), raw_dtype=Q6_K)
    for i in range(shape.layers):
        block = f"blk.{i}"
        writer.add_tensor(f"{block}.attn_norm.weight", ones)
        writer.add_tensor(f"{block}.attn_q.weight", q5.take(q_width, width), raw_dtype=Q5_K)
        writer.add_tensor(f"{block}.attn_k.weight", q5.take(kv_width, width), raw_dtype=Q5_K)
        writer.add_tensor(f"{block}.attn_v.weight", q5.take(kv_width, width), raw_dtype=Q5_K)
        writer.add_tensor(f"{block}.attn_output.weight", q5.take(width, q_width), raw_dtype=Q5_K)
        writer.add_tensor(f"{block}.attn_q_norm.weight", np.ones(shape.head_dim, np.float32))
        writer.add_tensor(f"{block}.attn_k_norm.weight", np.ones(shape.head_dim, np.float32))
        writer.add_tensor(f"{block}.ffn_norm.weight", ones)
        writer.add_tensor(f"{block}.ffn_gate_inp.weight", (rng.standard_normal((shape.experts, width)) * 0.02).astype(np.float32))
        writer.add_tensor(f"{block}.ffn_gate_exps.weight", q5.take(shape.experts, shape.expert_ffn, width), raw_dtype=Q5_K)
        writer.add_tensor(f"{block}.ffn_up_exps.weight", q5.take(shape.experts, shape.expert_ffn, width), raw_dtype=Q5_K)
        writer.add_tensor(f"{block}.ffn_down_exps.weight", q5.take(shape.experts, width, shape.expert_ffn), raw_dtype=Q5_K)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file(progress=True)
    writer.close()


if __name__ == "__main__":
    vocab_file, out = Path(sys.argv[1]), Path(sys.argv[2])
    tiny = sys.argv[3:] == ["tiny"]
    started = time.time()
    write_qwen3moe(vocab_file, out, TINY_MOE if tiny else QWEN3_CODER_30B_A3B,
                   "tiny qwen3moe (random weights)" if tiny else "Qwen3-Coder-30B-A3B-shaped (random weights)")
    print(f"== {out}: {out.stat().st_size / 1e9:.2f} GB in {time.time() - started:.0f} s", flush=True)
