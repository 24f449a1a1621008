"""``darkroom`` entry point."""

from __future__ import annotations

import sys


def run() -> None:
    # The window is its own piece of work; until it lands, say so plainly instead of failing.
    print(
        "darkroom: the Darkroom window is not available in this build yet; "
        "use 'darkroom-cli enhance' (see 'darkroom-cli --help')",
        file=sys.stderr,
    )
    sys.exit(1)
