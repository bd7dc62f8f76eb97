"""A matplotlib figure shown as a PNG in an ``ipywidgets.Image``, redrawn by blitting.

Redrawing a whole figure costs tens of milliseconds (contour lines, ticks and
labels, and the layout engine). Most of a widget's picture never changes
while you play with it, so the figure is drawn in three layers and only the
top one is redrawn on every frame:

1. **base**: everything except the *scaled* axes and the moving artists;
   drawn again only when something structural changes (a new surface).
2. **scaled**: the axes whose limits follow the data (a loss curve); drawn
   again when their limits change (``rescale``).
3. **moving**: the artists that change every frame (a path, a marker, an
   image); marked ``animated`` so that the layers below leave them out, and
   drawn on top of a copy of the layers below by ``show``.

The image is then encoded as a PNG (unfiltered rows, zlib level 1: three
times faster than a general encoder, and about as small for flat-coloured
plots) and assigned to the ``Image`` widget: the browser swaps the picture
in place, without flicker.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Sequence

import ipywidgets as widgets
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


class FigureImage:
    """Draw ``figure`` into ``self.image`` (an ``ipywidgets.Image``) in three layers.

    ``moving``: artists redrawn every frame. ``scaled``: axes redrawn by
    :meth:`rescale`. Call :meth:`redraw_all` after a structural change,
    :meth:`rescale` after changing a scaled axes' limits, :meth:`show` after
    moving the artists.
    """

    def __init__(
        self, figure: Figure, moving: Iterable[Artist] = (), scaled: Sequence[Axes] = ()
    ) -> None:
        self.figure = figure
        self.canvas = FigureCanvasAgg(figure)
        self.scaled = list(scaled)
        self.moving: list[Artist] = []
        self.add_moving(*moving)
        self.image = widgets.Image(format="png")
        self.image.layout.max_width = "100%"  # shrink with a narrow notebook
        self._base = self._with_scaled = None
        self._layout_frozen = False

    def add_moving(self, *artists: Artist) -> None:
        for artist in artists:
            artist.set_animated(True)
            self.moving.append(artist)

    def _freeze_layout(self) -> None:
        """Let the layout engine place the axes once, then keep them there.

        A constrained layout re-solves on every draw, which costs more than
        the drawing itself; after the first draw the positions are final.
        """
        if not self._layout_frozen:
            self.canvas.draw()
            self.figure.set_layout_engine("none")
            self._layout_frozen = True

    def redraw_all(self) -> None:
        """Draw the base layer again, then the scaled axes and the moving artists."""
        self._freeze_layout()
        for ax in self.scaled:
            ax.set_visible(False)
        self.canvas.draw()  # animated artists are left out by matplotlib itself
        for ax in self.scaled:
            ax.set_visible(True)
        self._base = self.canvas.copy_from_bbox(self.figure.bbox)
        self.rescale()

    def rescale(self) -> None:
        """Draw the scaled axes again on top of the base layer, then show."""
        if self._base is None:
            self.redraw_all()
            return
        self.canvas.restore_region(self._base)
        for ax in self.scaled:
            self.figure.draw_artist(ax)
        self._with_scaled = self.canvas.copy_from_bbox(self.figure.bbox)
        self.show()

    def show(self) -> None:
        """Draw the moving artists on the layers below and update the image."""
        if self._with_scaled is None:
            self.redraw_all()
            return
        self.canvas.restore_region(self._with_scaled)
        for artist in self.moving:
            if artist.get_visible():
                self.figure.draw_artist(artist)
        self.image.value = self.png()

    def png(self) -> bytes:
        """The canvas as PNG bytes."""
        return encode_png(np.asarray(self.canvas.buffer_rgba())[..., :3])


def encode_png(rgb: np.ndarray) -> bytes:
    """A PNG file of an (h, w, 3) uint8 picture: 8-bit RGB, rows unfiltered, zlib level 1."""
    height, width, _ = rgb.shape
    rows = np.zeros((height, 1 + 3 * width), dtype=np.uint8)  # byte 0 of a row: filter "none"
    rows[:, 1:] = rgb.reshape(height, 3 * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # depth 8, colour type RGB
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)),
            _chunk(b"IEND", b""),
        ]
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)


def widen(low: float, high: float, lo_data: float, hi_data: float) -> tuple[float, float] | None:
    """New limits when the data leaves [low, high]: doubled room, or None if it fits.

    Growing by a factor instead of fitting exactly keeps the scaled axes
    still for many frames while a curve grows.
    """
    if lo_data >= low and hi_data <= high:
        return None
    span = max(high - low, hi_data - lo_data, 1e-12)
    return min(low, lo_data - 0.05 * span), max(high, hi_data + span)
