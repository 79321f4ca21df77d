"""Result maps (floodtwin.maps): the PNG page, the offline HTML page, their input checks, the raster warp."""

from __future__ import annotations

import json

import numpy as np
import pytest

from floodtwin.errors import InputError

TITLE = "花园口 Huayuankou test flood, 92.3 m at the upstream end"


@pytest.fixture(scope="module")
def inputs(reach):
    """A plane water surface between the dikes, 92.3 m upstream: 2 villages wet, 4 dry, all layers filled."""
    from floodtwin.maps.example import example_inputs, planar_max_depth

    return example_inputs(reach, planar_max_depth(reach, 92.3))


def _image(path):
    from matplotlib.image import imread

    return imread(path)[..., :3]


def _bluish(img) -> int:
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return int(((b > r + 0.12) & (b > g + 0.02)).sum())


def _warm(img) -> int:
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return int(((r > b + 0.25) & (g > b + 0.1)).sum())  # yellows and oranges of the hazard classes


def test_example_inputs_have_wet_and_dry_villages(inputs):
    _, layers = inputs
    v = layers["villages"]
    assert v.flooded.any() and not v.flooded.all()
    assert set(v.hazard_class[~v.flooded]) == {"dry"}
    assert v.arrival_time_s[~v.flooded].isna().all() and v.arrival_time_s[v.flooded].notna().all()


def test_depth_png_is_written_at_its_page_size_and_shows_water(inputs, reach, tmp_path):
    from floodtwin.maps import render_png
    from floodtwin.maps.png import page_size_in

    flood, layers = inputs
    out = render_png(flood, layers, reach, title=TITLE, subtitle="Level IV · blue", path=tmp_path / "d.png", dpi=40)
    assert out == tmp_path / "d.png"
    img = _image(out)
    w_in, h_in = page_size_in(reach.dem)
    assert img.shape[:2] == (round(h_in * 40), round(w_in * 40))
    assert img.std() > 0.1  # not a blank page
    assert _bluish(img) > 0.02 * img.shape[0] * img.shape[1]


def test_dry_run_draws_no_flood(inputs, reach, tmp_path):
    """The same page with every cell at or below the dry threshold loses its water colours."""
    from floodtwin.maps import render_png

    flood, layers = inputs
    wet = render_png(flood, layers, reach, title=TITLE, path=tmp_path / "wet.png", dpi=40)
    dry_flood = flood.copy()
    dry_flood["max_depth"] = flood.max_depth.where(~(flood.max_depth > 0), 0.05)
    dry = render_png(dry_flood, layers, reach, title=TITLE, path=tmp_path / "dry.png", dpi=40)
    assert _bluish(_image(dry)) < 0.5 * _bluish(_image(wet))


def test_hazard_png_shows_the_classes_not_the_depth(inputs, reach, tmp_path):
    from floodtwin.maps import render_png

    flood, layers = inputs
    depth = _image(render_png(flood, layers, reach, title=TITLE, path=tmp_path / "d.png", dpi=40))
    hazard = _image(render_png(flood, layers, reach, title=TITLE, path=tmp_path / "h.png", dpi=40, layer="hazard"))
    assert depth.shape == hazard.shape
    assert _warm(hazard) > 3 * max(_warm(depth), 1)
    assert _bluish(hazard) < _bluish(depth)


def test_bad_layer_is_one_line_input_error(inputs, reach, tmp_path):
    from floodtwin.maps import render_png

    flood, layers = inputs
    with pytest.raises(InputError) as e:
        render_png(flood, layers, reach, title=TITLE, path=tmp_path / "x.png", layer="speed")
    assert "\n" not in str(e.value) and "'speed'" in str(e.value) and "depth, hazard" in str(e.value)
    assert not (tmp_path / "x.png").exists()


def test_unwritable_png_path_says_so(inputs, reach, tmp_path):
    from floodtwin.maps import render_png

    (tmp_path / "a_file").write_text("not a folder")
    flood, layers = inputs
    with pytest.raises(InputError, match=r"a_file/m\.png: cannot write the map"):
        render_png(flood, layers, reach, title=TITLE, path=tmp_path / "a_file" / "m.png", dpi=20)


@pytest.mark.parametrize("case, match", [
    ("no_title", "title = ''"),
    ("wrong_grid", "not the reach DEM's grid"),
    ("missing_variable", "missing variables arrival_time"),
    ("missing_column", r"layers\['villages'\]: missing columns evacuation_point"),
    ("missing_layer", "missing 'dikes'"),
    ("bad_freeboard_class", "unknown lt_3m"),
])
def test_bad_inputs_are_one_line_input_errors(inputs, reach, tmp_path, case, match):
    from floodtwin.maps import render_html, render_png

    flood, layers = inputs
    layers = dict(layers)
    title = TITLE
    if case == "no_title":
        title = ""
    elif case == "wrong_grid":
        flood = flood.isel(x=slice(1, None))
    elif case == "missing_variable":
        flood = flood.drop_vars("arrival_time")
    elif case == "missing_column":
        layers["villages"] = layers["villages"].drop(columns="evacuation_point")
    elif case == "missing_layer":
        del layers["dikes"]
    elif case == "bad_freeboard_class":
        d = layers["dikes"].copy()
        d.loc[d.index[0], "freeboard_class"] = "lt_3m"
        layers["dikes"] = d
    for draw in (lambda: render_png(flood, layers, reach, title=title, path=tmp_path / "m.png"),
                 lambda: render_html(flood, layers, reach, title=title, path=tmp_path / "m.html")):
        with pytest.raises(InputError, match=match) as e:
            draw()
        assert "\n" not in str(e.value)


