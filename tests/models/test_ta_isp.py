"""TA-ISP front-end: parameter counts of the official model, the forward against the paper's equations,
determinism, ablation switches, packed-RAW input, numerical safety of the power transform."""

import pytest
import torch
import torch.nn.functional as F

import rawvision  # noqa: F401
from rawvision.models.ta_isp import (
    TAISP,
    GlobalLuminanceCalibration,
    HierarchicalSpatialAttention,
    RegionGuidedFeatureModulation,
)
from rawvision.raw.pack import pack_bayer

ALL = ("glc", "hsa", "rgfm")
SUBSETS = [(), ("glc",), ("hsa",), ("rgfm",), ("glc", "hsa"), ALL]


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    return TAISP(**kw)


def _reference(model: TAISP, x: torch.Tensor) -> torch.Tensor:
    """The eval-mode forward written directly from the paper's equations / the notes on the official code, with the
    (B, K, C, H, W) power tensor of the official implementation (masks = softmax(logits / tau))."""
    x = x.clamp(0, 1)
    B, C, H, W = x.shape
    g = model.glc.gain_mlp
    stats = torch.cat([x.reshape(B, C, -1).mean(-1), x.reshape(B, C, -1).var(-1, unbiased=False)], 1)
    x = (x * (g(stats) + 1).view(B, C, 1, 1)).clamp(1e-6, 1)
    hsa = model.hsa
    m = torch.cat([x.mean(1, keepdim=True), x.max(1, keepdim=True)[0]], 1)
    gate = F.softmax(hsa.gate_proj(F.adaptive_avg_pool2d(x, 1)), 1)
    a = sum(gate[:, i : i + 1] * torch.sigmoid(conv(m)) for i, conv in enumerate(hsa.branch_convs))
    x = (x * a.clamp(0, 1)).clamp(1e-6, 1)
    r = model.rgfm
    logits = r.mask_head(x)
    masks = F.softmax(logits / r.tau, 1)
    w = r.w_min + (r.w_max - r.w_min) * torch.sigmoid(r.weight_mlp(logits.view(B, r.num_masks, -1).mean(-1)))
    powered = x.unsqueeze(1).pow(1 / w.view(B, -1, 1, 1, 1)).clamp(1e-6, 1)
    return (masks.unsqueeze(2) * powered).sum(1)


def test_parameter_count_matches_the_official_model():
    counts = TAISP().param_count_by_module()
    assert counts == {"glc": 643, "hsa": 78, "rgfm": 2576, "rgfm.mask_head": 448, "rgfm.weight_mlp": 2128,
                      "total": 3297}
    # 4 channels: the formulas of the submodule docstrings, plus the 4 -> 3 head (12 weights + 3 biases)
    c4 = TAISP(in_channels=4).param_count_by_module()
    assert c4["glc"] == 8 * 64 + 64 + 64 * 4 + 4 and c4["hsa"] == 19 + 51 + 4 * 2 + 2
    assert c4["rgfm.mask_head"] == 9 * 4 * 16 + 16 and c4["to_rgb"] == 15
    assert c4["total"] == sum(v for k, v in c4.items() if "." not in k and k != "total") == 3651


