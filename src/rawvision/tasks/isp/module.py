"""A learned RAW -> sRGB ISP (LW-ISP, Chen & Ma, BMVC 2022) and the classical ISP as its baselines.

Methods:

- ``train_teacher``: the distillation teacher, LW-ISP without the x2 up-layer, learning the clean mapping of the
  sRGB target onto itself: ``L_T = MSE(g(J), J) + gamma (1 - MS-SSIM)`` (Eq. 7); writes ``teacher.pth`` (its state
  dict) and its sha256 in the run directory.
- ``lw_isp``: the student (``variant``: ``lw-isp``, ``no-fgam``, ``no-ccb``, ``backbone``) on the packed RAW:
  ``L = L1 + alpha (1 - MS-SSIM) + beta L_d`` (Eq. 3-5), ``L_d`` the sum over the last three up-blocks of the MSE
  between the student's feature (through a learned 1x1 conv onto the teacher's width: training only) and the
  teacher's feature at the same resolution (Eq. 6). Without ``teacher_weights`` (or with ``beta = 0``) it is the
  paper's "w/o distillation". Writes ``lw_isp.pth`` (the ISP's state dict, what the CLI and the front end load).
- ``classical_oracle``: the classical ISP (:func:`rawvision.raw.isp.process`, Malvar demosaic) with the true
  simulated camera (white-balance gains including the brightness gain, CCM): an upper bound no camera has.
- ``classical_estimated``: the same ISP with the white balance estimated from the mosaic (gray world), the
  exposure set to bring the mean green to 18 % gray, and the camera's own CCM (metadata a camera knows).

Metrics (evaluation patches, 256 x 256): PSNR (dB, per image, averaged) and MS-SSIM (pytorch-msssim, window 11,
data range 1) against the sRGB target, synchronised over DDP ranks (torchmetrics ``MeanMetric``).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from pytorch_msssim import ms_ssim
from torch import nn
from torchmetrics import MeanMetric, SumMetric

from rawvision.models.lw_isp import LW_ISP_VARIANTS, LWISP, LWISPFrontEnd, lw_isp, lw_isp_teacher
from rawvision.models.weights import names_a_file, sha256_of
from rawvision.raw.isp import process
from rawvision.raw.pack import pack_bayer
from rawvision.tasks.base import EvalHooksMixin, RngStateMixin, adamw_schedule

__all__ = ["ISP_METHODS", "ISP_FILE", "LearnedISP", "TEACHER_FILE", "feature_adapters", "gray_world_render",
           "load_lw_isp", "psnr"]

ISP_METHODS = {
    "train_teacher": "LW-ISP teacher (sRGB -> sRGB, no up-layer)",
    "lw_isp": "LW-ISP student (packed RAW -> sRGB)",
    "classical_oracle": "classical ISP, true camera (oracle)",
    "classical_estimated": "classical ISP, gray-world WB + AE, camera CCM",
}
TEACHER_FILE = "teacher.pth"
ISP_FILE = "lw_isp.pth"
_GRAY = 0.18  # auto exposure: the mean green after white balance goes to 18 % gray (linear)


def psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B,) PSNR in dB of (B, 3, H, W) images in [0, 1] (data range 1); 100 dB for identical images."""
    mse = (pred.float() - target.float()).pow(2).mean((1, 2, 3))
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


def feature_adapters(student: LWISP, teacher: LWISP) -> nn.ModuleList:
    """1x1 convs mapping each of the student's three distillation features onto the teacher's width (Eq. 6 pairs
    features of the same layers; the student's last blocks are narrower than the teacher's at equal resolution)."""
    return nn.ModuleList([nn.Conv2d(cs, ct, 1) for cs, ct in zip(student.feature_channels(),
                                                                  teacher.feature_channels())])


