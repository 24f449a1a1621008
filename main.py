"""Run Darkroom from a checkout: ``python main.py [FILE]`` opens the window (``--check``:
what this machine lacks)."""

from darkroom_app.launch import run

if __name__ == "__main__":
    run()
