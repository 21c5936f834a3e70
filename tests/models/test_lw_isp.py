"""LW-ISP (Chen & Ma, BMVC 2022): parameter counts, shapes, ablation switches, distillation pairs, tiling, errors."""

import pytest
import torch

import rawvision  # noqa: F401  (torchvision op schemas)
from rawvision.models.lw_isp import (
    LW_ISP_PARAMS,
    LW_ISP_VARIANTS,
    LWISP,
    LWISPFrontEnd,
    lw_isp,
    lw_isp_teacher,
    lw_isp_tiled,
)
from rawvision.raw.cfa import mosaic
from rawvision.raw.pack import pack_bayer


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_parameter_count_is_the_stated_one():
    # widths 16-32-64-128-256, FGAM on 4 levels, global vector, 3 CCBs + x2 up-layer: about 2.0 M (paper 2,014,681)
    assert n_params(lw_isp()) == LW_ISP_PARAMS == 2_011_327
    assert abs(LW_ISP_PARAMS - 2_014_681) / 2_014_681 < 0.002


def test_ablation_switches_remove_their_parameters():
    counts = {v: n_params(lw_isp(v)) for v in LW_ISP_VARIANTS}
    assert counts == {"lw-isp": 2_011_327, "no-fgam": 1_613_737, "no-ccb": 2_009_193, "backbone": 1_611_603}
    no_fgam, no_ccb = lw_isp("no-fgam"), lw_isp("no-ccb")
    assert no_fgam.attn is None and not any("attn" in n for n, _ in no_fgam.named_parameters())
    assert no_ccb.complement is None and not any("complement" in n for n, _ in no_ccb.named_parameters())
    assert n_params(lw_isp_teacher()) == 1_999_583  # no x2 up-layer, 3 input channels


def test_ablation_switches_change_the_output():
    x = torch.rand(1, 4, 32, 32, generator=torch.Generator().manual_seed(0))
    full = lw_isp()
    outs = {}
    for v in LW_ISP_VARIANTS:
        torch.manual_seed(1)
        m = lw_isp(v).eval()
        # same weights wherever the layers exist, so a difference comes from the removed part itself
        m.load_state_dict({k: t for k, t in full.state_dict().items() if k in m.state_dict()
                           and m.state_dict()[k].shape == t.shape}, strict=False)
        with torch.no_grad():
            outs[v] = m(x)
    # a shared up-layer applied to the encoder feature (CCB) and FGAM both change what comes out
    # (float32 rounding is ~1e-7; at initialisation the attention gates are near 0.5, so changes are small)
    assert (outs["lw-isp"] - outs["no-ccb"]).abs().max() > 1e-6
    assert (outs["lw-isp"] - outs["no-fgam"]).abs().max() > 1e-6


@pytest.mark.parametrize("pattern", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_front_end_shapes_for_every_pattern(pattern):
    fe = LWISPFrontEnd(pattern).eval()
    rgb = torch.rand(2, 3, 40, 56, generator=torch.Generator().manual_seed(2))
    raw = mosaic(rgb, pattern)
    with torch.no_grad():
        out = fe(raw)
    assert out.shape == (2, 3, 40, 56) and out.dtype == torch.float32
    assert float(out.min()) > 0 and float(out.max()) < 1
    # the front end reads the mosaic in R, Gr, Gb, B order whatever the pattern: packing is the only difference
    with torch.no_grad():
        assert torch.allclose(out, fe.isp(pack_bayer(raw, pattern)))


def test_any_even_size_is_padded_and_cropped():
    m = lw_isp().eval()
    with torch.no_grad():
        assert m(torch.rand(1, 4, 13, 27)).shape == (1, 3, 26, 54)
        assert lw_isp_teacher().eval()(torch.rand(1, 3, 20, 36)).shape == (1, 3, 20, 36)


def test_distillation_feature_pairs_match_in_resolution():
    s, t = lw_isp().eval(), lw_isp_teacher().eval()
    raw = torch.rand(2, 4, 32, 32)  # packed planes of a 64x64 mosaic
    rgb = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        s_out, s_feats = s.distillation_features(raw)
        t_out, t_feats = t.distillation_features(rgb)
    assert s_out.shape == t_out.shape == (2, 3, 64, 64)
    assert len(s_feats) == len(t_feats) == 3
    for fs, ft, cs, ct in zip(s_feats, t_feats, s.feature_channels(), t.feature_channels()):
        assert fs.shape[-2:] == ft.shape[-2:]
        assert fs.shape[1] == cs and ft.shape[1] == ct
    assert [f.shape[-1] for f in s_feats] == [16, 32, 64]


def test_distillation_adapters_make_the_shapes_equal():
    from rawvision.tasks.isp.module import feature_adapters

    s, t = lw_isp(), lw_isp_teacher()
    adapters = feature_adapters(s, t)
    _, s_feats = s.distillation_features(torch.rand(1, 4, 32, 32))
    _, t_feats = t.distillation_features(torch.rand(1, 3, 64, 64))
    for a, fs, ft in zip(adapters, s_feats, t_feats):
        assert a(fs).shape == ft.shape


@pytest.mark.parametrize("halo", [192, 96])
def test_tiled_equals_whole_frame(halo):
    torch.manual_seed(0)
    m = lw_isp().eval()
    x = torch.rand(1, 4, 72, 104, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        whole = m(x)
    tiled = lw_isp_tiled(m, x, tile=32, halo=halo)
    assert tiled.shape == whole.shape == (1, 3, 144, 208)
    assert (tiled - whole).abs().max() < 1e-5


def test_tiled_differs_without_global_statistics():
    """The multi-pass measurement is what makes tiles agree: tiles that use their own means differ."""
    torch.manual_seed(0)
    m = lw_isp().eval()
    x = torch.rand(1, 4, 64, 64)
    x[..., :32, :] *= 0.1  # a dark half: tile means differ from the frame's
    with torch.no_grad():
        whole = m(x)
        local = m(x[..., :32, :])
    assert (local - whole[..., :64, :]).abs().max() > 1e-4


def test_bad_input_one_line_errors():
    fe = LWISPFrontEnd("RGGB")
    with pytest.raises(ValueError, match=r"even H and W") as e:
        fe(torch.rand(1, 1, 31, 32))
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        fe(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r"\(B, 4, h, w\), got \(1, 3, 16, 16\)") as e:
        lw_isp()(torch.rand(1, 3, 16, 16))
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="unknown LW-ISP variant"):
        lw_isp("tiny")
    with pytest.raises(ValueError, match="multiples of 16"):
        lw_isp_tiled(lw_isp().eval(), torch.rand(1, 4, 32, 32), tile=30)
    with pytest.raises(ValueError, match="one frame"):
        lw_isp_tiled(lw_isp().eval(), torch.rand(2, 4, 32, 32))
    with pytest.raises(ValueError, match="unknown Bayer pattern|pattern"):
        LWISPFrontEnd("RGBG")


def test_gradients_reach_every_parameter():
    m = lw_isp()
    m(torch.rand(2, 4, 32, 32)).mean().backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None]
    assert not missing
