"""The one RAW-simulation entry point: ``RawSimulation`` + ``simulate_raw`` / ``capture`` (and ``RawSimulator``).

Bit-identity with what each pipeline computed before it called ``simulate_raw``: the distillation ``RawSimulator``
(mosaic + Gaussian noise), the detection RAW (``simulate_detection_raw``: unprocess + shot/read noise, or a dark
8x short exposure, then a bilinear demosaic) and the RAW/RGB pair datamodule's short exposure of a real RAW.
"""

import dataclasses

import pytest
import torch

import rawvision  # noqa: F401
from rawvision.raw import (
    BAYER_PATTERNS,
    RawSimulation,
    RawSimulator,
    SimulatedRaw,
    UnprocessParams,
    add_gaussian_noise,
    add_shot_read_noise,
    capture,
    demosaic_bilinear,
    mosaic,
    random_noise_levels,
    simulate_raw,
    simulate_short_exposure,
    unprocess,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _gen(seed: int, device="cpu") -> torch.Generator:
    return torch.Generator(device).manual_seed(seed)


def _rgb(b=2, h=16, w=20, seed=0, dtype=torch.float32, device="cpu") -> torch.Tensor:
    return torch.rand(b, 3, h, w, generator=_gen(seed), dtype=dtype).to(device)


def _detection_sim(pattern: str, low_light: bool) -> RawSimulation:
    return RawSimulation(pattern, unprocess=True, noise="shot-read", clip=True, exposure_ratio=8 if low_light else 1,
                         brighten=False, bit_depth=10)


def _detection_before(rgb_uint8, pattern, low_light, generator):
    """What ``data.paste_objects.simulate_detection_raw`` computed (commit b909248), from the building blocks."""
    x = rgb_uint8.float() / 255.0
    raw, _ = unprocess(x, pattern, generator=generator)
    shot, read = random_noise_levels(x.shape[0], generator, device=x.device, dtype=x.dtype)
    if low_light:
        mos = simulate_short_exposure(raw, 8.0, shot, read, bit_depth=10, generator=generator, brighten=False)
    else:
        mos = add_shot_read_noise(raw, shot, read, generator, clip=True)
    return mos, demosaic_bilinear(mos, pattern).clamp(0.0, 1.0)


# ------------------------------------------------------------------------------------------- bit-identity


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
@pytest.mark.parametrize("sigma,clip", [(0.1, False), (0.1, True), (0.0, False), (0.0, True), (0.03, False)])
def test_raw_simulator_is_mosaic_plus_gaussian_noise_bit_for_bit(pattern, sigma, clip):
    rgb = _rgb()
    before = add_gaussian_noise(mosaic(rgb, pattern), sigma, generator=_gen(3), clip=clip)  # RawSimulator before
    out = simulate_raw(rgb, RawSimulation(pattern, sigma=sigma, clip=clip), _gen(3))
    assert torch.equal(out.raw, before)
    assert torch.equal(RawSimulator(pattern, sigma, clip)(rgb, _gen(3)), before)
    assert out.unprocess_params is None and out.shot is None and out.read is None


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
@pytest.mark.parametrize("low_light", [False, True])
def test_detection_raw_bit_for_bit(pattern, low_light):
    img = torch.randint(0, 256, (3, 3, 16, 20), dtype=torch.uint8, generator=_gen(1))
    mos, raw3 = _detection_before(img, pattern, low_light, _gen(4))
    out = simulate_raw(img.float() / 255, _detection_sim(pattern, low_light), _gen(4))
    assert torch.equal(out.raw, mos)
    assert torch.equal(demosaic_bilinear(out.raw, pattern), raw3)  # in [0, 1] already: the clamp changes nothing


def test_detection_raw_fixed_behaviour():
    """What the detection RAW is, independently of any reference implementation."""
    img = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=_gen(0))
    rgb = img.float() / 255
    normal = simulate_raw(rgb, _detection_sim("RGGB", False), _gen(5))
    low = simulate_raw(rgb, _detection_sim("RGGB", True), _gen(5))
    for out in (normal, low):
        assert out.raw.shape == (4, 1, 32, 32) and out.raw.dtype == torch.float32
        assert 0 <= float(out.raw.min()) and float(out.raw.max()) <= 1
        assert isinstance(out.unprocess_params, UnprocessParams) and out.shot.shape == out.read.shape == (4,)
    # same generator state: same camera and noise levels for the two lights
    assert torch.equal(normal.unprocess_params.wb_gains, low.unprocess_params.wb_gains)
    assert torch.equal(normal.shot, low.shot) and torch.equal(normal.read, low.read)
    # low light: a dark frame (about 1/8 of the light), on the 10-bit ADC grid; normal light: not quantised
    ratio = float(low.raw.mean() / normal.raw.mean())
    assert 0.09 < ratio < 0.16, ratio
    levels = low.raw.double() * 1023
    assert torch.allclose(levels, levels.round(), atol=1e-3)
    n_levels = normal.raw.double() * 1023
    assert not torch.allclose(n_levels, n_levels.round(), atol=1e-3)
    clean, _ = unprocess(rgb, "RGGB", generator=_gen(5))
    assert float((normal.raw - clean).abs().mean()) < 0.05  # shot/read noise, mean preserved up to the clip
    assert abs(float(normal.raw.mean() - clean.mean())) < 0.01
    rgb3 = demosaic_bilinear(low.raw, "RGGB")
    assert rgb3.shape == (4, 3, 32, 32) and 0 <= float(rgb3.min()) and float(rgb3.max()) <= 1


