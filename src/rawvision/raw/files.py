"""Camera RAW files: read any Bayer RAW file LibRaw reads (DNG, CRW, KDC, ...) and write CFA DNG files.

Reading goes through rawpy (LibRaw). A :class:`RawImage` keeps the sensor values unchanged (uint16, LibRaw's
``raw_image_visible`` or ``raw_image``) with what is needed to interpret them: the Bayer pattern of the array's
top-left 2x2 block, the black level per CFA site, the white level, the as-shot white-balance gains and the
XYZ -> camera colour matrix. Writing produces an uncompressed DNG 1.4 CFA file with tifffile, the recipe of the
shared tiles (``../shared/data/raw/tiles``).

Sources: Adobe, *Digital Negative (DNG) Specification* 1.4.0.0 (2012): Chapter 4 (tags: CFAPattern, BlackLevel,
WhiteLevel, ColorMatrix1, AsShotNeutral, ActiveArea) and Chapter 6 ("Mapping Camera Color Space to CIE XYZ Space":
XYZ -> camera = AnalogBalance * CameraCalibration * ColorMatrix); LibRaw 0.22 / rawpy 0.28 documentation (colour
indices 0 = R, 1 = G, 2 = B, 3 = second G; ``raw_pattern`` is relative to the full ``raw_image`` origin); Canon CIFF
specification 1.0r4 (heap / record layout, record 0x080A = make and model).
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from rawvision.raw.cfa import BAYER_PATTERNS, check_pattern, shift_pattern

__all__ = ["RawFileError", "RawImage", "read_raw", "write_dng"]

_DNG_D65 = 21  # CalibrationIlluminant code of D65 (DNG 1.4, EXIF LightSource table)
_CFA_CODE = {"R": 0, "G": 1, "B": 2}  # DNG CFAPattern / CFAPlaneColor colour codes


class RawFileError(ValueError):
    """A RAW file cannot be read (missing, not RAW, truncated, not a Bayer sensor) or written; one-line message."""


def _one_line(text: object) -> str:
    if isinstance(text, BaseException) and len(text.args) == 1:
        text = text.args[0]  # rawpy's LibRaw errors carry a bytes message
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split())


def _site_black(black_level, what: str = "black_level") -> np.ndarray:
    """A black level given as a scalar, 4 values (sites row by row) or (2, 2) -> (2, 2) float32."""
    b = np.asarray(black_level, dtype=np.float64)
    if b.ndim == 0:
        b = np.full((2, 2), float(b))
    elif b.size == 4:
        b = b.reshape(2, 2)
    else:
        raise ValueError(f"{what} must be a number, 4 values or a (2, 2) array per CFA site, got shape {b.shape}")
    if not np.all(np.isfinite(b)) or np.any(b < 0):
        raise ValueError(f"{what} must be finite and >= 0, got {b.ravel().tolist()}")
    return b.astype(np.float32)


@dataclass
class RawImage:
    """A Bayer RAW frame: sensor values and what is needed to interpret them.

    Attributes:
        cfa: (H, W) uint16 sensor values (digital numbers, DN), unchanged: LibRaw's ``raw_image_visible``
            (``read_raw(visible=True)``) or ``raw_image`` (with masked borders, ``visible=False``). For a DNG with a
            LinearizationTable the values are after linearisation (as LibRaw gives them).
        pattern: Bayer pattern of ``cfa[:2, :2]`` read row by row: RGGB, BGGR, GRBG or GBRG.
        black_level: (2, 2) float32 black level in DN of each CFA site position: ``black_level[y % 2, x % 2]`` is
            the black of ``cfa[y, x]``.
        white_level: saturation level in DN (e.g. 1023 for a 10-bit sensor).
        wb_gains: (3,) float64 as-shot white-balance gains R, G, B normalised to G = 1 (multiply the camera RGB by
            them), or None when the file has none.
        xyz_to_cam: (3, 3) float64 matrix M with camera RGB = M @ XYZ (CIE XYZ, D65 calibration; dcraw's
            ``cam_xyz``, Adobe's ColorMatrix units: camera RGB is black-subtracted, white-normalised and before white
            balance), or None when unknown.
        make, model: camera make and model strings, or None when the file does not say.
        iso: ISO speed, or None. exposure_time: exposure time in seconds, or None.
        path: the file read, or None.

    Example:
        >>> img = RawImage(np.array([[64, 544], [544, 1023]], np.uint16), "RGGB", black_level=64, white_level=1023)
        >>> img.bit_depth, img.black_level.tolist()
        (10, [[64.0, 64.0], [64.0, 64.0]])
        >>> img.to_tensor()  # (1, 1, H, W) float32, 0 = black, 1 = white level
        tensor([[[[0.0000, 0.5005],
                  [0.5005, 1.0000]]]])
    """

    cfa: np.ndarray
    pattern: str
    black_level: np.ndarray
    white_level: float
    wb_gains: np.ndarray | None = None
    xyz_to_cam: np.ndarray | None = None
    make: str | None = None
    model: str | None = None
    iso: float | None = None
    exposure_time: float | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        self.pattern = check_pattern(self.pattern)
        if not isinstance(self.cfa, np.ndarray) or self.cfa.ndim != 2:
            got = getattr(self.cfa, "shape", type(self.cfa))
            raise ValueError(f"{self._name()}: cfa must be a 2-D (H, W) numpy array, got {got}")
        self.black_level = _site_black(self.black_level)
        self.white_level = float(self.white_level)
        if not self.white_level > float(self.black_level.max()):
            raise ValueError(
                f"{self._name()}: white level {self.white_level:g} must exceed the black level "
                f"{float(self.black_level.max()):g}"
            )

    def _name(self) -> str:
        return self.path if self.path else "RawImage"

    @property
    def bit_depth(self) -> int:
        """Bits needed for the white level: ceil(log2(white_level + 1)) (10 for 1023, 14 for 16383, 16 for 65535)."""
        return max(1, math.ceil(math.log2(self.white_level + 1)))

    def black_map(self) -> np.ndarray:
        """(H, W) float32 black level of every pixel (``black_level`` tiled over the CFA)."""
        h, w = self.cfa.shape
        return np.tile(self.black_level, ((h + 1) // 2, (w + 1) // 2))[:h, :w]

    def normalized(self, clip: bool = True) -> np.ndarray:
        """Black-subtracted, white-normalised sensor values.

        ``(cfa - black[site]) / (white - black[site])`` per CFA site.

        Args:
            clip: clip to [0, 1] (default). Without clipping, values below the black level are negative
                (read noise around black) and never exceed 1.

        Returns:
            (H, W) float32; 0 = black level, 1 = white level (saturation).

        Example:
            >>> img = RawImage(np.array([[32, 528], [60, 1023]], np.uint16), "RGGB", black_level=64, white_level=1023)
            >>> img.normalized().astype(float).round(4).tolist()
            [[0.0, 0.4838], [0.0, 1.0]]
            >>> round(float(img.normalized(clip=False)[0, 0]), 4)  # below the black level: negative
            -0.0334
        """
        black = self.black_map()
        out = (self.cfa.astype(np.float32) - black) / (np.float32(self.white_level) - black)
        return np.clip(out, 0.0, 1.0, out=out) if clip else out

    def to_tensor(
        self, normalize: bool = True, device: torch.device | str | None = None, *, clip: bool = True
    ) -> torch.Tensor:
        """The CFA as a (1, 1, H, W) float32 tensor.

        Args:
            normalize: :meth:`normalized` values (0 = black, 1 = white); False gives the raw DN as float32.
            device: target device (CPU when None).
            clip: with ``normalize``, clip to [0, 1].

        Returns:
            (1, 1, H, W) float32 tensor: the (B, 1, H, W) RAW mosaic layout of ``rawvision.raw``.

        Example:
            >>> img = RawImage(np.full((4, 6), 300, np.uint16), "BGGR", black_level=100, white_level=500)
            >>> x = img.to_tensor()
            >>> x.shape, x.dtype, float(x[0, 0, 0, 0])
            (torch.Size([1, 1, 4, 6]), torch.float32, 0.5)
            >>> float(img.to_tensor(normalize=False).max())  # the DN
            300.0
        """
        arr = self.normalized(clip=clip) if normalize else self.cfa.astype(np.float32)
        return torch.from_numpy(np.ascontiguousarray(arr))[None, None].to(device)

    def crop(self, top: int, left: int, height: int, width: int, *, keep_phase: bool = True) -> RawImage:
        """A window of the frame (a copy), with the pattern and black levels of its own top-left 2x2 block.

        Args:
            top, left: origin of the window in pixels (>= 0). With ``keep_phase`` (default) both must be even, so
                the pattern and the per-site black levels are unchanged.
            height, width: window size in pixels (>= 1), inside the frame.
            keep_phase: False allows odd offsets: ``pattern`` becomes ``shift_pattern(pattern, top, left)`` and
                ``black_level`` is rolled the same way.

        Returns:
            A new :class:`RawImage` (the other metadata copied).

        Raises:
            ValueError: an odd offset with ``keep_phase``; a window not inside the frame.

        Example:
            >>> img = RawImage(np.zeros((4, 4), np.uint16) + 100, "RGGB", black_level=[64, 60, 60, 56],
            ...                white_level=1023)
            >>> img.crop(2, 2, 2, 2).pattern
            'RGGB'
            >>> win = img.crop(0, 1, 2, 3, keep_phase=False)  # odd offset: the pattern and black levels shift
            >>> win.pattern, win.black_level.tolist(), win.cfa.shape
            ('GRBG', [[60.0, 64.0], [56.0, 60.0]], (2, 3))
        """
        top, left, height, width = (int(v) for v in (top, left, height, width))
        h, w = self.cfa.shape
        if top < 0 or left < 0 or height < 1 or width < 1 or top + height > h or left + width > w:
            raise ValueError(
                f"{self._name()}: crop (top, left, height, width) = ({top}, {left}, {height}, {width}) is not inside "
                f"the {h}x{w} CFA (H x W)"
            )
        if keep_phase and (top % 2 or left % 2):
            raise ValueError(
                f"{self._name()}: crop offset ({top}, {left}) is odd: it would change the CFA phase; use even offsets "
                f"or keep_phase=False (shift_pattern)"
            )
        return replace(
            self,
            cfa=self.cfa[top : top + height, left : left + width].copy(),
            pattern=shift_pattern(self.pattern, top, left),
            black_level=np.roll(self.black_level, (-top, -left), axis=(0, 1)).copy(),
            wb_gains=None if self.wb_gains is None else self.wb_gains.copy(),
            xyz_to_cam=None if self.xyz_to_cam is None else self.xyz_to_cam.copy(),
        )


# --------------------------------------------------------------------------------------------------- metadata


def _ciff_make_model(path: Path) -> tuple[str | None, str | None]:
    """Make and model from a Canon CIFF (CRW) file: record 0x080A ("make\\0model\\0") in the heap tree."""
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 26 or data[6:14] != b"HEAPCCDR" or data[:2] not in (b"II", b"MM"):
        return None, None
    bo = "<" if data[:2] == b"II" else ">"

    def heap(start: int, length: int, depth: int):
        if depth > 8 or length < 6 or start + length > len(data):
            return None
        table = start + struct.unpack_from(bo + "I", data, start + length - 4)[0]
        if table + 2 > len(data):
            return None
        (n,) = struct.unpack_from(bo + "H", data, table)
        for i in range(min(n, 1024)):
            at = table + 2 + 10 * i
            if at + 10 > len(data):
                return None
            tag, size, off = struct.unpack_from(bo + "HII", data, at)
            if tag & 0xC000:  # data stored in the record itself
                continue
            if tag & 0x3FFF == 0x080A:
                parts = data[start + off : start + off + size].split(b"\0")
                return [p.decode("latin-1").strip() or None for p in parts[:2]]
            if (tag >> 8) & 0x38 in (0x28, 0x30):  # a sub-heap
                found = heap(start + off, size, depth + 1)
                if found:
                    return found
        return None

    hlen = struct.unpack_from(bo + "I", data, 2)[0]
    found = heap(hlen, len(data) - hlen, 0) or [None, None]
    return (found + [None, None])[0], (found + [None, None])[1]


def _rationals(value) -> np.ndarray:
    v = np.asarray(value, dtype=np.float64).ravel()
    return v[0::2] / v[1::2]


def _tiff_metadata(path: Path) -> dict:
    """Make, model and the DNG colour matrix (XYZ -> camera, D65 calibration preferred) from TIFF IFD0."""
    import tifffile

    out: dict = {}
    with tifffile.TiffFile(path) as tf:
        tags = tf.pages[0].tags
        get = lambda code: tags[code].value if code in tags else None  # noqa: E731
        for key, code in (("make", 271), ("model", 272)):
            v = get(code)
            if isinstance(v, str) and v.strip("\0 "):
                out[key] = v.strip("\0 ")
        unique = get(50708)
        if "model" not in out and isinstance(unique, str) and unique.strip("\0 "):
            out["model"] = unique.strip("\0 ")  # a DNG without Model: its UniqueCameraModel
        # DNG 1.4 Ch. 6: XYZ -> camera = AnalogBalance * CameraCalibration_i * ColorMatrix_i; prefer the D65 one.
        mats = {i: get(code) for i, code in ((1, 50721), (2, 50722))}
        ills = {i: get(code) for i, code in ((1, 50778), (2, 50779))}
        have = [i for i in (1, 2) if mats[i] is not None and len(mats[i]) == 18]
        if have:
            d65 = [i for i in have if ills[i] == _DNG_D65]
            i = d65[0] if d65 else have[-1]
            m = _rationals(mats[i]).reshape(3, 3)
            cal = get(50723 if i == 1 else 50724)
            if cal is not None and len(cal) == 18:
                m = _rationals(cal).reshape(3, 3) @ m
            ab = get(50727)
            if ab is not None and len(ab) == 6:
                m = np.diag(_rationals(ab)) @ m
            if np.all(np.isfinite(m)) and np.any(m != 0):
                out["xyz_to_cam"] = m
    return out


def _file_metadata(path: Path) -> dict:
    """What LibRaw does not expose: make / model (TIFF tags or CIFF record) and the DNG's own colour matrix."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return {}
    try:
        if head[6:14] == b"HEAPCCDR":
            make, model = _ciff_make_model(path)
            return {k: v for k, v in (("make", make), ("model", model)) if v}
        if head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
            return _tiff_metadata(path)
    except Exception:  # noqa: BLE001 - metadata is optional; the pixels were read by LibRaw already
        return {}
    return {}