def gray_world_render(raw: torch.Tensor, cam2rgb: torch.Tensor, pattern: str = "RGGB",
                      demosaic_method: str = "malvar") -> torch.Tensor:
    """The classical ISP as a camera without the true white point runs it: gray-world white balance measured on
    the mosaic (gains G/R and G/B of the per-channel means), auto exposure (mean green to 18 % gray), the given
    CCM, gamma and tone curve (:func:`rawvision.raw.isp.process`).

    Args:
        raw: (B, 1, H, W) float mosaic (0 = black, 1 = white level), H, W even.
        cam2rgb: (B, 3, 3) camera RGB -> linear sRGB (the camera's calibration), or (3, 3).
        pattern: Bayer pattern of ``raw``.

    Returns:
        (B, 3, H, W) sRGB in [0, 1].

    Raises:
        ValueError: bad shapes or an unknown pattern (from the packing and :func:`process`).

    Source: the gray-world assumption (Buchsbaum 1980); the ISP of Brooks et al. 2019 (``process.py``).
    """
    p = pack_bayer(raw.clamp_min(0), pattern)  # (B, 4, H/2, W/2): R, Gr, Gb, B
    m = p.mean((2, 3)).clamp_min(1e-6)
    g = 0.5 * (m[:, 1] + m[:, 2])
    exposure = _GRAY / g
    wb = torch.stack([g / m[:, 0], torch.ones_like(g), g / m[:, 3]], 1) * exposure[:, None]
    return process(raw, wb, cam2rgb, pattern, demosaic_method)