def test_eval_forward_matches_the_equations():
    model = _model(1).eval()
    x = torch.rand(2, 3, 20, 17, generator=torch.Generator().manual_seed(0)) * 0.6
    with torch.no_grad():
        torch.testing.assert_close(model(x), _reference(model, x), rtol=1e-5, atol=1e-6)
    # a wider range with w < 1 exercises the per-region clamp
    model = _model(2, weight_range=(0.5, 4.0)).eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), _reference(model, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("train", [False, True])
def test_inference_path_matches_the_autograd_path(channels, train):
    """Without a graph the forward works in place (and writes the softmax out by hand): same values."""
    model = _model(10, in_channels=channels, weight_range=(0.7, 3.0)).train(train)
    x = torch.rand(2, channels, 14, 9, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(11)
    with_graph = model(x)
    assert with_graph.requires_grad
    torch.manual_seed(11)  # the same Gumbel noise in training mode
    with torch.no_grad():
        no_graph = model(x)
    torch.testing.assert_close(no_graph, with_graph.detach(), rtol=1e-5, atol=1e-6)
    with torch.inference_mode():
        torch.manual_seed(11)
        torch.testing.assert_close(model(x), no_graph, rtol=0, atol=0)


def test_eval_is_deterministic_and_training_is_stochastic():
    model = _model(0)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    model.train()
    with torch.no_grad():
        a, b = model(x), model(x)
    assert not torch.equal(a, b)
    masks, w = model.rgfm.masks_and_weights(model.hsa(model.glc(x)))
    assert (masks >= 0).all() and torch.allclose(masks.sum(1), torch.ones(2, 16, 16))
    assert ((w >= 1.0) & (w <= 3.0)).all()


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("modules", SUBSETS)
def test_shape_and_range(channels, modules):
    model = _model(3, in_channels=channels, modules=modules).eval()
    mosaic = torch.rand(2, 1, 16, 24, generator=torch.Generator().manual_seed(2))
    x = pack_bayer(mosaic, "GRBG") if channels == 4 else torch.rand(2, 3, 16, 24)
    with torch.no_grad():
        y = model(x)
    assert y.shape == ((2, 3, 8, 12) if channels == 4 else (2, 3, 16, 24))
    assert torch.isfinite(y).all() and y.min() >= 0 and y.max() <= 1
    if modules and channels == 3:
        assert y.min() >= 1e-6


def test_submodules_alone():
    x = torch.rand(2, 3, 9, 11) * 0.3
    torch.manual_seed(0)
    glc, hsa = GlobalLuminanceCalibration(3), HierarchicalSpatialAttention(3)
    rgfm = RegionGuidedFeatureModulation(3, weight_range=(2.0, 4.0)).eval()
    with torch.no_grad():
        assert (glc.gains(x) >= 1).all() and (glc(x) >= x - 1e-7).all()  # gains >= 1: only brightens
        a = hsa.attention(x)
        assert a.shape == (2, 1, 9, 11) and (a >= 0).all() and (a <= 1).all()
        assert (hsa(x) <= x.clamp(min=1e-6) + 1e-7).all()  # attention only darkens
        y = rgfm(x)
        assert (y >= x.clamp(min=1e-6) - 1e-7).all()  # x ** (1/w) >= x for w >= 1
        # 2 <= w_k <= 4 for every region and x < 1: x ** (1/2) <= y <= x ** (1/4) (a convex mix of the curves)
        xc = x.clamp(min=1e-6)
        assert (y >= xc.sqrt() - 1e-6).all() and (y <= xc.pow(0.25) + 1e-6).all()


def test_to_rgb_initialisation_is_r_mean_green_b():
    model = TAISP(in_channels=4, modules="none")
    assert model.param_count_by_module() == {"to_rgb": 15, "total": 15}
    packed = torch.rand(1, 4, 5, 6) * 1.2 - 0.1  # partly out of range: clamped first
    p = packed.clamp(0, 1)
    expected = torch.stack([p[:, 0], (p[:, 1] + p[:, 2]) / 2, p[:, 3]], 1)
    torch.testing.assert_close(model(packed), expected)


def _assert_finite_grads(model, x):
    x = x.clone().requires_grad_(True)
    y = model(x)
    assert torch.isfinite(y).all()
    (y * torch.linspace(0.5, 1.5, y.numel()).view_as(y)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("fill", ["zero", "one", "outside", "floor", "random"])
def test_gradients_are_finite(channels, train, fill):
    model = _model(4, in_channels=channels, weight_range=(5.0, 9.0)).train(train)  # ROD's range: steepest power
    shape = (2, channels, 8, 10)
    x = {"zero": torch.zeros(shape), "one": torch.ones(shape), "floor": torch.full(shape, 2e-6),
         "outside": torch.rand(shape) * 1.04 - 0.02, "random": torch.rand(shape)}[fill]
    _assert_finite_grads(model, x)


def test_gradient_of_the_power_near_the_floor_is_large_but_finite():
    rgfm = RegionGuidedFeatureModulation(3, weight_range=(9.0, 9.0)).eval()  # w = 9 everywhere
    x = torch.full((1, 3, 4, 4), 2e-6, requires_grad=True)
    rgfm(x).sum().backward()
    expected = (1 / 9) * 2e-6 ** (1 / 9 - 1)  # d x^(1/w) / dx, ~1.2e4
    torch.testing.assert_close(x.grad, torch.full_like(x, expected), rtol=1e-4, atol=0)


@pytest.mark.parametrize("channels", [3, 4])
def test_ablation_switches_remove_modules(channels):
    full = TAISP(in_channels=channels).param_count_by_module()
    chain = [(), ("glc",), ("glc", "hsa"), ALL]
    x = torch.rand(1, channels, 12, 12, generator=torch.Generator().manual_seed(5)) * 0.5
    outputs, totals = [], []
    for modules in chain:
        model = _model(6, in_channels=channels, modules=modules).eval()
        counts = model.param_count_by_module()
        assert set(k for k in counts if "." not in k and k != "total") == set(modules) | (
            {"to_rgb"} if channels == 4 else set())
        totals.append(counts["total"])
        with torch.no_grad():
            outputs.append(model(x))
    assert totals[-1] == full["total"]
    for i, name in enumerate(["glc", "hsa", "rgfm"]):
        assert totals[i + 1] - totals[i] == full[name]  # exactly that module's parameters
        assert (outputs[i + 1] - outputs[i]).abs().max() > 1e-3  # and the output changes
    assert TAISP(modules="none").param_count_by_module() == {"total": 0}
    assert TAISP(modules=["rgfm", "glc"]).modules_on == ("glc", "rgfm")  # always the paper's order


def test_bad_channel_counts_and_arguments():
    with pytest.raises(ValueError) as e:
        TAISP(in_channels=5)
    assert str(e.value) == "TA-ISP expects 3 (demosaiced RAW) or 4 (packed RAW) input channels, got 5"
    model = TAISP()
    for bad in (torch.rand(1, 4, 8, 8), torch.rand(3, 8, 8), torch.zeros(1, 3, 8, 8, dtype=torch.int64)):
        with pytest.raises(ValueError) as e:
            model(bad)
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="built for 4 input channels, got 3"):
        TAISP(in_channels=4)(torch.rand(1, 3, 8, 8))
    for kw in ({"modules": ("glc", "awb")}, {"modules": ("glc", "glc")}, {"kernel_sizes": (3, 4)},
               {"weight_range": (0.0, 3.0)}, {"weight_range": (3.0, 1.0)}, {"tau": 0}, {"num_masks": 0},
               {"out_channels": 4}):
        with pytest.raises(ValueError) as e:
            TAISP(**kw)
        assert "\n" not in str(e.value)


def test_batch_independence_in_eval():
    model = _model(7).eval()
    x = torch.rand(3, 3, 12, 12, generator=torch.Generator().manual_seed(8))
    other = torch.rand(2, 3, 12, 12) * 0.1
    with torch.no_grad():
        alone = model(x[1:2])
        torch.testing.assert_close(model(x)[1:2], alone, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(model(torch.cat([other[:1], x[1:2], other[1:]]))[1:2], alone, rtol=1e-6,
                                   atol=1e-7)


@pytest.mark.parametrize("channels", [3, 4])
def test_gradcheck_float64(channels):
    model = _model(9, in_channels=channels).double().eval()
    # inside (0, 1) and away from the clamps (gains ~1.7 keep x * gain < 1), distinct values: no ties in max
    x = (0.05 + 0.3 * torch.rand(1, channels, 4, 5, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(model, (x,), eps=1e-6, atol=1e-5, rtol=1e-4, fast_mode=True)