# --------------------------------------------------------------------------------------------------- reading


def _unsupported_hint(path: Path) -> str:
    """Why LibRaw may call a real RAW file unsupported: a CRW cut before its directory, a DNG under 22 x 22 px."""
    try:
        import tifffile

        with open(path, "rb") as fh:
            head = fh.read(16)
        if head[6:14] == b"HEAPCCDR":
            return "; it is a Canon CIFF (CRW) file whose directory LibRaw cannot use: truncated?"
        if head[:4] not in (b"II*\0", b"MM\0*"):
            return ""
        with tifffile.TiffFile(path) as tf:
            h, w = tf.pages[0].imagelength, tf.pages[0].imagewidth
    except Exception:  # noqa: BLE001 - only a hint
        return ""
    return f"; its image is {w}x{h} px and LibRaw reads none under 22x22" if min(h, w) < 22 else ""


def _not_bayer(path: Path, what: str) -> RawFileError:
    return RawFileError(f"{path}: not a Bayer sensor ({what}); expected a 2x2 R/G/B colour filter array")


def read_raw(path: str | os.PathLike, *, visible: bool = True) -> RawImage:
    """Read a Bayer RAW file with LibRaw (rawpy): DNG, CRW, KDC and any format LibRaw reads.

    Args:
        path: the RAW file.
        visible: True (default) returns LibRaw's ``raw_image_visible`` (masked / optical-black borders removed);
            False returns the full ``raw_image`` with its borders. They are the same array when the file has no
            masked border (e.g. the shared DNG tiles and the KDC files); a Canon S40 / G2 CRW is 2376x1728 in full
            and 2312x1720 visible (top 6, left 12 masked). ``pattern`` and ``black_level`` always refer to the
            returned array's top-left pixel (rawpy's ``raw_pattern`` is relative to the full array's origin and
            is rolled by the margins for the visible area).

    Returns:
        :class:`RawImage`: ``cfa`` (H, W) uint16 DN, pattern from ``raw_pattern`` + ``color_desc``, per-site black
        from ``black_level_per_channel``, ``white_level``, as-shot gains from ``camera_whitebalance`` (R, G, B
        divided by G; None when missing or zero; LibRaw's 1, 1, 1 for the Kodak DC50 is kept), ISO and exposure time from ``rawpy.other`` (None when 0). ``xyz_to_cam``:
        for a DNG, its ColorMatrix for D65 (else ColorMatrix2, else ColorMatrix1) times CameraCalibration and
        AnalogBalance (DNG 1.4 Ch. 6) -- LibRaw's ``rgb_xyz_matrix`` ignores a DNG's matrix and holds only its
        built-in table for the make / model; otherwise ``rgb_xyz_matrix[:3]``; None when all zero (e.g. Kodak
        DC50). ``make`` / ``model``: TIFF tags Make / Model (UniqueCameraModel when Model is absent) or the CIFF
        make-model record of a Canon CRW; None when absent.

    Raises:
        RawFileError (a ValueError), one line naming the file: missing file; not a RAW file LibRaw reads (JPEG,
        PNG, text, or a CRW cut before its directory); truncated or corrupt image data; not a Bayer sensor
        (X-Trans 6x6 CFA, linear / demosaiced DNG, Foveon, monochrome, CMYG or other 4-colour CFA); a white level
        not above the black level.

    Example (a file written on the spot; the shared tiles, e.g. ``s40_0101_colorchecker.dng``, read the same way:
    RGGB, black 32, white 1023):
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     path = write_dng(pathlib.Path(d) / "flat.dng", np.full((32, 32), 500, np.uint16), "GRBG",
        ...                      black_level=64, white_level=1023, wb_gains=[2.0, 1.0, 1.5])
        ...     img = read_raw(path)
        >>> img.pattern, img.cfa.shape, float(img.black_level[0, 0]), img.white_level, int(img.cfa[0, 0])
        ('GRBG', (32, 32), 64.0, 1023.0, 500)
        >>> img.wb_gains.round(3).tolist()
        [2.0, 1.0, 1.5]
    """
    import rawpy

    p = Path(path)
    if not p.exists():
        raise RawFileError(f"RAW file {p} not found")
    if not p.is_file():
        raise RawFileError(f"{p}: not a file (expected a RAW file)")
    try:
        r = rawpy.imread(str(p))
    except rawpy.LibRawFileUnsupportedError as e:
        raise RawFileError(f"{p}: not a RAW file LibRaw can read ({_one_line(e)}{_unsupported_hint(p)})") from None
    except rawpy.LibRawIOError as e:
        raise RawFileError(
            f"{p}: not a RAW file LibRaw can read (I/O error while parsing its header: {_one_line(e)}; "
            f"empty, truncated or not a RAW file)"
        ) from None
    except (rawpy.LibRawError, OSError) as e:
        raise RawFileError(f"{p}: LibRaw cannot open it ({e.__class__.__name__}: {_one_line(e)})") from None
    with r:
        try:
            raw_type = r.raw_type  # unpacks the image data
        except rawpy.LibRawIOError as e:
            raise RawFileError(
                f"{p}: truncated or unreadable RAW data (LibRaw I/O error while unpacking the image: {_one_line(e)})"
            ) from None
        except rawpy.LibRawError as e:
            raise RawFileError(
                f"{p}: corrupt or unsupported RAW data (LibRaw {e.__class__.__name__} while unpacking: {_one_line(e)})"
            ) from None
        if raw_type != rawpy.RawType.Flat:
            raise _not_bayer(p, "LibRaw reads several colour values per pixel: a linear/demosaiced DNG, Foveon or sRAW")
        try:
            cpat = r.raw_pattern
        except NotImplementedError as e:
            raise _not_bayer(p, f"unsupported LibRaw CFA layout: {_one_line(e)}") from None
        if cpat is None or cpat.shape != (2, 2):
            shape = "none" if cpat is None else f"{cpat.shape[0]}x{cpat.shape[1]}"
            kind = {"6x6": ", e.g. Fujifilm X-Trans", "1x1": ", monochrome"}.get(shape, "")
            raise _not_bayer(p, f"{shape} CFA repeat pattern{kind}")
        desc = r.color_desc.decode("ascii", "replace")
        sizes = r.sizes
        top, left = (sizes.top_margin, sizes.left_margin) if visible else (0, 0)
        idx = np.roll(np.asarray(cpat, dtype=np.int64), (-top, -left), axis=(0, 1))
        if idx.max() >= len(desc):
            raise _not_bayer(p, f"colour indices {idx.ravel().tolist()} for colours {desc!r}")
        pattern = "".join(desc[i] for i in idx.ravel())
        if pattern not in BAYER_PATTERNS:
            raise _not_bayer(p, f"CFA {pattern}, colours {desc}")
        cfa = np.array(r.raw_image_visible if visible else r.raw_image, dtype=np.uint16, copy=True)
        if cfa.ndim != 2:
            raise _not_bayer(p, f"raw image of shape {cfa.shape}")
        bl = np.asarray(r.black_level_per_channel, dtype=np.float64)
        black = bl[idx].astype(np.float32)
        white = float(r.white_level)
        cam = np.asarray(r.camera_whitebalance, dtype=np.float64)[:3]
        wb = cam / cam[1] if np.all(np.isfinite(cam)) and np.all(cam > 0) else None
        xyz = np.asarray(r.rgb_xyz_matrix, dtype=np.float64)[:3].copy()
        other = r.other
        iso = float(other.iso_speed) if other.iso_speed > 0 else None
        exposure = float(other.shutter_speed) if other.shutter_speed > 0 else None
    meta = _file_metadata(p)
    if meta.get("xyz_to_cam") is not None:
        xyz = meta["xyz_to_cam"]
    if not np.any(xyz != 0) or not np.all(np.isfinite(xyz)):
        xyz = None
    if not white > float(black.max()):
        raise RawFileError(f"{p}: white level {white:g} is not above the black level {float(black.max()):g}")
    return RawImage(
        cfa=cfa, pattern=pattern, black_level=black, white_level=white, wb_gains=wb, xyz_to_cam=xyz,
        make=meta.get("make"), model=meta.get("model"), iso=iso, exposure_time=exposure, path=str(p),
    )