@pytest.mark.parametrize("k,bits", [(8.0, 10), (4.0, 12), (2.5, None)])
def test_capture_is_the_pair_datamodule_training_draw(k, bits):
    raw = torch.rand(3, 1, 10, 12, generator=_gen(0))
    g = _gen(7)
    shot, read = random_noise_levels(3, generator=g, device=raw.device)
    before = simulate_short_exposure(raw, k, shot, read, bit_depth=bits, generator=g)
    out = capture(raw, RawSimulation(noise="shot-read", exposure_ratio=k, bit_depth=bits), _gen(7))
    assert torch.equal(out.raw, before) and torch.equal(out.shot, shot) and torch.equal(out.read, read)
    assert out.unprocess_params is None
    # the global RNG (training without a generator): the same draws
    torch.manual_seed(123)
    shot, read = random_noise_levels(3, device=raw.device)
    before = simulate_short_exposure(raw, k, shot, read, bit_depth=bits)
    torch.manual_seed(123)
    assert torch.equal(capture(raw, RawSimulation(noise="shot-read", exposure_ratio=k, bit_depth=bits)).raw, before)


def test_simulate_raw_is_mosaic_stage_then_capture():
    rgb = _rgb()
    sim = RawSimulation("BGGR", unprocess=True, noise="shot-read", exposure_ratio=4, clip=True)
    out = simulate_raw(rgb, sim, _gen(1))
    g = _gen(1)
    clean, params = unprocess(rgb, "BGGR", generator=g)  # draw order: camera, then levels and noise
    ref = capture(clean, sim, g)
    assert torch.equal(out.raw, ref.raw) and torch.equal(out.shot, ref.shot)
    assert torch.equal(out.unprocess_params.cam2rgb, params.cam2rgb)
    assert out.sim is sim


# ------------------------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
@pytest.mark.parametrize(
    "kw",
    [{}, {"unprocess": True}, {"noise": "none"}, {"noise": "shot-read"},
     {"unprocess": True, "noise": "shot-read", "exposure_ratio": 8, "brighten": False}],
)
def test_shapes_dtypes_for_every_pattern(pattern, kw):
    for dtype in (torch.float32, torch.float64):
        rgb = _rgb(b=3, h=6, w=10, dtype=dtype)
        out = simulate_raw(rgb, RawSimulation(pattern, **kw), _gen(0))
        assert isinstance(out, SimulatedRaw)
        assert out.raw.shape == (3, 1, 6, 10) and out.raw.dtype == dtype and torch.isfinite(out.raw).all()
        if out.shot is not None:
            assert out.shot.shape == (3,) and out.shot.dtype == dtype
        if kw.get("unprocess"):
            assert out.unprocess_params.batch_size == 3 and out.unprocess_params.cam2rgb.dtype == dtype


