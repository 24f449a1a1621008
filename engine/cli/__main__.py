"""``python -m engine.cli``: the same as ``darkroom-cli`` (torchrun starts modules this way)."""

from engine.cli.main import run

run()
