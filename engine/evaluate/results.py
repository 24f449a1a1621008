"""Evaluation results: per-pair scores, contact-sheet crops and their table / JSON forms.

:func:`engine.evaluate.table.evaluate` produces an :class:`EvaluationResult`; this module holds that
data and everything that turns it into text: the SID-style Markdown table
(:meth:`EvaluationResult.table_markdown`), per-model card rows
(:meth:`EvaluationResult.rows_for`) and strict JSON (:meth:`EvaluationResult.to_json`, with
infinite PSNR written as ``"inf"``). It runs no methods and imports neither torch nor the
models, so results can be formatted without loading the evaluation engine.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: What every number in a report is.
METRIC_NOTE = "PSNR/SSIM on the sRGB output, full image, data range 1"
#: What the detail column is (:func:`engine.evaluate.metrics.detail_kept`).
DETAIL_NOTE = ("detail: share of the reference's fine luminance detail (high-pass, Gaussian "
               "sigma 1 px) the output keeps, 1 = all")  # fmt: skip
#: Second columns a table can show beside PSNR.
SECOND_METRICS = {
    "ssim": ("SSIM", "{:.3f}"),
    "detail": ("detail", "{:.2f}"),
    "hf": ("HF energy", "{:.2f}"),
}
#: What the HF energy column is (:func:`engine.evaluate.metrics.hf_energy_ratio`).
HF_NOTE = ("HF energy: the output's fine luminance detail energy (high-pass, Gaussian sigma "
           "1 px) over the reference's; below 1 smoothed, above 1 noisier")  # fmt: skip


def ratio_label(ratio: float) -> str:
    """Group label of an exposure ratio: ``"x100"``; EXIF ratios like 299.99 count as x300."""
    key = round(ratio) if ratio >= 10 else round(ratio, 1)
    return f"x{key:g}"


def _ratio_sort_key(label: str) -> float:
    return float(label[1:])


def _json_number(value: float) -> float | str:
    """Finite floats as they are; infinities and NaN as strings, which JSON can hold."""
    if math.isfinite(value):
        return float(value)
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return _json_number(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


@dataclass(frozen=True)
class PairScore:
    """One method on one pair."""

    pair: str
    ratio: float
    method: str
    psnr: float  # dB, inf when identical to the reference
    ssim: float
    seconds: float  # wall time of the method on this pair (gain included for the baselines)
    detail: float = math.nan  # share of the reference's fine detail kept (metrics.detail_kept)
    hf: float = math.nan  # fine-detail energy over the reference's (metrics.hf_energy_ratio)


@dataclass
class SheetRow:
    """Crops kept for the contact sheet: one pair, every column.

    Attributes:
        name: pair name.
        ratio: exposure ratio.
        images: column name (:data:`~engine.evaluate.table.INPUT_COLUMN`, each method,
            :data:`~engine.evaluate.table.REFERENCE_COLUMN`) ->
            ``(h, w, 3)`` float32 sRGB crop in [0, 1], all of one size and position.
    """

    name: str
    ratio: float
    images: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class EvaluationResult:
    """Scores of every method on every pair, plus a few crops for the contact sheet.

    Attributes:
        methods: table order: baselines first, then each model's label.
        scores: one :class:`PairScore` per method and pair.
        pair_count: number of pairs.
        description: where the pairs came from (for the caption).
        sheet: crops for :func:`engine.evaluate.table.contact_sheet`.
        aliases: model names as given to :func:`engine.evaluate.table.evaluate` -> their label.
        settings: baseline parameters and the device, for the JSON record.
    """

    methods: list[str]
    scores: list[PairScore]
    pair_count: int
    description: str = ""
    sheet: list[SheetRow] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def ratio_groups(self) -> list[str]:
        """Ratio labels present, ascending (``["x100", "x250", "x300"]``)."""
        return sorted({ratio_label(s.ratio) for s in self.scores}, key=_ratio_sort_key)

    def _method(self, method: str) -> str:
        label = self.aliases.get(method, method)
        if label not in self.methods:
            raise KeyError(f"no method {method!r} in this evaluation (have {self.methods})")
        return label

    def _summary(self, method: str, group: str | None) -> dict[str, float | int]:
        chosen = [
            s
            for s in self.scores
            if s.method == method and (group is None or ratio_label(s.ratio) == group)
        ]
        if not chosen:
            return {"psnr": math.nan, "ssim": math.nan, "detail": math.nan, "hf": math.nan,
                    "pairs": 0}  # fmt: skip
        # Mean of per-image PSNR, as SID reports it (not the PSNR of the mean error).
        return {
            "psnr": float(np.mean([s.psnr for s in chosen])),
            "ssim": float(np.mean([s.ssim for s in chosen])),
            "detail": _nanmean([s.detail for s in chosen]),
            "hf": _nanmean([s.hf for s in chosen]),
            "pairs": len(chosen),
        }

    def rows_for(self, method: str) -> dict[str, Any]:
        """A method's row, ready for a model card's ``metrics``.

        Args:
            method: a method label, or a model name exactly as passed to
                :func:`engine.evaluate.table.evaluate`.

        Returns:
            ``{"psnr", "ssim", "pairs"}`` over all pairs (PSNR may be ``inf``), ``"by_ratio"``:
            ``{"x100": {"psnr", "ssim", "pairs"}, ...}``, plus ``"metric"`` and ``"data"``.
        """
        label = self._method(method)
        row: dict[str, Any] = dict(self._summary(label, None))
        row["by_ratio"] = {g: self._summary(label, g) for g in self.ratio_groups()}
        row["metric"] = METRIC_NOTE
        row["data"] = self.caption_data()
        return row

    def caption_data(self) -> str:
        """``"12 pairs (held-out synthetic ...)"``."""
        noun = "pair" if self.pair_count == 1 else "pairs"
        source = f" ({self.description})" if self.description else ""
        return f"{self.pair_count} {noun}{source}"

    def table_markdown(self, second: str = "ssim") -> str:
        """The table, shaped like SID's Table 1: a row per method, PSNR and ``second``
        (``"ssim"`` or ``"detail"``, see :data:`SECOND_METRICS`) per ratio.

        Best value per column in bold (ties all bold; for detail, the value nearest 1);
        infinite PSNR shows as ``inf``.
        """
        name, second_fmt = SECOND_METRICS[second]
        groups = [*self.ratio_groups(), "all"]
        cells: dict[str, list[str]] = {}
        columns: list[list[str]] = []
        for group in groups:
            for metric, fmt in (("psnr", "{:.2f}"), (second, second_fmt)):
                values = [
                    float(self._summary(m, None if group == "all" else group)[metric])
                    for m in self.methods
                ]
                text = [_format(v, fmt) for v in values]
                known = [v for v in values if not math.isnan(v)]
                if metric in ("detail", "hf"):  # keeping all of it is best, not more
                    best = _format(min(known, key=lambda v: abs(v - 1)), fmt) if known else None
                else:
                    best = _format(max(known), fmt) if known else None
                columns.append([f"**{t}**" if t == best else t for t in text])
        for i, method in enumerate(self.methods):
            cells[method] = [col[i] for col in columns]
        counts = ", ".join(
            f"{g}: {self._summary(self.methods[0], g)['pairs']}" for g in self.ratio_groups()
        )
        header = ["Method"] + [f"{g} {m}" for g in groups for m in ("PSNR", name)]
        note = {"ssim": METRIC_NOTE, "detail": f"{METRIC_NOTE}; {DETAIL_NOTE}",
                "hf": f"{METRIC_NOTE}; {HF_NOTE}"}[second]  # fmt: skip
        lines = [
            f"Table: {self.caption_data()}; per ratio {counts}. {note}. Best per column in bold.",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" + "---:|" * (len(header) - 1),
        ]
        lines += ["| " + " | ".join([m.replace("|", "/"), *cells[m]]) + " |" for m in self.methods]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """Every number, JSON-safe (infinities as the string ``"inf"``)."""
        data = {
            "metric": METRIC_NOTE,
            "data": self.caption_data(),
            "pairs": self.pair_count,
            "methods": list(self.methods),
            "ratio_groups": self.ratio_groups(),
            "aliases": dict(self.aliases),
            "settings": dict(self.settings),
            "summary": {m: self.rows_for(m) for m in self.methods},
            "per_pair": [
                {
                    "pair": s.pair,
                    "ratio": s.ratio,
                    "group": ratio_label(s.ratio),
                    "method": s.method,
                    "psnr": s.psnr,
                    "ssim": s.ssim,
                    "seconds": s.seconds,
                    "detail": s.detail,
                    "hf": s.hf,
                }
                for s in self.scores
            ],
        }
        return _json_safe(data)

    def to_json(self) -> str:
        """:meth:`to_dict` as strict JSON text (no ``Infinity``/``NaN`` tokens)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"


def _nanmean(values: list[float]) -> float:
    known = [v for v in values if not math.isnan(v)]
    return float(np.mean(known)) if known else math.nan


def _format(value: float, fmt: str) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return fmt.format(value)
