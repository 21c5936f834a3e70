"""The RAW core: files, CFA and packing, noise models, demosaicing, unprocessing and the classical ISP.

Pipeline names follow the field: a Bayer ``pattern`` ("RGGB", ...), black and white levels, white-balance gains,
the camera <-> XYZ colour matrix and the CCM, packed RAW, exposure ratio.
"""

from rawvision.raw.cfa import BAYER_PATTERNS, cfa_masks, check_pattern, mosaic, shift_pattern
from rawvision.raw.demosaic import DEMOSAIC_METHODS, demosaic, demosaic_bilinear, demosaic_malvar
from rawvision.raw.files import RawFileError, RawImage, read_raw, write_dng
from rawvision.raw.isp import ClassicalISP, cam_to_srgb_from_xyz, process, render_file
from rawvision.raw.noise import (
    add_gaussian_noise,
    add_poisson_gaussian_noise,
    add_shot_read_noise,
    random_noise_levels,
    simulate_short_exposure,
)
from rawvision.raw.normalize import CFAStatistics, cfa_site_statistics
from rawvision.raw.pack import PACKED_CHANNELS, pack_bayer, unpack_bayer
from rawvision.raw.render import render_libraw
from rawvision.raw.simulate import RawSimulation, RawSimulator, SimulatedRaw, capture, simulate_raw
from rawvision.raw.tiling import demosaic_tiled, map_tiles, simulate_raw_tiled
from rawvision.raw.unprocess import UnprocessParams, sample_unprocess_params, unprocess

__all__ = [
    "BAYER_PATTERNS",
    "CFAStatistics",
    "DEMOSAIC_METHODS",
    "ClassicalISP",
    "PACKED_CHANNELS",
    "RawFileError",
    "RawImage",
    "RawSimulation",
    "RawSimulator",
    "SimulatedRaw",
    "UnprocessParams",
    "add_gaussian_noise",
    "add_poisson_gaussian_noise",
    "add_shot_read_noise",
    "cam_to_srgb_from_xyz",
    "capture",
    "cfa_masks",
    "cfa_site_statistics",
    "check_pattern",
    "demosaic",
    "demosaic_bilinear",
    "demosaic_malvar",
    "demosaic_tiled",
    "map_tiles",
    "mosaic",
    "pack_bayer",
    "process",
    "random_noise_levels",
    "read_raw",
    "render_file",
    "render_libraw",
    "sample_unprocess_params",
    "shift_pattern",
    "simulate_raw",
    "simulate_raw_tiled",
    "simulate_short_exposure",
    "unpack_bayer",
    "unprocess",
    "write_dng",
]