# --------------------------------------------------------------------------------------------------- writing


def _srational(values, what: str) -> tuple[int, ...]:
    """Flat (numerator, denominator) pairs for TIFF (S)RATIONAL, 6 decimals where int32 allows."""
    v = np.asarray(values, dtype=np.float64).ravel()
    den = 1_000_000
    while den > 1 and np.any(np.abs(v) * den >= 2**31 - 1):
        den //= 10
    if np.any(np.abs(v) * den >= 2**31 - 1):
        raise ValueError(f"{what} values {v.tolist()} are too large for a TIFF rational")
    out: list[int] = []
    for x in v:
        out += [int(round(x * den)), den]
    return tuple(out)


def write_dng(
    path: str | os.PathLike,
    cfa,
    pattern: str,
    *,
    black_level=0,
    white_level: float = 65535,
    wb_gains=None,
    xyz_to_cam=None,
    make: str | None = None,
    model: str | None = None,
    description: str | None = None,
) -> Path:
    """Write a Bayer mosaic as an uncompressed CFA DNG 1.4 file (tifffile), atomically.

    Tags: NewSubfileType 0, PhotometricInterpretation 32803 (CFA), CFARepeatPatternDim 2x2, CFAPattern (0 = R,
    1 = G, 2 = B), CFAPlaneColor, CFALayout 1, DNGVersion 1.4, UniqueCameraModel, BlackLevelRepeatDim 2x2 +
    BlackLevel per site, WhiteLevel, ColorMatrix1 (SRATIONAL) with CalibrationIlluminant1 = 21 (D65),
    AsShotNeutral = G-normalised 1 / ``wb_gains``, Make / Model / ImageDescription, Orientation 1. The shared tiles
    were written with the same recipe; :func:`read_raw` reads the file back with identical pixels.

    Args:
        path: target file (``.dng``); its folder is created if missing. Written to a temporary file there, then renamed.
        cfa: (H, W) integer sensor values in [0, 65535] (uint16 or any integer-valued array / CPU tensor). Any
            size is written, but LibRaw (hence :func:`read_raw`) reads no image under 22 x 22 px.
        pattern: Bayer pattern of ``cfa[:2, :2]``: RGGB, BGGR, GRBG or GBRG.
        black_level: DN, a number, 4 values (sites row by row) or (2, 2). Non-integer values are written as
            RATIONAL; LibRaw reads only their integer part.
        white_level: saturation level in DN, integer in (max black, 65535].
        wb_gains: (3,) positive R, G, B as-shot gains (stored as AsShotNeutral), or None.
        xyz_to_cam: (3, 3) XYZ -> camera matrix (ColorMatrix1 units, D65), or None. Stored with 6 decimals.
        make, model: camera make / model (ASCII); UniqueCameraModel is "make model" or "rawvision".
        description: ImageDescription text (non-ASCII characters are escaped).

    Returns:
        The written path.

    Raises:
        ValueError: a cfa that is not a 2-D integer array in [0, 65535], an unknown pattern, a black level not below
            the white level, non-positive gains, a matrix that is not 3x3 and finite. OSError: the folder is not
            writable (no partial file is left behind).

    Source: Adobe DNG Specification 1.4.0.0, Chapter 4.

    Example:
        >>> import pathlib, tempfile
        >>> cfa = np.full((32, 32), 100, np.uint16)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     path = write_dng(pathlib.Path(d) / "sub" / "x.dng", cfa, "RGGB", black_level=64, white_level=1023)
        ...     back = read_raw(path)
        >>> path.name, back.pattern, bool((back.cfa == cfa).all())
        ('x.dng', 'RGGB', True)
    """
    import tifffile

    path = Path(path)
    pattern = check_pattern(pattern)
    arr = np.asarray(cfa.detach().cpu() if isinstance(cfa, torch.Tensor) else cfa)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"{path}: cfa must be a non-empty 2-D (H, W) array, got shape {arr.shape}")
    if arr.dtype != np.uint16:
        if arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and not np.all(np.isfinite(arr))):
            raise ValueError(f"{path}: cfa must hold integer sensor values, got dtype {arr.dtype}")
        if np.any(arr < 0) or np.any(arr > 65535) or (arr.dtype.kind == "f" and np.any(arr != np.round(arr))):
            raise ValueError(f"{path}: cfa values must be integers in [0, 65535] (range {arr.min()}..{arr.max()})")
        arr = arr.astype(np.uint16)
    try:
        black = _site_black(black_level).astype(np.float64)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    white = float(white_level)
    if not (white == round(white) and 0 < white <= 65535):
        raise ValueError(f"{path}: white_level must be an integer in [1, 65535], got {white_level}")
    if not white > black.max():
        raise ValueError(f"{path}: black level {black.max():g} must be below the white level {white:g}")

    tags: list[tuple] = [
        (274, 3, 1, 1, True),  # Orientation: top-left
        (33421, 3, 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, 1, 4, bytes(_CFA_CODE[c] for c in pattern), True),  # CFAPattern
        (50706, 1, 4, b"\x01\x04\x00\x00", True),  # DNGVersion 1.4.0.0
        (50707, 1, 4, b"\x01\x01\x00\x00", True),  # DNGBackwardVersion 1.1.0.0
        (50708, 2, None, " ".join(s for s in (make, model) if s) or "rawvision", True),  # UniqueCameraModel
        (50710, 1, 3, b"\x00\x01\x02", True),  # CFAPlaneColor R, G, B
        (50711, 3, 1, 1, True),  # CFALayout rectangular
        (50713, 3, 2, (2, 2), True),  # BlackLevelRepeatDim
        (50717, 4, 1, int(white), True),  # WhiteLevel
    ]
    if np.all(black == np.round(black)):
        tags.append((50714, 4, 4, tuple(int(b) for b in black.ravel()), True))  # BlackLevel LONG
    else:
        tags.append((50714, 5, 4, _srational(black, "black_level"), True))  # BlackLevel RATIONAL
    if make:
        tags.append((271, 2, None, str(make), True))
    if model:
        tags.append((272, 2, None, str(model), True))
    if wb_gains is not None:
        g = np.asarray(wb_gains, dtype=np.float64).ravel()
        if g.shape != (3,) or not np.all(np.isfinite(g)) or np.any(g <= 0):
            raise ValueError(f"{path}: wb_gains must be 3 positive numbers (R, G, B), got {g.tolist()}")
        tags.append((50728, 5, 3, _srational(g[1] / g, "AsShotNeutral"), True))
    if xyz_to_cam is not None:
        m = np.asarray(xyz_to_cam, dtype=np.float64)
        if m.shape != (3, 3) or not np.all(np.isfinite(m)) or not np.any(m != 0):
            raise ValueError(f"{path}: xyz_to_cam must be a finite non-zero 3x3 matrix, got shape {m.shape}")
        tags.append((50721, 10, 9, _srational(m, "xyz_to_cam"), True))  # ColorMatrix1
        tags.append((50778, 3, 1, _DNG_D65, True))  # CalibrationIlluminant1 = D65
    desc = None
    if description is not None:
        desc = str(description).encode("ascii", "backslashreplace").decode("ascii")

    from rawvision._atomic import atomic_path

    with atomic_path(path) as tmp:
        tifffile.imwrite(
            tmp, arr, photometric=32803, subfiletype=0, compression=None, metadata=None, description=desc,
            software="rawvision", extratags=tags,
        )
    return path
