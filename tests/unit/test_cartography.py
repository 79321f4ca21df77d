"""reach.cartography: the drawing parts every map shares (the reach map itself is drawn in test_cli_reach)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from floodtwin.errors import InputError  # noqa: E402
from floodtwin.reach.cartography import (bilingual, check_dpi, hillshade_rgb, land_cmap, north_arrow, save_png,  # noqa: E402
                            scale_bar)


def test_bilingual_labels_fall_back_to_english():
    assert bilingual("花园口", "Huayuankou", True) == "花园口\nHuayuankou"
    assert bilingual("花园口", "Huayuankou", True, " ") == "花园口 Huayuankou"
    assert bilingual("花园口", "Huayuankou", False) == "Huayuankou"
    assert bilingual("", "Huayuankou", True) == "Huayuankou"


def test_hillshade_keeps_the_shape_and_paints_nan_white():
    dem = np.add.outer(np.linspace(80.0, 95.0, 20), np.zeros(30))
    dem[3, 4] = np.nan
    rgb = hillshade_rgb(dem, 50.0, vmin=80.0, vmax=95.0)
    assert rgb.shape == (20, 30, 4)  # RGBA from LightSource.shade
    assert np.all(rgb[3, 4] == 1.0)
    assert np.all((rgb >= 0.0) & (rgb <= 1.0))
    # the low end and the high end get different colours of the land ramp
    assert np.abs(rgb[0, 10] - rgb[-1, 10]).sum() > 0.1
    lo, hi = land_cmap()(0.0), land_cmap()(1.0)
    assert lo != hi and lo[2] < 0.6  # no sea blue at the bottom of the ramp: water is its own layer


def test_scale_bar_and_north_arrow_draw_on_the_axes():
    fig, ax = plt.subplots()
    extent = (0.0, 10_000.0, 0.0, 8_000.0)
    scale_bar(ax, extent, 3000.0)
    north_arrow(ax)
    # one card and three 1 km blocks; labels 0, 1, 2 and "3 km"; the "N" with its arrow
    assert len(ax.patches) == 4
    texts = [t.get_text() for t in ax.texts]
    assert texts[:4] == ["0", "1", "2", "3 km"] and texts[-1] == "N"
    plt.close(fig)


def test_save_png_writes_a_png_and_refuses_what_it_cannot_write(tmp_path):
    fig, _ = plt.subplots()
    out = save_png(fig, tmp_path / "sub" / "m.png", dpi=check_dpi(20))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig, _ = plt.subplots()
    with pytest.raises(InputError, match=r"/dev/null/m\.png: cannot write the map"):
        save_png(fig, "/dev/null/m.png", dpi=20)
    for bad in (9, 1201):
        with pytest.raises(InputError, match=rf"dpi = {bad} is outside \[10, 1200\]"):
            check_dpi(bad)
