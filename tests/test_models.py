"""Tests of the model zoo (engine.models): shapes, registry, configs, receptive radius."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias
from torch import nn

from engine.errors import ModelError
from engine.models import (
    EnhanceNet,
    UNet,
    UNetDiscriminator,
    count_parameters,
    create_model,
    list_models,
    pad_to_multiple,
)
from engine.models.cost import frame_gmacs
from engine.models.fast_ops import bilinear_demosaic, depth_to_space, filter_by_taps, strided_taps

VARIANTS = ["baseline", "attention", "gan", "uunet", "deep", "lite", "fast"]

#: Small but non-trivial configs so every variant runs in milliseconds on a CPU.
SMALL: dict[str, dict[str, Any]] = {
    "baseline": {"base_features": 8},
    "attention": {"base_features": 8},
    "gan": {"base_features": 8},
    "uunet": {"base_features": 8, "second_base_features": 4},
    "deep": {"base_features": 4, "max_features": 32},
    "lite": {"base_features": 4},
    "fast": {"widths": (4, 6, 8, 10, 12)},
}

#: Analytic radii at the default number of levels (they do not depend on widths).
DEFAULT_RADIUS = {
    "baseline": 107, "attention": 122, "gan": 107, "uunet": 214, "deep": 219, "lite": 107,
    "fast": 194,
}  # fmt: skip

#: Parameter counts at defaults, as documented in engine/models/registry.py.
DEFAULT_PARAMS = {
    "baseline": 7_760_748,
    "attention": 7_891_792,
    "gan": 7_760_748,
    "uunet": 15_611_320,
    "deep": 31_095_148,
    "lite": 1_941_436,
    "fast": 1_394_864,
}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _randomise_zero_params(model: nn.Module) -> None:
    """Give zero-initialised tensors (U-UNet's residual head) random values, so gradients
    flow through every path of the architecture."""
    with torch.no_grad():
        for param in model.parameters():
            if not param.any():
                nn.init.normal_(param, std=0.1)


def test_list_models_in_registration_order() -> None:
    assert list_models() == VARIANTS


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("shape", [(1, 4, 13, 21), (2, 4, 7, 9), (1, 4, 1, 1), (2, 4, 32, 48)])
def test_forward_shape_on_any_size(name: str, shape: tuple[int, int, int, int]) -> None:
    model = create_model(name, **SMALL[name]).eval()
    shape = (shape[0], model.in_channels, *shape[2:])
    with torch.no_grad():
        y = model(torch.rand(shape))
    n, _, h, w = shape
    assert y.shape == (n, 3, 2 * h, 2 * w)
    assert y.dtype == torch.float32
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", VARIANTS)
def test_defaults(name: str) -> None:
    model = create_model(name)
    assert isinstance(model, EnhanceNet)
    assert model.variant == name
    assert model.receptive_radius == DEFAULT_RADIUS[name]
    assert count_parameters(model) == DEFAULT_PARAMS[name]
    assert model.size_multiple == (32 if name in ("deep", "fast") else 16)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert model.noise_input == model.demosaic_input == (name == "fast")
    assert model.in_channels == 4 * (1 + model.noise_input) + 12 * model.demosaic_input
    with torch.no_grad():
        y = model(torch.rand(1, model.in_channels, 3, 5))
    assert y.shape == (1, 3, 6, 10)
    assert torch.isfinite(y).all()


def test_baseline_matches_sid_parameter_count() -> None:
    # 7,760,748 is the parameter count of the original SID TensorFlow network.
    assert count_parameters(create_model("baseline")) == 7_760_748
    assert create_model("baseline").widths == [32, 64, 128, 256, 512]


def test_unknown_model_raises_model_error() -> None:
    with pytest.raises(ModelError) as info:
        create_model("no-such-net")
    message = str(info.value)
    assert "\n" not in message
    assert "no-such-net" in message
    for name in VARIANTS:
        assert name in message


@pytest.mark.parametrize("cfg", [{"bogus": 1}, {"levels": 0}, {"base_features": -3}])
def test_invalid_config_raises_model_error(cfg: dict[str, Any]) -> None:
    with pytest.raises(ModelError):
        create_model("baseline", **cfg)


@pytest.mark.parametrize("name", VARIANTS)
def test_config_round_trip(name: str) -> None:
    model = create_model(name, **SMALL[name])
    config = json.loads(json.dumps(model.config))  # as stored in a model card
    again = create_model(model.variant, **config)
    assert again.variant == model.variant
    assert again.config == model.config
    assert {k: v.shape for k, v in again.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }
    again.load_state_dict(model.state_dict(), strict=True)
    x = torch.rand(1, model.in_channels, 5, 11)
    with torch.no_grad():
        assert torch.equal(again(x), model(x))


@pytest.mark.parametrize(
    ("name", "extra"),
    [*((name, {}) for name in VARIANTS), ("fast", {"head": "overlap"}),
     ("fast", {"base_filter": 3})],
)  # fmt: skip
def test_receptive_radius_is_an_upper_bound(name: str, extra: dict[str, Any]) -> None:
    # Radius depends on levels only, so default levels with tiny widths keep this fast.
    cfg: dict[str, Any] = {"base_features": 4} if name != "fast" else dict(SMALL[name])
    if name == "uunet":
        cfg["second_base_features"] = 4
    model = create_model(name, **cfg, **extra)
    _randomise_zero_params(model)
    radius = model.receptive_radius
    # The overlapping head reaches one level-0 position (2 packed pixels) further, the base
    # filter one sensor pixel (rounded up to a packed pixel).
    more = 2 * (extra.get("head") == "overlap") + ("base_filter" in extra)
    assert radius == DEFAULT_RADIUS[name] + more
    size = 2 * radius + 9  # odd, so padding is exercised, and room beyond the radius
    x = torch.rand(1, model.in_channels, size, size, requires_grad=True)
    y = model(x)
    # One probe in the centre and one at the padded bottom-right border.
    probes = [(size // 2, size // 2), (size - 2, size - 1)]
    reach = 0
    for py, px in probes:
        (grad,) = torch.autograd.grad(y[0, 1, 2 * py + 1, 2 * px], x, retain_graph=True)
        where = grad.abs().sum(dim=(0, 1)).nonzero()
        dist = (where - torch.tensor([py, px])).abs().max().item()
        assert dist <= radius, f"{name}: output reaches {dist} > receptive_radius {radius}"
        reach = max(reach, dist)
    # The bound is analytic, not a loose guess: gradients reach most of the way.
    assert reach >= 0.8 * radius


@pytest.mark.parametrize("name", VARIANTS)
def test_output_does_not_depend_on_batch(name: str) -> None:
    model = create_model(name, **SMALL[name]).double().eval()
    _randomise_zero_params(model)
    a = torch.rand(1, model.in_channels, 9, 13, dtype=torch.float64)
    b = torch.rand(1, model.in_channels, 9, 13, dtype=torch.float64) * 10
    with torch.no_grad():
        alone = model(a)
        batched = model(torch.cat([b, a]))
    torch.testing.assert_close(batched[1:], alone, rtol=1e-10, atol=1e-10)


def test_gan_generator_is_the_baseline_architecture() -> None:
    gen = create_model("gan", base_features=8)
    base = create_model("baseline", base_features=8)
    assert type(gen) is UNet
    assert gen.variant == "gan"
    assert gen.config == base.config
    gen.load_state_dict(base.state_dict(), strict=True)


def test_attention_adds_only_gates() -> None:
    att = create_model("attention", base_features=8)
    base = create_model("baseline", base_features=8)
    extra = set(att.state_dict()) - set(base.state_dict())
    assert set(base.state_dict()) <= set(att.state_dict())
    assert extra and all(key.startswith("gates.") for key in extra)
    assert len(att.gates) == 4


def test_uunet_first_loads_baseline_weights() -> None:
    cfg = {"base_features": 8, "levels": 3}
    model = create_model("uunet", **cfg, second_base_features=4)
    baseline = create_model("baseline", **cfg)
    model.first.load_state_dict(baseline.state_dict(), strict=True)
    model.first.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == count_parameters(model.second) + sum(
        count_parameters(b) for b in model.bridges
    )
    # residual=True zero-initialises the second net's head: an untrained refiner on top of a
    # pretrained first net reproduces it exactly.
    x = torch.rand(2, 4, 11, 6)
    with torch.no_grad():
        torch.testing.assert_close(model(x), baseline(x))


def test_uunet_second_is_configurable() -> None:
    model = create_model("uunet", second_base_features=16)
    assert model.second.widths == [16, 32, 64, 128, 256]
    assert model.first.widths == [32, 64, 128, 256, 512]
    assert model.second.in_channels == 12
    plain = create_model("uunet", base_features=8, second_base_features=4, residual=False)
    assert plain.second.head.weight.any()
    with torch.no_grad():
        assert plain(torch.rand(1, 4, 7, 9)).shape == (1, 3, 14, 18)


def test_deep_has_one_more_level_and_a_width_cap() -> None:
    deep = create_model("deep")
    assert deep.widths == [32, 64, 128, 256, 512, 1024]
    capped = create_model("deep", max_features=512)
    assert capped.widths == [32, 64, 128, 256, 512, 512]
    assert count_parameters(capped) < count_parameters(deep)
    assert UNet(levels=4, max_features=128).widths == [32, 64, 128, 128, 128]


@pytest.mark.parametrize("shape", [(1, 3, 13, 21), (2, 3, 7, 9), (1, 3, 1, 1), (2, 3, 16, 24)])
def test_discriminator_shapes(shape: tuple[int, int, int, int]) -> None:
    disc = UNetDiscriminator(base_features=8, levels=3)
    global_logits, pixel_logits = disc(torch.rand(shape))
    n, _, h, w = shape
    assert global_logits.shape == (n, 1)
    assert pixel_logits.shape == (n, 1, h, w)
    assert torch.isfinite(global_logits).all() and torch.isfinite(pixel_logits).all()


def test_discriminator_defaults() -> None:
    disc = UNetDiscriminator().eval()
    assert disc.config["base_features"] == 64 and disc.config["levels"] == 3
    assert UNetDiscriminator(**json.loads(json.dumps(disc.config))).config == disc.config
    with torch.no_grad():
        global_logits, pixel_logits = disc(torch.rand(1, 3, 5, 7))
    assert global_logits.shape == (1, 1)
    assert pixel_logits.shape == (1, 1, 5, 7)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in disc.modules())


def test_pad_to_multiple_reflects_and_falls_back_to_replicate() -> None:
    x = torch.arange(5.0).reshape(1, 1, 1, 5)
    assert pad_to_multiple(x, 8)[0, 0, 0, 5:].tolist() == [3.0, 2.0, 1.0]  # reflect
    assert pad_to_multiple(x, 16)[0, 0, 0, 5:].tolist() == [4.0] * 11  # too small: replicate
    tall = pad_to_multiple(x, 8)
    assert tall.shape == (1, 1, 8, 8)  # height 1 cannot reflect: replicate rows
    assert (tall == tall[:, :, :1]).all()
    assert pad_to_multiple(x, 1) is x


@pytest.mark.parametrize("name", VARIANTS)
def test_every_parameter_gets_a_finite_gradient(name: str) -> None:
    """An L1 step on an odd-sized input reaches every parameter, and nothing turns NaN."""
    model = create_model(name, **SMALL[name]).train()
    _randomise_zero_params(model)
    x = torch.rand(2, model.in_channels, 19, 23)
    y = model(x)
    assert torch.isfinite(y).all()
    (y - torch.rand_like(y)).abs().mean().backward()
    for param_name, param in model.named_parameters():
        assert param.grad is not None, f"{name}: {param_name} gets no gradient"
        assert torch.isfinite(param.grad).all(), f"{name}: {param_name} has a NaN gradient"
        assert param.grad.abs().sum() > 0, f"{name}: {param_name}'s gradient is zero"


@pytest.mark.parametrize("name", VARIANTS)
def test_model_declares_what_the_runner_reads(name: str) -> None:
    model = create_model(name, **SMALL[name])
    assert isinstance(model, EnhanceNet) and model.variant == name
    assert model.size_multiple >= 16 and model.receptive_radius > 0
    assert model.activation_bytes > 0
    assert set(model.supported_dtypes) <= {torch.bfloat16, torch.float16}
    if name == "fast":  # its widest level runs at a quarter of the packed positions
        assert model.activation_bytes == 12 * SMALL[name]["widths"][0]
        return
    features = SMALL[name]["base_features"]
    extra = SMALL[name].get("second_base_features", 0)
    assert model.activation_bytes == 40 * (features + extra)  # the first net's, + the second's


@pytest.mark.parametrize("base", ["demosaic", "bilinear"])
def test_fast_starts_near_its_base(base: str) -> None:
    """An untrained fast network is its base with the gate's starting share let go
    (sigmoid(-2) = 0.12): a clean photo comes out nearly as demosaicked, not as noise."""
    model = create_model("fast", widths=(4, 6, 8, 10, 12), base=base).eval()
    x = torch.rand(1, model.in_channels, 32, 32)
    with torch.no_grad():
        y = model(x)
    wanted = (
        torch.nn.functional.pixel_shuffle(x[:, -12:], 2)
        if base == "demosaic"
        else bilinear_demosaic(x[:, :4])
    )
    torch.testing.assert_close(y, wanted * (1 - torch.sigmoid(torch.tensor(-2.0))))


def test_fast_overlap_head_is_the_shuffle_head_plus_neighbours() -> None:
    """With only the block's own taps set, the overlapping head computes exactly the
    pixel-shuffle head; its outer taps reach the neighbouring blocks, which the receptive
    radius accounts for."""
    torch.manual_seed(0)
    shuffle = create_model("fast", **SMALL["fast"])
    overlap = create_model("fast", **SMALL["fast"], head="overlap")
    _randomise_zero_params(shuffle)
    state = shuffle.overlap_state()
    # The block's own taps, written out: output c at (dy, dx) of the block is tap (dy+2, dx+2).
    w = shuffle.head.weight[:, :, 0, 0].detach()  # (4 outputs x 16 positions, C)
    for c, dy, dx in [(0, 0, 0), (1, 2, 3), (3, 3, 1)]:
        assert torch.equal(state["head.weight"][:, c, dy + 2, dx + 2], w[c * 16 + dy * 4 + dx])
    assert not state["head.weight"][:, :, :2].any() and not state["head.weight"][:, :, 6:].any()
    overlap.load_state_dict(state)
    x = torch.rand(1, shuffle.in_channels, 37, 45)
    with torch.no_grad():
        torch.testing.assert_close(overlap(x), shuffle(x), atol=1e-5, rtol=0)
        overlap.head.weight[:, :, 0, 0] += 0.5  # an outer tap: now the neighbours count
        assert (overlap(x) - shuffle(x)).abs().max() > 1e-3
    assert overlap.receptive_radius == shuffle.receptive_radius + 2
    assert frame_gmacs(create_model("fast", head="overlap")) <= 60


def test_fast_overlap_head_starts_at_its_base() -> None:
    model = create_model("fast", **SMALL["fast"], head="overlap").eval()
    x = torch.rand(1, model.in_channels, 32, 32)
    with torch.no_grad():
        y = model(x)
    wanted = torch.nn.functional.pixel_shuffle(x[:, -12:], 2)
    torch.testing.assert_close(y, wanted * (1 - torch.sigmoid(torch.tensor(-2.0))))
    model.train()(x).square().mean().backward()  # the in-place bias keeps autograd whole
    for param in (model.head.weight, model.head_bias):
        assert param.grad is not None and torch.isfinite(param.grad).all()
        assert param.grad.abs().sum() > 0


def test_fast_refuses_an_unknown_base() -> None:
    with pytest.raises(ModelError, match="base must be one of"):
        create_model("fast", base="ahd")
    with pytest.raises(ModelError, match="head must be one of"):
        create_model("fast", head="bicubic")


def test_frame_gmacs_counts_the_convolutions() -> None:
    """The SID U-Net's published 560 GMAC per 12 MP frame, and the fast default's budget."""
    assert frame_gmacs(create_model("baseline")) == pytest.approx(560, abs=2)
    gmacs = frame_gmacs(create_model("fast"))
    assert gmacs <= 60
    # Its stem runs F.conv2d with the modules' weights (stride 2): counted all the same.
    assert gmacs == pytest.approx(53.7, abs=0.1)

    class OneConv(EnhanceNet):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 3, 3, padding=1)  # 4 * 3 * 9 MACs per packed pixel
            self.up = nn.ConvTranspose2d(3, 3, 2, stride=2)  # 3 * 3 * 4 per packed pixel

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.up(self.conv(x))

    assert frame_gmacs(OneConv(), (256, 256)) == pytest.approx(128 * 128 * (108 + 36) / 1e9)

    class Functional(OneConv):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.up(F.conv2d(x, self.conv.weight, self.conv.bias, padding=1))

    assert frame_gmacs(Functional(), (256, 256)) == frame_gmacs(OneConv(), (256, 256))


@pytest.mark.parametrize("factor", [2, 4])
def test_fast_depth_to_space_is_pixel_shuffle(factor: int) -> None:
    y = torch.rand(2, 3 * factor * factor, 5, 7).contiguous(memory_format=torch.channels_last)
    shuffled = depth_to_space(y, factor)
    assert torch.equal(shuffled, F.pixel_shuffle(y, factor)) and shuffled.is_contiguous()


@pytest.mark.parametrize(("kernel", "padding"), [(3, 1), (1, 0)])
def test_fast_stem_reads_the_unshuffled_input_with_stride_two(kernel: int, padding: int) -> None:
    # The stem's convolutions over pixel_unshuffle(x, 2), as stride-2 convolutions over x.
    torch.manual_seed(0)
    x = torch.rand(1, 5, 12, 18)
    weight, bias = torch.randn(7, 20, kernel, kernel), torch.randn(7)
    expected = F.conv2d(F.pixel_unshuffle(x, 2), weight, bias, padding=padding)
    for layout in (torch.contiguous_format, torch.channels_last):
        taps = strided_taps(weight.contiguous(memory_format=layout))
        assert taps.shape == (7, 5, 2 * kernel, 2 * kernel)
        strided = F.conv2d(x, taps, bias, stride=2, padding=2 * padding)
        torch.testing.assert_close(strided, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("head", "base_filter"), [("shuffle", 0), ("overlap", 0), ("shuffle", 3)])
def test_fast_inference_equals_the_training_forward(head: str, base_filter: int, monkeypatch):
    # Inference finishes the shuffle head in strips (here 5, 5 and 2 level-0 rows for each of
    # two photos) and takes either memory layout, as the runner hands it over (a channels-last
    # model, bf16 autocast); the training path (autograd) computes the same function.
    import engine.models.fast

    monkeypatch.setattr(engine.models.fast, "STRIP_PIXELS", 2 * 1700)
    torch.manual_seed(0)
    model = create_model("fast", widths=[4, 6, 8], encoder_convs=[1, 1, 1], decoder_convs=[1, 1],
                         head=head, base_filter=base_filter).eval()  # fmt: skip
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.2)
    x = torch.rand(2, model.in_channels, 24, 40)
    trained = model(x).detach()
    assert trained.std() > 0.05  # the comparisons can fail
    with torch.inference_mode():
        plain = model(x)
        channels_last = model.to(memory_format=torch.channels_last)(x)
    torch.testing.assert_close(plain, trained, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(channels_last, plain, rtol=1e-5, atol=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        trained = model(x).detach()
        with torch.inference_mode():
            reduced = model(x)
    assert reduced.dtype == trained.dtype == torch.float32  # the gate and base in float32
    torch.testing.assert_close(reduced, trained, rtol=1e-5, atol=1e-6)
    assert not model.channels_last_input  # the runner hands it over as it is


def test_fast_base_filter_weighs_each_pixels_neighbours() -> None:
    """The head's last k*k channels are each output pixel's taps over the base around it
    (raster order, edges replicated); here a box filter on the left half and a shift on the
    right, with the gate shut (all of the base kept) and no residual."""
    model = create_model("fast", **SMALL["fast"], base_filter=3).eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
        model.head.bias[3 * 16 : 4 * 16] = -40.0  # the gate: sigmoid(40) = 1 of the base kept
    x = torch.rand(1, model.in_channels, 16, 16)
    base = F.pixel_shuffle(x[:, -12:], 2)  # (1, 3, 32, 32)
    taps = torch.zeros(1, 9, 32, 32)
    taps[:, :, :, :16] = 1 / 9
    taps[:, 5, :, 16:] = 1.0  # tap (1, 2): the right-hand neighbour
    padded = F.pad(base, (1, 1, 1, 1), mode="replicate")
    box = F.avg_pool2d(padded, 3, stride=1)
    wanted = torch.cat([box[..., :16], padded[:, :, 1:-1, 18:34]], dim=-1)
    head = torch.cat([torch.zeros(1, 4, 32, 32), taps], dim=1)
    torch.testing.assert_close(filter_by_taps(padded, model.base_taps(head)), wanted)
    with torch.no_grad():  # and the network's own output, through its head, is the same
        model.head.bias.view(13, 16)[4:] = 0.0
        model.head.bias.view(13, 16)[4 + 4] = 1.0  # every pixel: the centre tap alone
        torch.testing.assert_close(model(x), base, rtol=1e-5, atol=1e-6)


def test_fast_with_a_base_filter_warm_starts_as_the_network_without() -> None:
    """Trained weights of a network without the filter start one with it as exactly that
    network (the filter's taps start as the centre alone), and its cost stays in budget."""
    plain = create_model("fast", **SMALL["fast"]).eval()
    _randomise_zero_params(plain)
    filtered = create_model("fast", **SMALL["fast"], base_filter=3).eval()
    assert filtered.config["base_filter"] == 3 and "base_filter" not in plain.config
    assert filtered.head.out_channels == (3 + 1 + 9) * 16
    x = torch.rand(1, plain.in_channels, 40, 24)
    with torch.no_grad():
        assert (filtered(x) - plain(x)).abs().max() > 1e-3  # untrained: not yet the same
    state = filtered.warm_start_state(plain.state_dict())
    filtered.load_state_dict(state, strict=True)
    with torch.no_grad():
        torch.testing.assert_close(filtered(x), plain(x), rtol=1e-5, atol=1e-6)
    assert frame_gmacs(create_model("fast", base_filter=3)) <= 60
    # Back again (the X-Trans network, which has no filter, from the Bayer default): the
    # residual and the gate carry over, the taps are dropped.
    again = create_model("fast", **SMALL["fast"]).eval()
    again.load_state_dict(again.warm_start_state(filtered.state_dict()), strict=True)
    torch.testing.assert_close(again.head.weight, plain.head.weight)
    torch.testing.assert_close(again.head.bias, plain.head.bias)


@pytest.mark.parametrize(
    ("cfg", "message"),
    [({"base_filter": 2}, "odd"), ({"base_filter": 7}, "odd"),
     ({"base_filter": 3, "base": "none"}, "needs a base"),
     ({"base_filter": 3, "head": "overlap"}, "shuffle head")],
)  # fmt: skip
def test_fast_refuses_a_base_filter_it_cannot_run(cfg: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        create_model("fast", **SMALL["fast"], **cfg)
