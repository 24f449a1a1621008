"""Where and in what precision networks run: the one place that chooses device and dtype.

Rendering (:class:`~engine.render.TiledRunner`), training (:func:`~engine.train.train`),
evaluation and fine-tuning all ask here; no other module picks a device or calls ``.cuda()``.

* :func:`select_device`: ``auto`` is CUDA > MPS > CPU.
* :func:`autocast_dtype` (inference) and :func:`training_autocast_dtype` (training steps): the
  reduced precision to autocast to, or ``None`` for float32. The two differ on CPUs: bf16
  inference pays off wherever the CPU computes bf16 natively, bf16 training only with AMX.
* :func:`available_bytes`: the memory a tiled pass may plan for.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

import torch

from engine.errors import DarkroomError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_PRECISION_DTYPES: dict[str, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def select_device(preference: str = "auto") -> torch.device:
    """Pick the compute device: CUDA > MPS > CPU for ``"auto"``.

    Raises:
        DarkroomError: unknown name, or the requested device is not available here.
    """
    pref = preference.lower()
    if pref not in DEVICE_CHOICES:
        raise DarkroomError(
            f"unknown device {preference!r} (choose from {', '.join(DEVICE_CHOICES)})"
        )
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if has_mps else torch.device("cpu")
    if pref == "cuda" and not torch.cuda.is_available():
        raise DarkroomError("device 'cuda' requested but no CUDA GPU is available")
    if pref == "mps" and not has_mps:
        raise DarkroomError("device 'mps' requested but Apple MPS is not available")
    return torch.device(pref)


def device_name(device: torch.device) -> str:
    """Human-readable device, e.g. ``"CPU"`` or the GPU's name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "Apple GPU (MPS)" if device.type == "mps" else "CPU"


def precision_name(dtype: torch.dtype | None) -> str:
    """The :data:`PRECISIONS` name of an :func:`autocast_dtype` result (``None``: ``"fp32"``)."""
    return next(name for name, d in _PRECISION_DTYPES.items() if d == dtype)


@functools.cache
def _cpuinfo() -> str:
    """``/proc/cpuinfo`` (empty where there is none); read once, it does not change."""
    try:
        return Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:
        return ""


def cpu_model_name() -> str:
    """The CPU's marketing name, e.g. ``"Intel(R) Xeon(R) Processor"``."""
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), where bf16 pays off."""
    flags = _cpuinfo()
    return " avx512_bf16" in flags or " amx_bf16" in flags


def cpu_has_amx_bf16() -> bool:
    """Whether this CPU has AMX bf16 tiles, which make bf16 *training* pay off too.

    Measured on a 2-core baseline step (crop 512): AMX Xeon 0.234 s fp32 vs 0.082 s bf16;
    an EPYC with AVX512-BF16 but no AMX was 3.3x *slower* in bf16 (the backward pass).
    """
    return " amx_bf16" in _cpuinfo()


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise DarkroomError(
            f"unknown precision {precision!r} (choose from {', '.join(PRECISIONS)})"
        )


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The reduced precision to autocast inference to, or ``None`` for float32.

    ``auto`` means bf16 (fp16 on older GPUs) on CUDA, bf16 on CPUs that compute it natively
    (AVX512-BF16 / AMX: 1.4-1.9x faster here, and the shipped baseline's PSNR moved by +0.01 dB
    on the held-out set), and float32 elsewhere.

    Raises:
        DarkroomError: ``precision`` is not one of :data:`PRECISIONS`.
    """
    _check_precision(precision)
    if precision != "auto":
        return _PRECISION_DTYPES[precision]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


def training_autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for training steps (``None``: float32).

    As :func:`autocast_dtype`, except that ``auto`` on the CPU means bf16 only with AMX:
    without it the bf16 backward pass is the slow part (a baseline step took 3.3x longer in
    bf16 on an AVX512-BF16 EPYC), with it a step is 2.9x faster.
    """
    _check_precision(precision)
    if device.type == "cpu" and precision == "auto":
        return torch.bfloat16 if cpu_has_amx_bf16() else None
    return autocast_dtype(device, precision)


def hardware_description(device: torch.device) -> str:
    """A model card's hardware line, e.g. ``"CPU (<model name>, 2 cores, 2 threads)"``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({cpu_model_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def available_bytes(device: torch.device) -> int:
    """Bytes a tiled pass may use for activations on ``device``.

    60 % of the GPU's free memory; on the CPU at most 30 % of the free RAM and 1.4 GiB, since
    the CPU path shares memory with the decoded frame and the outputs.
    """
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * 0.6)
    try:
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        avail = 4 << 30
    return int(min(avail * 0.3, 1.4 * (1 << 30)))
