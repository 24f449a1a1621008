"""Darkroom's own fast network: a noise-conditioned U-Net that works below packed resolution.

Where the cost goes in the SID U-Net (560 GMAC per 12 MP frame): its first level runs 32
features at packed resolution (a quarter of the sensor pixels), and every level costs about the
same. This network keeps what made SID work (packed Bayer in, plain 3x3 convolutions and
LeakyReLU, skips, a pixel-shuffle head, no normalisation) and spends its arithmetic where a CPU
turns it into speed:

* **Multi-scale packing.** The packed input (and its noise map) is space-to-depth'ed once more
  (``pixel_unshuffle(2)``): level 0 sees each 4x4 sensor block as one 32-channel vector, at a
  sixteenth of the sensor resolution. Nothing is lost (the rearrangement is exact) and the
  widest layers run on 16x fewer positions than a full-resolution U-Net's. (The stem computes
  its convolutions over the rearranged planes as stride-2 convolutions over the plain input,
  :func:`~engine.models.fast_ops.strided_taps`: the same arithmetic without copying a 12 MP
  input around.)
* **Slowly growing widths** (32-64-96-128 by default, not doubling), strided 2x2 convolutions
  down, transposed 2x2 convolutions up and *added* skips: the coarse levels, whose cost would
  otherwise grow with the width squared, stay cheap.
* **Noise level in.** Beside the 4 packed channels it takes the 4-channel per-pixel noise map
  (:meth:`engine.noise.NoiseLevel.sigma_map`): the expected standard deviation of every input
  pixel after amplification. One network can then leave a clean photo alone and clean a noisy
  one hard, and a new camera is described to it by its noise profile (after Ansel's and
  RawRefinery's noise-conditioned denoisers).
* **Head.** Full-resolution linear RGB, ``(N, 3, 2h, 2w)`` for a packed ``(N, C, h, w)``
  input, from the level-0 features (one per 4x4 sensor block). ``head="shuffle"``: a 1x1
  convolution to ``4 * 4 * out_channels`` channels and ``pixel_shuffle(4)``, as SID; every
  4x4 block then comes from one feature vector, and at x100 the blocks' edges showed as a faint
  4-pixel grid (a period-4 pattern of about half a level in the mean high-pass of the bundled
  sample). ``head="overlap"``: a transposed 8x8 convolution with stride 4, so each output
  pixel blends its own block's feature vector with its neighbours' (plus a bias per position
  in the block, which makes it exactly the shuffle head when the outer taps are zero).
* **Starting from a demosaic** (``base``): the network's output is a correction of a
  demosaic of its own input, not a picture from nothing. ``"demosaic"`` (the default) is the
  classical path's DHT demosaic, which the runner hands over beside the mosaic
  (:attr:`demosaic_input`, 12 more input planes, :func:`engine.render.demosaic_planes`);
  ``"bilinear"`` interpolates in the network (:func:`bilinear_demosaic`); ``"none"`` predicts
  the picture directly, as SID does. With a base, the head starts at zero, so an untrained
  network passes a clean photo through, and training learns what to take away (noise) and
  what to put back (detail the demosaic missed). 6,000 steps of the direct form kept 7 % of
  the truth's fine detail even at x1.
* **A gate on the base** (``gate``, with a base): the head also predicts per pixel how much of
  the base to let go (``out = base + r - sigmoid(g) * base``, starting near 0.12); where the
  noise map says the input is mostly noise (x300) the network replaces the base instead of
  subtracting its noise; where the input is clean it keeps it. In 6,000-step trials the gated
  form scored 4-7 dB better than the plain residual at x100-x300.
* **A filter on the base** (``base_filter=3``, after kernel-prediction denoisers: Bako et
  al. 2017, Mildenhall et al. 2018): the head also predicts, for every output pixel, the 3x3
  taps with which the kept base around it is weighed (``out = sigmoid(-g) (K * base) + r``).
  Without it the only way to quieten a noisy base was to let it go and paint the residual
  from one feature vector per 4x4 block: measured on the shipped weights, 43 % of the base
  was let go even at x1 (8 held-out photos), and that is where the detail went. A filter
  the network steers per pixel can smooth along an edge instead of across it. It costs
  3.5 GMAC (the head's 144 more channels) and nine multiply-adds per pixel and colour; its
  taps start as the centre alone, so it warm-starts from a network without it as exactly
  that network (:meth:`FastUNet.warm_start_state`, :mod:`engine.models.fast_weights`).

* **X-Trans** (``sensor="x-trans"``): Fujifilm's 6x6 pattern does not pack into colour planes
  of a 2x2 block, so the four packed planes hold the samples by position
  (:func:`engine.render.packing.pack_xtrans`) and 12 colour-masked planes say which colour
  each sample is (:func:`engine.render.packing.colour_planes`); they enter through the same
  1x1 convolution as the demosaic planes, which are LibRaw's X-Trans interpolation. The body,
  head, gate and the runner's 2x2 geometry are the Bayer network's, so an X-Trans network
  starts from the Bayer one's weights (:meth:`FastUNet.warm_start_state`). Tiles need no
  alignment to the 6-pixel period: the phase travels in the colour planes. A 3x3 convolution
  over all 24 masked and position planes would cost about 7 GMAC more per 12 MP frame;
  through the 1x1 the X-Trans network costs 1.2 GMAC more than the Bayer one.

At the defaults: 1.39 M parameters, 53.7 GMAC per 12 MP frame (:func:`engine.models.frame_gmacs`,
``darkroom-cli bench``), a tenth of the SID U-Net's 560; the shipped ``fast`` adds
``base_filter=3``: 1.40 M parameters, 57.2 GMAC.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import Tensor, nn

from engine.models.base import EnhanceNet
from engine.models.fast_config import (
    COLOUR_PLANES,
    DEMOSAIC_PLANES,
    GATE_START,
    UNSHUFFLE,
    checked_config,
)
from engine.models.fast_ops import bilinear_demosaic, depth_to_space, filter_by_taps, strided_taps
from engine.models.fast_weights import overlap_head, resized_head, with_colour_stem

#: Full-resolution output pixels an inference pass finishes at a time (head, base, gate):
#: 2 MP strips bound the full-resolution buffers to a few tens of MB (a base filter's taps
#: make the strips shorter).
STRIP_PIXELS = 1 << 21
#: Peak activation bytes per packed input pixel per level-0 feature, float32 inference
#: (level 0 holds a quarter of the packed positions; measured with tracemalloc-style peaks).
ACTIVATION_BYTES_PER_FEATURE = 12


def _convs(in_channels: int, out_channels: int, count: int, slope: float) -> nn.Sequential:
    """``count`` 3x3 convolutions with LeakyReLU (in place, as in ConvBlock)."""
    layers: list[nn.Module] = []
    for i in range(count):
        layers += [
            nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(slope, inplace=True),
        ]
    return nn.Sequential(*layers)


class FastUNet(EnhanceNet):
    """Noise-conditioned U-Net below packed resolution (see the module docstring).

    ``forward(x)``: ``x`` is ``(N, 4, h, w)`` packed Bayer in [0, 1] (R, G1, B, G2,
    amplified), followed by its 4-channel noise map when ``noise_input``, by the 12
    colour-masked planes for ``sensor="x-trans"`` (whose 4 packed planes are by position), and
    by the 12 demosaic planes when ``base="demosaic"`` (so ``(N, 20, h, w)`` at the defaults,
    ``(N, 32, h, w)`` for X-Trans); returns ``(N, out_channels, 2h, 2w)`` linear camera RGB,
    not clamped.

    Args:
        raw_channels: packed raw channels (4).
        out_channels: output colour channels (3).
        noise_input: the input carries a per-channel noise map after the raw channels.
        widths: features per level; level ``i`` runs at ``1 / 2**(i + 1)`` of the packed size.
        encoder_convs, decoder_convs: 3x3 convolutions per level (the decoder has one entry
            per level but the last, which is the bottleneck).
        negative_slope: LeakyReLU slope.
        base: what the output corrects: ``"demosaic"``, ``"bilinear"`` or ``"none"``.
        gate: with a base, also predict how much of it to let go per pixel.
        head: ``"shuffle"`` or ``"overlap"`` (see the module docstring).
        base_filter: 0, or the odd side ``k`` of a filter the head predicts for every output
            pixel and applies to the base around it before the gate (see the module
            docstring; needs a base and the shuffle head).
        sensor: ``"bayer"`` or ``"x-trans"`` (see the module docstring; X-Trans needs
            ``base="demosaic"`` and ``noise_input``).
        base_below_black: the demosaic planes keep the mosaic's noise below black
            (:attr:`~engine.models.base.EnhanceNet.demosaic_below_black`; Bayer only).
    """

    variant = "fast"
    #: Its first convolutions read the plain (NCHW) input with stride 2 (oneDNN converts
    #: the 8- and 12-plane slices as it reads them); a channels-last copy of the whole 12 MP
    #: input first cost 0.15 s and 265 MB more.
    channels_last_input = False

    def __init__(
        self,
        raw_channels: int = 4,
        out_channels: int = 3,
        noise_input: bool = True,
        widths: Sequence[int] = (32, 48, 80, 112, 160),
        encoder_convs: Sequence[int] = (1, 2, 2, 2, 2),
        decoder_convs: Sequence[int] = (1, 2, 2, 1),
        negative_slope: float = 0.2,
        base: str = "demosaic",
        gate: bool = True,
        head: str = "shuffle",
        sensor: str = "bayer",
        base_filter: int = 0,
        base_below_black: bool = False,
    ) -> None:
        super().__init__()
        self.config = checked_config(
            raw_channels=raw_channels, out_channels=out_channels, noise_input=noise_input,
            widths=widths, encoder_convs=encoder_convs, decoder_convs=decoder_convs,
            negative_slope=negative_slope, base=base, gate=gate, head=head, sensor=sensor,
            base_filter=base_filter, base_below_black=base_below_black,
        )  # fmt: skip
        widths, encoder_convs, decoder_convs = (
            self.config["widths"], self.config["encoder_convs"], self.config["decoder_convs"]
        )  # fmt: skip
        levels = len(widths)
        #: Sensor pixels the base filter reaches on each side (0: no filter).
        self.filter_radius = int(base_filter) // 2
        self.sensors = (sensor,)
        planes_1x1 = DEMOSAIC_PLANES + COLOUR_PLANES * self.colour_input
        self.base = base
        self.gate = bool(gate) and base != "none"
        self.raw_channels = raw_channels
        self.noise_input = bool(noise_input)
        self.demosaic_input = base == "demosaic"
        self.demosaic_below_black = bool(base_below_black)
        self.in_channels = raw_channels * (2 if noise_input else 1)
        self.in_channels += planes_1x1 if self.demosaic_input else 0
        self.out_channels = out_channels
        self.widths, self.encoder_convs, self.decoder_convs = widths, encoder_convs, decoder_convs
        slope = float(negative_slope)
        # The demosaic planes enter through a 1x1 convolution added to the first 3x3 one's
        # output: a 3x3 over all 80 unshuffled planes would cost 17 of the budget's 60 GMAC,
        # and the mosaic beside them already carries the neighbourhood.
        stem_in = (self.in_channels - planes_1x1 * self.demosaic_input) * UNSHUFFLE**2
        self.mosaic_planes = stem_in // UNSHUFFLE**2  # input planes through the 3x3 stem
        self.demosaic_stem = (
            nn.Conv2d(planes_1x1 * UNSHUFFLE**2, widths[0], 1, bias=False)
            if self.demosaic_input
            else None
        )
        self._build_body(stem_in, slope)
        self.head_kind = head
        self._build_head()
        self.size_multiple = UNSHUFFLE * 2 ** (levels - 1)
        self.receptive_radius = self.trace_radius()
        self.activation_bytes = ACTIVATION_BYTES_PER_FEATURE * widths[0]

    def _build_body(self, stem_in: int, slope: float) -> None:
        """The U-Net's levels: ``stem_in`` unshuffled planes into level 0, strided 2x2
        convolutions down, transposed 2x2 convolutions up, added skips."""
        widths, encoder_convs, decoder_convs = self.widths, self.encoder_convs, self.decoder_convs
        levels = len(widths)
        self.encoders = nn.ModuleList(
            _convs(stem_in if i == 0 else widths[i], widths[i], encoder_convs[i], slope)
            for i in range(levels)
        )
        self.downs = nn.ModuleList(
            nn.Conv2d(widths[i], widths[i + 1], 2, stride=2) for i in range(levels - 1)
        )
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(levels - 1)
        )
        self.decoders = nn.ModuleList(
            _convs(widths[i], widths[i], decoder_convs[i], slope) for i in range(levels - 1)
        )

    def _build_head(self) -> None:
        """The head (:attr:`head_kind`) from the level-0 features to the residual,
        the gate's logit and the base filter's taps of every output pixel; with a base it
        starts as the base itself (nearly, with the gate), each pixel's filter as its centre
        tap alone."""
        scale = UNSHUFFLE * self.upscale
        out_channels, features = self.out_channels, self.widths[0]
        base_filter = 2 * self.filter_radius + 1 if self.filter_radius else 0
        head_out = out_channels + int(self.gate) + int(base_filter) ** 2
        self.head: nn.Conv2d | nn.ConvTranspose2d
        if self.head_kind == "shuffle":
            self.head = nn.Conv2d(features, scale * scale * head_out, 1)
            biases = self.head.bias
        else:
            # Output pixel 4i + d - 2 + k of input position i: taps k = 2..5 are the block's own.
            self.head = nn.ConvTranspose2d(
                features, head_out, 2 * scale, stride=scale, padding=scale // 2, bias=False
            )
            self.head_bias = nn.Parameter(torch.zeros(head_out * scale * scale))
            biases = self.head_bias
        if self.base != "none":
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(biases)
            # pixel_shuffle takes scale**2 consecutive channels per output channel: the
            # residual's, then the gate's, then the base filter's taps.
            if self.gate:
                gate = out_channels * scale * scale
                nn.init.constant_(biases[gate : gate + scale * scale], GATE_START)
            if base_filter:  # every pixel's filter starts as its centre tap alone
                centre = out_channels + int(self.gate) + int(base_filter) ** 2 // 2
                nn.init.ones_(biases[centre * scale * scale : (centre + 1) * scale * scale])

    def forward_padded(self, x: Tensor) -> Tensor:
        """``(N, C, H, W)``, ``H, W`` multiples of :attr:`size_multiple` -> ``(N, 3, 2H, 2W)``."""
        mosaic_planes = self.mosaic_planes
        stem = self.encoders[0][0]
        h = F.conv2d(x[:, :mosaic_planes], strided_taps(stem.weight), stem.bias,
                     stride=UNSHUFFLE, padding=UNSHUFFLE * stem.padding[0])  # fmt: skip
        if self.demosaic_stem is not None:
            taps = strided_taps(self.demosaic_stem.weight)
            h = h + F.conv2d(x[:, mosaic_planes:], taps, stride=UNSHUFFLE)
        h = self.encoders[0][1:](h)
        skips: list[Tensor] = []
        for down, encoder in zip(self.downs, self.encoders[1:], strict=True):
            skips.append(h)
            h = encoder(down(h))
        for i in reversed(range(len(self.ups))):
            h = self.decoders[i](self.ups[i](h) + skips[i])
        if self.head_kind == "shuffle" and self.base == "demosaic" and self.gate:
            if not torch.is_grad_enabled():  # each output pixel is its own feature vector's
                return self._gated_in_strips(h, x[:, -DEMOSAIC_PLANES:])
        out = self._head(h)
        if self.base == "none":
            return out
        if self.base == "demosaic":
            base = depth_to_space(x[:, -DEMOSAIC_PLANES:], 2)
        else:
            base = bilinear_demosaic(x[:, : self.raw_channels])
        if self.filter_radius:
            r = self.filter_radius
            base = filter_by_taps(F.pad(base, (r, r, r, r), mode="replicate"), self.base_taps(out))
        residual = out[:, : self.out_channels]
        if not self.gate:
            return base + residual
        return torch.addcmul(residual, base, self.kept_share(out))

    def kept_share(self, out: Tensor) -> Tensor:
        """How much of the base the head keeps, ``(N, 1, H, W)`` in [0, 1], from the head's
        full-resolution output ``out`` ``(N, C, H, W)``: ``out = base + r - sigmoid(g) base =
        sigmoid(-g) base + r``. In float32: near 1, bfloat16's steps (1/256) would show as
        banding in the kept base."""
        gate = self.out_channels
        return torch.sigmoid(-out[:, gate : gate + 1].float())

    def base_taps(self, out: Tensor) -> Tensor:
        """The base filter's taps among the head's full-resolution output channels
        ``(N, C, H, W)``: the last ``k * k``, ``(N, k * k, H, W)``, unnormalised."""
        side = 2 * self.filter_radius + 1
        return out[:, out.shape[1] - side * side :]

    def _gated_in_strips(self, h: Tensor, planes: Tensor) -> Tensor:
        """The head, the demosaic base and the gate of an inference pass, a strip of rows at a
        time into one output: at 12 MP the head's full-resolution output, its rearrangement,
        the base and the gate were 640 MB at once. ``h``: level-0 features ``(N, F, H0, W0)``;
        ``planes``: the demosaic planes ``(N, 12, 2 H0, 2 W0)``; -> ``(N, 3, 4 H0, 4 W0)``."""
        scale = UNSHUFFLE * self.upscale
        n, _, height, width = h.shape
        # float32 at least, as the training path's addcmul with the float32 gate gives.
        dtype = torch.promote_types(planes.dtype, torch.float32)
        out = h.new_empty((n, self.out_channels, scale * height, scale * width), dtype=dtype)
        # Level-0 rows per strip: STRIP_PIXELS output pixels with the 4 head channels of the
        # residual and gate, fewer as a base filter's taps add channels (the buffers stay as
        # large). A level-0 row holds width * scale**2 output pixels, and head.out_channels
        # is scale**2 times the channels per output pixel.
        step = max(1, STRIP_PIXELS // (n * width * self.head.out_channels // 4))
        for top in range(0, height, step):
            rows = slice(top, top + step)
            head = self._head(h[:, :, rows])
            base = self._strip_base(planes, head, top, min(top + step, height))
            torch.addcmul(head[:, : self.out_channels], base, self.kept_share(head),
                          out=out[:, :, scale * top : scale * (top + step)])  # fmt: skip
        return out

    def _strip_base(self, planes: Tensor, head: Tensor, top: int, bottom: int) -> Tensor:
        """The (filtered) base of level-0 rows ``top:bottom`` (``head``: the strip's head
        output), as the training path computes it for the whole frame: from the strip's packed
        rows and, with a base filter, one more on each side (the frame's edges replicated)."""
        scale = UNSHUFFLE * self.upscale
        r = self.filter_radius
        if not r:
            return depth_to_space(planes[:, :, 2 * top : 2 * bottom], 2)
        # Packed rows lo:hi are sensor rows 2 lo:2 hi, padded rows 2 lo - r:2 hi + r; the
        # filter needs sensor rows scale * top - r:scale * bottom + r of them.
        lo, hi = max(0, 2 * top - 1), min(planes.shape[-2], 2 * bottom + 1)
        padded = F.pad(depth_to_space(planes[:, :, lo:hi], 2), (r, r, r, r), mode="replicate")
        first = scale * top - 2 * lo
        rows = padded[:, :, first : first + scale * (bottom - top) + 2 * r]
        return filter_by_taps(rows, self.base_taps(head))

    def _head(self, h: Tensor) -> Tensor:
        """Level-0 features ``(N, widths[0], H, W)`` -> ``(N, out_channels [+ 1], 4H, 4W)``."""
        scale = UNSHUFFLE * self.upscale
        if self.head_kind == "shuffle":
            return depth_to_space(self.head(h), scale)
        out = self.head(h)
        n, channels, height, width = out.shape
        # The per-position bias, broadcast over the blocks in place (no full-resolution copy):
        # (C * 16,) -> (1, C, 1, 4, 1, 4) against (N, C, H, 4, W, 4).
        blocks = out.view(n, channels, height // scale, scale, width // scale, scale)
        blocks.add_(self.head_bias.view(1, channels, 1, scale, 1, scale))
        return out

    def overlap_state(self) -> dict[str, Tensor]:
        """This shuffle-head network's weights for the same network with ``head="overlap"``,
        computing exactly the same function (its outer taps zero): to warm-start the
        overlapping head from trained weights."""
        if self.head_kind != "shuffle":
            raise ValueError("overlap_state needs a network with the shuffle head")
        state = {k: v for k, v in self.state_dict().items() if not k.startswith("head.")}
        return state | overlap_head(self.head.weight, self.head.bias, UNSHUFFLE * self.upscale)

    def warm_start_state(self, source: dict[str, Tensor]) -> dict[str, Tensor]:
        """``source`` weights ready to warm-start this network; any other source is returned as
        it is.

        * An X-Trans network from a Bayer ``fast`` network's weights: the demosaic stem gains
          the colour planes' channels at zero
          (:func:`~engine.models.fast_weights.with_colour_stem`).
        * A network with a base filter from one without, and back: the head gains the filter's
          channels as this network starts them, or drops them
          (:func:`~engine.models.fast_weights.resized_head`).
        """
        if self.colour_input:
            source = with_colour_stem(source, DEMOSAIC_PLANES * UNSHUFFLE**2,
                                     COLOUR_PLANES * UNSHUFFLE**2)  # fmt: skip
        if self.head_kind != "shuffle":
            return source
        return resized_head(source, self.head.weight, self.head.bias)

    def trace_radius(self) -> int:
        """Analytic receptive radius in packed pixels (the reasoning of
        :meth:`engine.models.unet.UNet.trace_radius`): a 3x3 convolution at a level of scale
        ``s`` packed pixels adds ``s``; unshuffle, strided 2x2 convolutions (a coarse cell is
        exactly its fine cells), 1x1 convolutions, additions (``max``) and the shuffle add
        nothing; a transposed 2x2 convolution adds the finer level's ``s``."""
        r, skips = 0, []
        for i, convs in enumerate(self.encoder_convs):
            r += convs * UNSHUFFLE * 2**i
            skips.append(r)
        for i in reversed(range(len(self.ups))):
            scale = UNSHUFFLE * 2**i
            r = max(r + scale, skips[i]) + self.decoder_convs[i] * scale
        if self.head_kind == "overlap":  # each output pixel also sees the neighbouring blocks
            r += UNSHUFFLE
        return r + (self.filter_radius + 1) // 2  # the base filter's reach, in packed pixels
