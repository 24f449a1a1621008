"""Darkroom's engine: everything but the window, Qt-free.

Layers, top to bottom; a layer imports only from layers below it (held by import-linter, see
``pyproject.toml``), and every subpackage shows its public face in ``__init__.py``:

* ``cli``: ``darkroom-cli``, the headless front end;
* ``finetune``: pairing the photographer's own shots, fitting their camera's noise, the run;
* ``evaluate``: metrics, the network-free baselines, Table 1, contact sheet, benchmarks;
* ``train``: unprocessing, synthetic and real training pairs, the trainer and its strategies;
* ``render``: packing, colour, exposure ratio, tiling, and the :class:`Enhancer` pipeline;
* ``noise``: the physics-based sensor noise model, published calibrations, and a frame's
  noise level (the networks' noise input);
* ``models`` | ``io``: networks, weights and the user's model library | RAW reading, DNG,
  TIFF/EXIF and image export (neither imports the other);
* foundation modules: ``errors``, ``jobs`` (cancel tokens, progress), ``resources`` (bundled
  files), ``device`` (device and precision), ``files`` (the one atomic writer).

``engine`` itself imports nothing, so ``darkroom-cli sample`` starts without loading torch.
"""