def test_noise_none_is_the_clean_mosaic():
    rgb = _rgb()
    for p in BAYER_PATTERNS:
        assert torch.equal(simulate_raw(rgb, RawSimulation(p, noise="none")).raw, mosaic(rgb, p))
    wide = rgb * 3 - 1
    assert torch.equal(simulate_raw(wide, RawSimulation(noise="none", clip=True)).raw, mosaic(wide).clamp(0, 1))


def test_generator_reproducibility_and_per_sample_parameters():
    rgb = _rgb(b=4)
    sim = RawSimulation("GRBG", unprocess=True, noise="shot-read")
    a, b = simulate_raw(rgb, sim, _gen(0)), simulate_raw(rgb, sim, _gen(0))
    assert torch.equal(a.raw, b.raw) and torch.equal(a.shot, b.shot)
    assert torch.equal(a.unprocess_params.rgb2cam, b.unprocess_params.rgb2cam)
    c = simulate_raw(rgb, sim, _gen(1))
    assert not torch.equal(a.raw, c.raw) and not torch.equal(a.shot, c.shot)
    assert len(set(a.shot.tolist())) == 4 and len(set(a.unprocess_params.red_gain.tolist())) == 4  # one per sample


def test_short_exposure_ranges():
    raw = torch.rand(4, 1, 16, 16, generator=_gen(0))
    k = 4.0
    bright = capture(raw, RawSimulation(noise="shot-read", exposure_ratio=k), _gen(1)).raw
    dark = capture(raw, RawSimulation(noise="shot-read", exposure_ratio=k, brighten=False), _gen(1)).raw
    clipped = capture(raw, RawSimulation(noise="shot-read", exposure_ratio=k, clip=True), _gen(1)).raw
    assert torch.allclose(bright, dark * k)  # the same capture, times k
    assert 0 <= float(bright.min()) and float(bright.max()) <= k
    assert 0 <= float(dark.min()) and float(dark.max()) <= 1 and float(dark.mean()) < 0.2
    assert torch.equal(clipped, bright.clamp(0, 1))
    assert abs(float(bright.mean() - raw.mean())) < 0.02  # brightened: the long exposure's mean
    levels = dark.double() * 1023
    assert torch.allclose(levels, levels.round(), atol=1e-3)  # the default 10-bit ADC
    none = capture(raw, RawSimulation(noise="shot-read", exposure_ratio=k, bit_depth=None, brighten=False), _gen(1))
    assert not torch.allclose(none.raw.double() * 1023, (none.raw.double() * 1023).round(), atol=1e-3)


def test_normal_exposure_is_not_quantised():
    raw = torch.rand(2, 1, 8, 8, generator=_gen(0))
    out = capture(raw, RawSimulation(noise="shot-read", bit_depth=12), _gen(2))
    g = _gen(2)
    shot, read = random_noise_levels(2, g)
    assert torch.equal(out.raw, add_shot_read_noise(raw, shot, read, g))


def test_differentiable_in_rgb():
    rgb = _rgb(b=1, h=8, w=8).requires_grad_(True)
    out = simulate_raw(rgb, RawSimulation(unprocess=True, noise="shot-read", exposure_ratio=4), _gen(0))
    out.raw.sum().backward()
    assert rgb.grad is not None and torch.isfinite(rgb.grad).all() and rgb.grad.abs().sum() > 0


@pytest.mark.parametrize("device", DEVICES)
def test_device_follows_the_input(device):
    rgb = _rgb(device=device)
    for sim in (RawSimulation(), RawSimulation(unprocess=True, noise="shot-read", exposure_ratio=8, brighten=False)):
        out = simulate_raw(rgb, sim, _gen(0, device))
        assert out.raw.device.type == device and out.raw.shape == (2, 1, 16, 20)
        if out.shot is not None:
            assert out.shot.device.type == device and out.unprocess_params.cam2rgb.device.type == device
    out = simulate_raw(rgb, RawSimulation(noise="none"))  # no generator: the global RNG, any device
    assert out.raw.device.type == device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_without_noise_matches_cpu():
    rgb = _rgb()
    sim = RawSimulation(unprocess=True, noise="none")
    cpu = simulate_raw(rgb.double(), sim, _gen(0))
    gpu = simulate_raw(rgb.double().cuda(), sim, _gen(0))  # camera drawn on the CPU generator, moved to CUDA
    assert gpu.raw.is_cuda and torch.equal(gpu.unprocess_params.rgb2cam.cpu(), cpu.unprocess_params.rgb2cam)
    torch.testing.assert_close(gpu.raw.cpu(), cpu.raw, rtol=0, atol=1e-9)


