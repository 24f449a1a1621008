"""Where the bundled resources (weights, sample RAW, icons) live.

In the checkout they are in ``resources/``; an installed wheel carries the same folder as the
package ``darkroom_resources`` (see ``pyproject.toml``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

#: The bundled model the CLI and the window use unless told otherwise (issue 19: noise-aware,
#: 54 GMAC per 12 MP, starts from the classical demosaic). Here, not in ``engine.models``, so
#: the command line can name it without loading torch.
DEFAULT_MODEL = "fast"
#: The kinds of colour filter array (``RawFrame.sensor``, ``EnhanceNet.sensors``), and their
#: names in messages.
SENSORS = ("bayer", "x-trans")
SENSOR_NAMES = {"bayer": "Bayer", "x-trans": "X-Trans"}
#: Sensors whose detail restoration (engine.render.restore_detail) takes its detail from the
#: network input's own classical demosaic, clipped at black, instead of demosaicking the frame
#: again with its noise below black: on held-out X-Trans pairs both scored the same (x1-x100
#: within 0.01 dB) and LibRaw's X-Trans interpolation is the slowest step (docs/xtrans.md).
#: Bayer frames lose 0.1-0.6 dB that way (docs/detail.md). Here, so that the command line can
#: tell without torch whether a render will need the classical one.
DETAIL_FROM_INPUT_SENSORS = ("x-trans",)


def detail_from_input(sensor: str, base_below_black: bool) -> bool:
    """Whether a render restoring detail takes it from the network input's own demosaic (a
    network given the demosaic below black, or a sensor of :data:`DETAIL_FROM_INPUT_SENSORS`)
    rather than from the frame's classical render: the one rule the renderer, the fine-tune's
    validation and the command line's early classical render follow."""
    return base_below_black or sensor in DETAIL_FROM_INPUT_SENSORS


#: The default model's version for Fujifilm's X-Trans sensors (issue 23): the same network with
#: colour-masked planes in, trained on synthetic X-Trans pairs.
DEFAULT_XTRANS_MODEL = "fast-xtrans"
#: Bundled models with a version for the other kind of colour filter array: a photo whose CFA
#: its model does not take is rendered by that version, so the default serves every photo.
CFA_SIBLINGS = {
    (DEFAULT_MODEL, "x-trans"): DEFAULT_XTRANS_MODEL,
    (DEFAULT_XTRANS_MODEL, "bayer"): DEFAULT_MODEL,
}


def cfa_sibling(model: str, sensor: str) -> str | None:
    """The bundled model that stands in for ``model`` on a ``sensor`` (``"bayer"`` or
    ``"x-trans"``) photo it does not take, or ``None``."""
    return CFA_SIBLINGS.get((model, sensor))


def model_for_sensor(model: str, sensor: str) -> str:
    """The model that renders (or fine-tunes on) ``sensor`` photos when ``model`` is asked
    for: its version for that colour filter array (:func:`cfa_sibling`), else ``model``
    itself. The one rule the renderer, the window's caption, ``renders_sensor`` and
    fine-tuning follow."""
    return cfa_sibling(model, sensor) or model


# Fine-tuning defaults (engine.finetune), here so that ``darkroom-cli``'s argument parser can
# show them without loading torch (``darkroom-cli --help`` took 4.7 s).
#: Fine-tuning learning rate: half of training from scratch (the weights are already good, and
#: a small set of pairs is easy to overfit).
DEFAULT_LR = 5e-5
DEFAULT_ITERATIONS = 1000
DEFAULT_PATCH = 512
#: Validations in a row without a better score after which a run stops (0: never early).
DEFAULT_PATIENCE = 2
#: Where a fine-tuned noise-aware model takes its noise level from: ``auto`` scores the base
#: model both ways on the training pairs and keeps the better (engine.finetune.level_choice),
#: ``fitted`` the camera's fitted profile, ``frame`` the level found as for any model
#: (measured on the frame unless a shipped profile knows the camera).
NOISE_LEVEL_CHOICES = ("auto", "fitted", "frame")
#: Default largest gap between capture times of two frames of one scene, seconds.
MAX_GAP_S = 120.0

#: Environment variable overriding :func:`user_data_dir` (tests, portable installs).
DATA_DIR_ENV_VAR = "DARKROOM_DATA_DIR"


def user_data_dir() -> Path:
    """The per-user data folder: ``DARKROOM_DATA_DIR`` if set, else
    ``platformdirs.user_data_path("Darkroom", "Darkroom")``. It holds the model library
    (``models/``) and the settings of photos in read-only folders (``photo-settings/``).
    Not created here."""
    env = os.environ.get(DATA_DIR_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_data_path("Darkroom", "Darkroom")


#: Environment variable overriding the model library folder (:func:`default_library_dir`).
MODELS_DIR_ENV_VAR = "DARKROOM_MODELS_DIR"


def default_library_dir() -> Path:
    """The user's model library: ``DARKROOM_MODELS_DIR`` if set, else the per-user data
    folder's ``models``. Here, not in ``engine.models``, so it is found without torch."""
    env = os.environ.get(MODELS_DIR_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return user_data_dir() / "models"


def library_dir(library: str | os.PathLike[str] | None = None) -> Path:
    """The library folder to use (``library`` if given, else :func:`default_library_dir`)."""
    return Path(library).expanduser() if library else default_library_dir()


def card_hint(model: str, library: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """The card of ``model`` (a bundled or library model's name, or a ``.safetensors`` path)
    as plain JSON, read without torch and without any check, or ``None`` where none is found
    or it cannot be read. Only for choices that change speed, never a result (a fresh
    ``darkroom-cli`` deciding whether to start the classical render early,
    :class:`engine.io.ClassicalAhead`): the renderer reads and checks the card itself."""
    weights = Path(model)
    if weights.suffix.lower() == ".safetensors":
        places = [weights.with_suffix(".json")]
    else:
        places = [bundled_models_dir() / f"{model}.json", library_dir(library) / f"{model}.json"]
    for place in places:
        try:
            card = json.loads(place.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(card, dict):
            return card
    return None


def resources_dir() -> Path:
    """The folder holding ``models/``, ``samples/`` and ``icons/``.

    Code running from a checkout uses the checkout's own ``resources/`` (even when an older
    wheel is installed too); installed code uses the wheel's ``darkroom_resources``.
    """
    checkout = Path(__file__).resolve().parent.parent / "resources"
    if (checkout / "__init__.py").is_file():
        return checkout
    import darkroom_resources  # installed wheel

    return Path(darkroom_resources.__file__).resolve().parent


def bundled_models_dir() -> Path:
    return resources_dir() / "models"


def sample_raw_path() -> Path:
    """The bundled low-light sample RAW (a DNG)."""
    samples = sorted((resources_dir() / "samples").glob("*.dng"))
    if not samples:
        raise FileNotFoundError("the bundled sample RAW is missing from this installation")
    return samples[0]