def test_html_page_fetches_nothing_from_the_network(inputs, reach, tmp_path):
    from floodtwin.maps import render_html
    from floodtwin.maps.html import LAYER_NAMES
    from floodtwin.maps.offline import LEAFLET_VERSION, external_resources

    flood, layers = inputs
    out = render_html(flood, layers, reach, title=TITLE, path=tmp_path / "m.html")
    html = out.read_text(encoding="utf-8")
    assert external_resources(html) == []
    assert f"Leaflet {LEAFLET_VERSION}" in html and "data:image/png;base64," in html
    for name in LAYER_NAMES.values():  # written into the page's script as JSON strings
        assert json.dumps(name)[1:-1] in html


def test_offline_scan_finds_what_folium_would_fetch():
    """The scanner the writer relies on does see folium's default CDN links (so its 'none' means none)."""
    import folium

    from floodtwin.maps.offline import external_resources, require_offline
    from floodtwin.errors import DataError

    html = folium.Map(tiles=None).get_root().render()
    urls = external_resources(html)
    assert any("leaflet" in u for u in urls) and any("jquery" in u for u in urls)
    assert external_resources("<style>@import '//cdn.example/x.css';</style>") == ["//cdn.example/x.css"]
    assert external_resources('<a href="https://leafletjs.com">Leaflet</a>') == []  # a link, not a fetch
    with pytest.raises(DataError, match="from the network"):
        require_offline(html)


def test_unwritable_html_path_says_so(inputs, reach, tmp_path):
    from floodtwin.maps import render_html

    (tmp_path / "a_file").write_text("not a folder")
    flood, layers = inputs
    with pytest.raises(InputError, match=r"a_file/m\.html: cannot write the map"):
        render_html(flood, layers, reach, title=TITLE, path=tmp_path / "a_file" / "m.html")


def test_popups_answer_the_duty_officers_questions(inputs):
    from floodtwin.maps.html import dike_popup, grid_popup, village_popup

    _, layers = inputs
    v = next(layers["villages"][layers["villages"].flooded].itertuples())
    text = village_popup(v)
    for part in (f"{int(v.population):,}", "households", "special attention", "livestock", "max depth",
                 "evacuation point", v.evacuation_point, f"{v.arrival_time_s / 3600:.1f} h"):
        assert part in text
    g = next(layers["grids"][layers["grids"].task_count > 1].itertuples())
    text = grid_popup(g)
    assert text.count("<li>") == g.task_count
    assert g.task_lines.splitlines()[0].split(" · ")[-1].split(" (")[0] in text  # who holds it
    dikes = layers["dikes"]
    d = next(dikes[dikes.freeboard_m.notna()].itertuples())
    assert f"{d.freeboard_m:.2f} m" in dike_popup(d)
    assert "no water against it" in dike_popup(next(dikes[dikes.freeboard_m.isna()].itertuples()))
    assert "&lt;i&gt;x&lt;/i&gt;" in grid_popup(g._replace(name_en="<i>x</i>"))  # text is escaped


def test_warp_puts_each_cell_where_it_is_on_the_earth(reach):
    """One marked cell lands, after the warp to Web Mercator, within a cell of its true longitude/latitude:
    the reach grid is turned against north, so a plain stretch between corners would miss it."""
    from pyproj import Transformer

    from floodtwin.maps.raster import warp_to_mercator

    x, y = reach.dem.x.values, reach.dem.y.values
    img = np.zeros((y.size, x.size, 4))
    i, j = 20, x.size - 25  # near the north-east corner, where a rotation error is largest
    img[i, j] = 1.0
    out, ((south, west), (north, east)) = warp_to_mercator(img, x, y, reach.crs, width_px=2 * x.size)
    rows, cols = np.nonzero(out[..., 3])
    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    (mx0, mx1), (my0, my1) = to_merc.transform([west, east], [south, north])
    mx = mx0 + (cols.mean() + 0.5) / out.shape[1] * (mx1 - mx0)
    my = my1 - (rows.mean() + 0.5) / out.shape[0] * (my1 - my0)
    gx, gy = Transformer.from_crs("EPSG:3857", reach.crs, always_xy=True).transform(mx, my)
    yy = y[i] if y[0] > y[-1] else y[::-1][i]
    assert abs(gx - x[j]) < reach.resolution_m and abs(gy - yy) < reach.resolution_m
