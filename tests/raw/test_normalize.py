import pytest
import torch

from rawvision.models import RawInputAdapter
from rawvision.raw import BAYER_PATTERNS, CFAStatistics, cfa_masks, cfa_site_statistics, mosaic


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_statistics_per_cfa_site(pattern):
    g = torch.Generator().manual_seed(0)
    # each colour drawn from its own distribution, so the three site statistics differ
    rgb = torch.stack([torch.rand(2, 16, 16, generator=g) * s + o for s, o in [(1, 0), (2, 5), (0.5, -3)]], 1)
    raw = mosaic(rgb, pattern)
    mean, std = cfa_site_statistics(raw, pattern)
    m = cfa_masks(pattern, 16, 16).bool()
    for c in range(3):
        vals = raw[:, 0][:, m[c]]
        torch.testing.assert_close(mean[c], vals.mean())
        torch.testing.assert_close(std[c], vals.std(unbiased=False))


def test_streaming_equals_one_shot():
    raw = torch.rand(6, 1, 8, 8)
    s = CFAStatistics("RGGB")
    s.update(raw[:2])
    s.update(raw[2:])
    for a, b in zip(s.compute(), cfa_site_statistics(raw)):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="empty"):
        CFAStatistics().compute()


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
def test_adapter_standardises_each_site(pattern):
    g = torch.Generator().manual_seed(1)
    raw = mosaic(torch.rand(4, 3, 32, 32, generator=g) * torch.tensor([0.3, 0.8, 0.5]).view(1, 3, 1, 1), pattern)
    adapter = RawInputAdapter(pattern)
    adapter.set_statistics(*cfa_site_statistics(raw, pattern))
    out = adapter(raw)
    m = cfa_masks(pattern, 32, 32).bool()
    for c in range(3):  # at the sites that record colour c, channel c is the standardised RAW
        vals = out[:, c][:, m[c]]
        assert abs(vals.mean().item()) < 1e-5 and abs(vals.std(unbiased=False).item() - 1) < 1e-4
    # the target affine map moves it to the requested distribution
    adapter2 = RawInputAdapter(pattern, target_mean=[1, 2, 3], target_std=[2, 2, 2])
    adapter2.set_statistics(*cfa_site_statistics(raw, pattern))
    torch.testing.assert_close(adapter2(raw), out * 2 + torch.tensor([1.0, 2, 3]).view(1, 3, 1, 1))
    assert {"mean", "std"} <= set(adapter.state_dict())  # saved in checkpoints
    with pytest.raises(ValueError, match="std must be > 0"):
        adapter.set_statistics(torch.zeros(3), torch.zeros(3))
