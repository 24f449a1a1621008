"""Run Darkroom from a checkout: ``python main.py [FILE]`` opens the window."""

from darkroom_app.main import run

if __name__ == "__main__":
    run()
