"""Model cards: the JSON beside every weights file, versioned and checked on reading.

A card says which registered architecture and config to build, the output colour space, how
the weights were trained and what they measured. Cards are read by :meth:`ModelCard.from_json`,
which migrates older formats, refuses newer ones and checks every field's type, so a damaged or
hostile card is one line of :class:`~engine.errors.ModelError`, never a crash.

Format versions:

* 1: ``noise_profile`` held either a description or, for fine-tuned models, a fitted noise
  profile as a JSON string.
* 2 (current): ``noise_profile`` is always a description; a fitted profile is the JSON object
  ``noise_fit``. Version-1 cards are migrated on reading.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, NamedTuple

from engine.errors import ModelError
from engine.models.registry import list_models

CARD_FORMAT_VERSION = 2


class Finishing(NamedTuple):
    """What full-resolution renders do to a network's output after it, in this order
    (:func:`engine.render.finish_output`): add back the classical render's detail above the
    noise, then smooth the chroma. A model card's :attr:`ModelCard.finishing`; the renderer, the
    fine-tune's validation and a model trained on from it all read it there."""

    restores_detail: bool = False
    smooths_chroma: bool = False


#: No steps after the network (cards that ask for none, and the default of the functions that
#: take a :class:`Finishing`).
NO_FINISHING = Finishing()


#: Output colour spaces a model card may declare: linear camera RGB (developed by the file's
#: own colour pipeline) or sRGB (an SID-style network that develops by itself).
OUTPUT_SPACES = ("linear_camera", "srgb")


