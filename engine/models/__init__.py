"""Model zoo: U-Net enhancement variants for packed-Bayer low-light RAW (after SID, CVPR 2018).

Every variant maps ``(N, 4, h, w)`` packed Bayer (R, G, B, G; black-subtracted, amplified,
in ``[0, 1]``) to ``(N, 3, 2h, 2w)`` linear RGB; see :class:`EnhanceNet`. Build them by name::

    model = create_model("baseline", base_features=32)
    same = create_model(model.variant, **model.config)

Weights live as safetensors plus a JSON :class:`ModelCard` (:func:`load_model` is strict and
never unpickles); the user's own models live in the model library (:func:`list_library`,
:func:`save_to_library`, :func:`import_model`...).
"""

from __future__ import annotations

from engine.models import variants as _variants  # noqa: F401 - registers the variants
from engine.models.attention import AttentionGate, AttentionUNet
from engine.models.base import EnhanceNet, pad_to_multiple
from engine.models.card import (
    CARD_FORMAT_VERSION,
    CARD_MIGRATIONS,
    NO_FINISHING,
    OUTPUT_SPACES,
    Finishing,
    ModelCard,
)
from engine.models.cost import FRAME_12MP, frame_gmacs
from engine.models.discriminator import UNetDiscriminator
from engine.models.fast import FastUNet
from engine.models.fast_config import COLOUR_PLANES, DEMOSAIC_PLANES
from engine.models.library import (
    WORK_FOLDER,
    LibraryModel,
    check_name,
    delete_model,
    export_model,
    get_model,
    import_model,
    list_library,
    rename_model,
    save_to_library,
    work_dir,
)
from engine.models.registry import count_parameters, create_model, list_models, register_model
from engine.models.unet import UNet
from engine.models.uunet import UUNet
from engine.models.weights import (
    PICKLE_SUFFIXES,
    ModelEntry,
    card_path_for,
    check_weights_path,
    load_model,
    model_entries,
    read_card,
    read_tensors,
    renders_sensor,
    resolve_model,
    save_model,
    save_tensors,
    write_card,
)
from engine.resources import (
    DEFAULT_MODEL,
    DEFAULT_XTRANS_MODEL,
    cfa_sibling,
    default_library_dir,
    library_dir,
    model_for_sensor,
)
from engine.resources import MODELS_DIR_ENV_VAR as ENV_VAR

__all__ = [
    "CARD_FORMAT_VERSION",
    "CARD_MIGRATIONS",
    "COLOUR_PLANES",
    "DEFAULT_MODEL",
    "DEFAULT_XTRANS_MODEL",
    "DEMOSAIC_PLANES",
    "ENV_VAR",
    "FRAME_12MP",
    "NO_FINISHING",
    "OUTPUT_SPACES",
    "PICKLE_SUFFIXES",
    "WORK_FOLDER",
    "AttentionGate",
    "AttentionUNet",
    "EnhanceNet",
    "FastUNet",
    "Finishing",
    "LibraryModel",
    "ModelCard",
    "ModelEntry",
    "UNet",
    "UNetDiscriminator",
    "UUNet",
    "card_path_for",
    "cfa_sibling",
    "check_name",
    "check_weights_path",
    "count_parameters",
    "create_model",
    "default_library_dir",
    "delete_model",
    "export_model",
    "frame_gmacs",
    "get_model",
    "import_model",
    "library_dir",
    "list_library",
    "list_models",
    "load_model",
    "model_entries",
    "model_for_sensor",
    "pad_to_multiple",
    "read_card",
    "read_tensors",
    "register_model",
    "rename_model",
    "renders_sensor",
    "resolve_model",
    "save_model",
    "save_tensors",
    "save_to_library",
    "work_dir",
    "write_card",
]
