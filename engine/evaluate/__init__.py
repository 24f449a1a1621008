"""Measuring models: PSNR/SSIM, the network-free baselines, Table 1, contact sheet, bench.

* :func:`evaluate` scores the baselines (:data:`BASELINE_METHODS`: gain, gain + NLM, gain +
  bilateral) and any models on the same :class:`~engine.train.TrainingPair` list, on the
  developed sRGB output; :func:`write_report` writes ``table.md``, ``results.json`` and the
  contact sheet; :func:`default_eval_pairs` makes the held-out synthetic pairs;
* :func:`run_bench`: speed and memory of every variant on a 12 MP frame.
"""

from __future__ import annotations

from engine.evaluate.baselines import bilateral_denoise, estimate_noise, nlm_denoise
from engine.evaluate.bench import format_table, run_bench
from engine.evaluate.metrics import psnr, ssim
from engine.evaluate.report import contact_sheet, default_eval_pairs, write_report
from engine.evaluate.results import EvaluationResult, ratio_label
from engine.evaluate.table import BASELINE_METHODS, EvaluationSettings, evaluate

__all__ = [
    "BASELINE_METHODS",
    "EvaluationResult",
    "EvaluationSettings",
    "bilateral_denoise",
    "contact_sheet",
    "default_eval_pairs",
    "estimate_noise",
    "evaluate",
    "format_table",
    "nlm_denoise",
    "psnr",
    "ratio_label",
    "run_bench",
    "ssim",
    "write_report",
]