def load_lw_isp(path: str | Path, variant: str = "lw-isp") -> LWISP:
    """The LW-ISP student from an ``lw_isp.pth`` file (a state dict) or a task checkpoint (``.ckpt``).

    Raises:
        ValueError: a missing file, one that holds no LW-ISP weights, or weights of another variant (one line).
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"LW-ISP weights file {p} not found")
    try:
        sd = torch.load(p, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - one line, whatever torch says
        raise ValueError(f"{p} is not a PyTorch weights file that loads without running code") from None
    if isinstance(sd, dict) and "state_dict" in sd:
        hp = sd.get("hyper_parameters") or {}
        if hp.get("method") not in (None, "lw_isp"):
            raise ValueError(f"{p} is a checkpoint of the {hp.get('method')!r} method, not an LW-ISP student")
        variant = hp.get("variant", variant)
        sd = {k[len("isp."):]: v for k, v in sd["state_dict"].items() if k.startswith("isp.")}
    model = lw_isp(variant)
    if not isinstance(sd, dict) or not sd:
        raise ValueError(f"{p} holds no LW-ISP weights")
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise ValueError(f"{p} does not hold {variant!r} LW-ISP weights ({len(missing)} missing, {len(unexpected)} "
                         f"unexpected tensors, e.g. {(missing + unexpected)[0]})")
    return model.eval()


class LearnedISP(EvalHooksMixin, RngStateMixin, L.LightningModule):
    """LW-ISP trained on RAW/sRGB pairs (optionally distilled from its teacher), or a classical ISP, scored by
    PSNR and MS-SSIM.

    Batches: ``rgb`` (B, 3, H, W) float sRGB target in [0, 1], ``raw`` (B, 1, H, W) float mosaic of ``pattern``;
    evaluation batches also ``wb_gains`` (B, 3) and ``cam2rgb`` (B, 3, 3)
    (:class:`~rawvision.tasks.isp.IspPairDataModule`). Training crops: H and W multiples of 32 (16 in the packed
    planes) for the distillation features.

    Args:
        method: one of :data:`ISP_METHODS`.
        variant: the student's architecture (:data:`rawvision.models.lw_isp.LW_ISP_VARIANTS`).
        teacher_weights: the teacher's ``teacher.pth`` (a ``train_teacher`` run); with it and ``beta > 0`` the
            student is distilled. teacher_sha256: its expected sha256 (checked when given).
        pattern: the Bayer pattern of the RAW.
        alpha: the student's MS-SSIM weight (paper 0.4); gamma: the teacher's (Eq. 7; 0.4 as PyNET's).
        beta: the distillation weight (Eq. 3).
        ms_ssim_window: MS-SSIM window in training (7 for 128 crops: 11 needs sides > 160).
        lr, weight_decay, lr_schedule: AdamW, per-step ``cosine`` to 0 or ``constant``.
        channels_last: run the networks in channels_last (faster on CPU).

    Raises:
        ValueError: an unknown method or variant, a missing teacher file (one line).
    """

    METHODS = ISP_METHODS
    EVAL_ONLY = ("classical_oracle", "classical_estimated")

    def __init__(self, method: str = "lw_isp", variant: str = "lw-isp", teacher_weights: str | None = None,
                 teacher_sha256: str | None = None, pattern: str = "RGGB", alpha: float = 0.4,
                 gamma: float = 0.4, beta: float = 1.0, ms_ssim_window: int = 7, lr: float = 2e-4,
                 weight_decay: float = 0.0, lr_schedule: str = "cosine", channels_last: bool = True) -> None:
        super().__init__()
        self.check_settings(method=method, variant=variant, teacher_weights=teacher_weights, lr_schedule=lr_schedule)
        self.save_hyperparameters()
        self.flops_per_batch = None
        self.method, self.pattern = method, pattern
        self.isp: LWISP | None = None
        self.teacher: LWISP | None = None
        self.adapters: nn.ModuleList | None = None
        if method == "train_teacher":
            self.isp = lw_isp_teacher()
        elif method == "lw_isp":
            self.isp = lw_isp(variant)
            if teacher_weights is not None and beta > 0:
                self.teacher = lw_isp_teacher()
                self._load_teacher(teacher_weights, teacher_sha256)
                self.teacher.requires_grad_(False).eval()
                self.adapters = feature_adapters(self.isp, self.teacher)
        if channels_last:
            for m in (self.isp, self.teacher):
                if m is not None:
                    m.to(memory_format=torch.channels_last)
        self.distilled = self.teacher is not None
        self.test_metrics = nn.ModuleDict({"psnr": MeanMetric(), "ms_ssim": MeanMetric(), "n_patches": SumMetric()})
        self.val_metrics = nn.ModuleDict({"psnr": MeanMetric(), "ms_ssim": MeanMetric(), "n_patches": SumMetric()})
        self.last_eval: dict = {}
        self.last_val: dict = {}
        self.written: dict | None = None

    @staticmethod
    def check_settings(method: str = "lw_isp", variant: str = "lw-isp", teacher_weights: str | None = None,
                       lr_schedule: str = "cosine", **_) -> None:
        """Names checked before any data is read. Raises ValueError (one line)."""
        if method not in ISP_METHODS:
            raise ValueError(f"unknown ISP method {method!r}: expected one of {', '.join(ISP_METHODS)}")
        if variant not in LW_ISP_VARIANTS:
            raise ValueError(f"unknown LW-ISP variant {variant!r}: expected one of {', '.join(LW_ISP_VARIANTS)}")
        if teacher_weights is not None and (not names_a_file(teacher_weights) or not Path(teacher_weights).is_file()):
            raise ValueError(f"teacher weights file {teacher_weights} not found (the teacher.pth of a "
                             f"'--method train_teacher' run)")
        if lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be cosine or constant, got {lr_schedule!r}")

    def _load_teacher(self, path: str, sha256: str | None) -> None:
        if sha256 is not None and sha256_of(path) != sha256:
            raise ValueError(f"teacher weights file {path}: sha256 differs from teacher_sha256 {sha256}")
        sd = torch.load(path, map_location="cpu", weights_only=True)
        try:
            self.teacher.load_state_dict(sd)
        except (RuntimeError, TypeError):
            raise ValueError(f"teacher weights file {path} does not hold an LW-ISP teacher") from None

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, *args, **kwargs):
        """Lightning's loader for evaluation: the student alone (the teacher and the adapters are training-only and
        their file need not exist any more), so their tensors in the checkpoint are skipped."""
        import warnings

        hp = torch.load(checkpoint_path, map_location="cpu", weights_only=False).get("hyper_parameters", {})
        kwargs.setdefault("teacher_weights", None)
        kwargs.setdefault("strict", False)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Found keys that are not in the model state dict")
            model = super().load_from_checkpoint(checkpoint_path, *args, **kwargs)
        model.distilled = hp.get("method") == "lw_isp" and hp.get("teacher_weights") is not None and \
            float(hp.get("beta", 0)) > 0
        return model

    # -- the model under test --------------------------------------------------------------------------------
    def train(self, mode: bool = True):
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    def on_train_start(self) -> None:
        super().on_train_start()
        self.train()

    def forward(self, raw: torch.Tensor, wb_gains: torch.Tensor | None = None,
                cam2rgb: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, H, W) RAW (H, W even) -> (B, 3, H, W) sRGB in [0, 1]; the teacher reads (B, 3, H, W) sRGB. The
        classical methods need the camera (``cam2rgb``; the oracle also ``wb_gains``)."""
        if self.method == "train_teacher":
            return self.isp(raw)
        if self.method == "lw_isp":
            return self.isp(pack_bayer(raw, self.pattern))
        if cam2rgb is None or (self.method == "classical_oracle" and wb_gains is None):
            raise ValueError(f"method {self.method} needs the camera's cam2rgb (and wb_gains for the oracle)")
        if self.method == "classical_oracle":
            return process(raw, wb_gains, cam2rgb, self.pattern, "malvar")
        return gray_world_render(raw, cam2rgb, self.pattern)

    def on_fit_start(self) -> None:
        if self.isp is None:
            raise ValueError(f"method {self.method!r} is evaluation-only: use trainer.test, not fit")

    # -- training ----------------------------------------------------------------------------------------------
    def _ms_ssim(self, pred: torch.Tensor, target: torch.Tensor, win: int) -> torch.Tensor:
        return ms_ssim(pred.float(), target.float(), data_range=1.0, size_average=False, win_size=win)

    def compute_loss(self, batch: dict) -> dict[str, torch.Tensor]:
        """Eq. 7 (teacher) or Eq. 3-6 (student) on one batch; terms ``rec``, ``ms_ssim``, ``feat``, ``loss``."""
        rgb = batch["rgb"].contiguous(memory_format=torch.channels_last)
        win = int(self.hparams.ms_ssim_window)
        zero = rgb.new_zeros(())
        if self.method == "train_teacher":
            out = self.isp(rgb)
            rec = F.mse_loss(out, rgb)
            s = 1 - self._ms_ssim(out, rgb, win).mean()
            return {"rec": rec, "ms_ssim": s, "feat": zero, "loss": rec + self.hparams.gamma * s}
        packed = pack_bayer(batch["raw"], self.pattern).contiguous(memory_format=torch.channels_last)
        if self.teacher is not None:
            out, s_feats = self.isp.distillation_features(packed)
            with torch.no_grad():
                _, t_feats = self.teacher.distillation_features(rgb)
            feat = sum(F.mse_loss(a(fs), ft) for a, fs, ft in zip(self.adapters, s_feats, t_feats))
        else:
            out, feat = self.isp(packed), zero
        rec = F.l1_loss(out, rgb)
        s = 1 - self._ms_ssim(out, rgb, win).mean()
        loss = rec + self.hparams.alpha * s + (self.hparams.beta * feat if self.teacher is not None else 0)
        return {"rec": rec, "ms_ssim": s, "feat": feat, "loss": loss}

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        out = self.compute_loss(batch)
        bs = batch["rgb"].shape[0]
        self.log("train/loss", out["loss"], prog_bar=True, batch_size=bs)
        self.log_dict({f"train/{k}": out[k] for k in ("rec", "ms_ssim", "feat")}, batch_size=bs)
        return out["loss"]

    def configure_optimizers(self):
        params = [p for p in self.isp.parameters() if p.requires_grad]
        if self.adapters is not None:
            params += list(self.adapters.parameters())
        return adamw_schedule([{"params": params}], self.hparams.lr, self.hparams.weight_decay,
                              self.hparams.lr_schedule, self)

    def on_fit_end(self) -> None:
        """Write the trained network's state dict: ``teacher.pth`` (teacher) or ``lw_isp.pth`` (student), rank 0,
        via a temporary file and a rename."""
        if not self.trainer.is_global_zero or self.isp is None:
            return
        name = TEACHER_FILE if self.method == "train_teacher" else ISP_FILE
        path = Path(self.trainer.default_root_dir) / name
        tmp = path.with_suffix(".tmp")
        torch.save({k: v.detach().cpu().contiguous() for k, v in self.isp.state_dict().items()}, tmp)
        tmp.replace(path)
        key = "teacher" if self.method == "train_teacher" else "isp"
        self.written = {f"{key}_file": str(path), f"{key}_sha256": sha256_of(path)}

    # -- evaluation --------------------------------------------------------------------------------------------
    def _eval_step(self, batch: dict, metrics: nn.ModuleDict) -> None:
        rgb = batch["rgb"]
        if self.method == "train_teacher":
            pred = self.isp(rgb.contiguous(memory_format=torch.channels_last))
        else:
            pred = self(batch["raw"], batch.get("wb_gains"), batch.get("cam2rgb"))
        pred = pred.float().clamp(0, 1)
        metrics["psnr"].update(psnr(pred, rgb))
        metrics["ms_ssim"].update(self._ms_ssim(pred, rgb, 11))
        metrics["n_patches"].update(torch.tensor(float(rgb.shape[0]), device=rgb.device))

    def _eval_end(self, prefix: str, metrics: nn.ModuleDict) -> dict:
        res = {k: round(float(m.compute()), 4) for k, m in metrics.items()}
        res["n_patches"] = int(res["n_patches"])
        for m in metrics.values():
            m.reset()
        self.log_dict({f"{prefix}/{k}": v for k, v in res.items()}, sync_dist=False)
        res.update(variant=self.hparams.variant if self.method == "lw_isp" else None, distilled=self.distilled,
                   params=sum(p.numel() for p in self.isp.parameters()) if self.isp is not None else 0)
        return {**res, **(self.written or {})}