# ------------------------------------------------------------------------------------------- settings


def test_settings_defaults_dict_and_frozen():
    sim = RawSimulation()
    assert sim.to_dict() == {"pattern": "RGGB", "unprocess": False, "noise": "gaussian", "sigma": 0.1,
                             "clip": False, "exposure_ratio": 1.0, "brighten": True, "bit_depth": 10}
    other = RawSimulation("bggr", unprocess=True, noise="shot-read", exposure_ratio=8, bit_depth=None, clip=True)
    assert other.pattern == "BGGR" and other.exposure_ratio == 8.0 and other.short_exposure
    assert RawSimulation(**other.to_dict()) == other == RawSimulation.from_dict(other.to_dict())
    assert hash(other) == hash(RawSimulation.from_dict(other.to_dict()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        sim.sigma = 0.2
    with pytest.raises(ValueError, match="unknown field"):
        RawSimulation.from_dict({"pattern": "RGGB", "gain": 2})


@pytest.mark.parametrize(
    "kw,field,expected",
    [
        ({"pattern": "RGBG"}, "pattern", "RGGB, BGGR, GRBG, GBRG"),
        ({"unprocess": "yes"}, "unprocess", "True or False"),
        ({"clip": 1}, "clip", "True or False"),
        ({"brighten": None}, "brighten", "True or False"),
        ({"noise": "poisson"}, "noise", "none, gaussian, shot-read"),
        ({"sigma": -0.1}, "sigma", ">= 0"),
        ({"sigma": float("nan")}, "sigma", ">= 0"),
        ({"sigma": "big"}, "sigma", ""),
        ({"exposure_ratio": 0.5, "noise": "shot-read"}, "exposure_ratio", ">= 1"),
        ({"exposure_ratio": float("inf"), "noise": "shot-read"}, "exposure_ratio", ">= 1"),
        ({"exposure_ratio": "x"}, "exposure_ratio", ">= 1"),
        ({"exposure_ratio": 8}, "noise", "'shot-read' for a short exposure"),
        ({"exposure_ratio": 8, "noise": "none"}, "noise", "'shot-read'"),
        ({"bit_depth": 0}, "bit_depth", "1..24"),
        ({"bit_depth": 25}, "bit_depth", "1..24"),
        ({"bit_depth": 10.0}, "bit_depth", "1..24"),
        ({"bit_depth": True}, "bit_depth", "1..24"),
    ],
)
def test_settings_validation_is_one_line_naming_the_field(kw, field, expected):
    with pytest.raises(ValueError) as e:
        RawSimulation(**kw)
    msg = str(e.value)
    assert "\n" not in msg and f"RawSimulation.{field}" in msg and expected in msg, msg


def test_input_validation():
    sim = RawSimulation()
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        simulate_raw(torch.rand(1, 1, 8, 8), sim)
    with pytest.raises(ValueError, match="floating-point"):
        simulate_raw(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), sim)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        capture(torch.rand(1, 3, 8, 8), sim)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        capture(torch.rand(8, 8), sim)
    with pytest.raises(ValueError, match="must be a RawSimulation"):
        simulate_raw(torch.rand(1, 3, 8, 8), {"pattern": "RGGB"})


def test_raw_simulator_module():
    sim = RawSimulator("gbrg", sigma=0.05, clip=True)
    assert sim.pattern == "GBRG" and sim.sigma == 0.05 and sim.clip is True
    assert sim.sim == RawSimulation("GBRG", sigma=0.05, clip=True)
    assert "pattern='GBRG'" in repr(sim) and list(sim.parameters()) == []
    with pytest.raises(ValueError, match="unknown CFA pattern"):
        RawSimulator("RGBG")