@dataclass
class ModelCard:
    """What a weights file is and how it came to be (stored as JSON beside it).

    Attributes:
        name, architecture, config: the model and how to build it
            (``create_model(architecture, **config)``).
        output_space: one of :data:`OUTPUT_SPACES`.
        training_data, noise_profile, hardware, licence, notes: descriptions, one line each.
        noise_fit: a fitted :class:`~engine.noise.NoiseProfile` as a dict (fine-tuned models).
        noise_fit_sets_level: whether renders take a noise-aware network's noise level from
            ``noise_fit`` (``True``, and for cards from before this field) or find it as for
            any model, by shipped profile or measured on the frame (``False``: the base model
            scored higher so on the fine-tune's pairs, or the user asked for it; see
            :mod:`engine.finetune.level_choice`).
        restores_detail: whether full-resolution renders add back the classical render's
            fine detail that stands above the noise (:func:`engine.render.restore_detail`),
            measured with these weights; ``False`` for cards from before this field. A
            fine-tune inherits its base's (its validation scores renders with it), a trained
            model its ``--init`` model's.
        smooths_chroma: whether full-resolution renders replace the output's chroma by its
            guided filter on the luminance (:func:`engine.render.smooth_chroma`: false colour
            and colour noise out, luminance kept), measured with these weights; ``False`` for
            cards from before this field; inherited as ``restores_detail`` is.
        iterations, training_time_s: how long it trained.
        metrics: what it measured (``psnr``, ``ssim``, per ratio...).
        base_model: the model it was fine-tuned or warm-started from.
        format_version: :data:`CARD_FORMAT_VERSION`.
    """

    name: str
    architecture: str
    config: dict[str, Any] = field(default_factory=dict)
    output_space: str = "linear_camera"
    training_data: str = ""
    noise_profile: str = ""
    noise_fit: dict[str, Any] | None = None
    noise_fit_sets_level: bool = True
    restores_detail: bool = False
    smooths_chroma: bool = False
    iterations: int = 0
    hardware: str = ""
    training_time_s: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    notes: str = ""
    base_model: str | None = None
    format_version: int = CARD_FORMAT_VERSION

    @property
    def finishing(self) -> Finishing:
        """The steps after the network this card asks for; none for a network that develops
        to sRGB itself (they work in linear camera RGB)."""
        if self.output_space == "srgb":
            return NO_FINISHING
        return Finishing(self.restores_detail, self.smooths_chroma)

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> ModelCard:
        """A card from its JSON object, migrated to the current format and checked.

        Raises:
            ModelError: missing or mistyped fields, an unknown architecture or output space,
                or a format newer than this code knows (one line).
        """
        version = data.get("format_version", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ModelError(f"{source}: invalid card format_version {version!r}")
        if version > CARD_FORMAT_VERSION:
            raise ModelError(
                f"{source}: card format {version} is newer than this Darkroom reads "
                f"({CARD_FORMAT_VERSION}); update Darkroom"
            )
        while version < CARD_FORMAT_VERSION:
            data, version = CARD_MIGRATIONS[version](data), version + 1
        missing = {"name", "architecture"} - set(data)
        if missing:
            raise ModelError(f"{source}: model card lacks {', '.join(sorted(missing))}")
        known = {f.name for f in fields(cls)}
        card = cls(**{k: v for k, v in data.items() if k in known})
        card.format_version = CARD_FORMAT_VERSION
        _check_types(card, source)
        if card.architecture not in list_models():
            raise ModelError(f"{source}: unknown architecture {card.architecture!r}")
        if card.output_space not in OUTPUT_SPACES:
            raise ModelError(f"{source}: unknown output space {card.output_space!r}")
        return card

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def to_bytes(self) -> bytes:
        """The card as the UTF-8 JSON stored beside its weights."""
        return (json.dumps(self.to_json(), indent=2) + "\n").encode("utf-8")

    @property
    def sensors(self) -> tuple[str, ...]:
        """The colour filter arrays the model takes (:attr:`EnhanceNet.sensors`), from its
        config: ``("x-trans",)`` for an X-Trans network, else ``("bayer",)``."""
        return (str(self.config.get("sensor", "bayer")),)

    def summary(self) -> str:
        """One line for menus and tooltips."""
        bits = [self.architecture, f"{self.iterations} iterations" if self.iterations else ""]
        for key, text in (("psnr", "PSNR {:.2f} dB"), ("ssim", "SSIM {:.3f}")):
            value = self.metrics.get(key)
            if _is_number(value):
                bits.append(text.format(value))
        return ", ".join(b for b in bits if b)


_STRINGS = ("name", "architecture", "output_space", "training_data", "noise_profile",
            "hardware", "licence", "notes")  # fmt: skip


def _check_types(card: ModelCard, source: str) -> None:
    def bad(name: str, wanted: str) -> ModelError:
        value = repr(getattr(card, name))
        return ModelError(f"{source}: {name} must be {wanted}, not {value[:40]}")

    for name in _STRINGS:
        if not isinstance(getattr(card, name), str):
            raise bad(name, "text")
    if card.base_model is not None and not isinstance(card.base_model, str):
        raise bad("base_model", "text")
    for name in ("config", "metrics"):
        if not isinstance(getattr(card, name), dict):
            raise bad(name, "an object")
    if card.noise_fit is not None and not isinstance(card.noise_fit, dict):
        raise bad("noise_fit", "an object")
    for name in ("noise_fit_sets_level", "restores_detail", "smooths_chroma"):
        if not isinstance(getattr(card, name), bool):
            raise bad(name, "true or false")
    if isinstance(card.iterations, bool) or not isinstance(card.iterations, int):
        raise bad("iterations", "a whole number")
    if not _is_number(card.training_time_s):
        raise bad("training_time_s", "a number")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Move a fitted profile out of ``noise_profile`` (a JSON string in v1) into ``noise_fit``."""
    out = {**data, "format_version": 2}
    text = data.get("noise_profile", "")
    try:
        fitted = json.loads(text) if isinstance(text, str) and text.startswith("{") else None
    except ValueError:
        fitted = None
    if isinstance(fitted, dict):
        out["noise_fit"] = fitted
        camera = fitted.get("camera") or "the camera"
        out["noise_profile"] = f"fitted to {camera} from the user's own pairs"
    return out


#: ``CARD_MIGRATIONS[v](data)`` turns a version-``v`` card object into version ``v + 1``.
CARD_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}
