"""config: the one YAML loader; every error names file, line and key in one line."""

from __future__ import annotations

import pytest

from floodtwin.config import StrictModel, load_yaml, read_yaml
from floodtwin.errors import ConfigError


class Inner(StrictModel):
    depth_m: float
    name: str = "x"


class Doc(StrictModel):
    title: str
    items: list[Inner]


def write(tmp_path, text, name="doc.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_loads(tmp_path):
    doc = load_yaml(write(tmp_path, "title: t\nitems:\n  - {depth_m: 1.5}\n  - depth_m: 2\n    name: b\n"), Doc)
    assert doc.title == "t" and [(i.depth_m, i.name) for i in doc.items] == [(1.5, "x"), (2.0, "b")]


@pytest.mark.parametrize("text, where", [
    ("title: t\nitems:\n  - depth_m: 1\n  - depth_m: deep\n", r":4: items\.1\.depth_m: Input should be a valid number.*got 'deep'"),
    ("title: t\nitems: []\ncolour: red\n", r":3: colour: unknown key"),
    ("items: []\n", r"doc\.yaml: title: Field required"),
    ("title: t\nitems: [1, 2\n", r":3: not valid YAML"),
    ("", r"doc\.yaml: file is empty"),
    ("- a\n- b\n", r"doc\.yaml: expected a mapping of configuration keys at the top level"),
])
def test_errors_name_file_line_and_key(tmp_path, text, where):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=where) as info:
        load_yaml(path, Doc)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message


def test_paths_that_are_not_yaml_files(tmp_path):
    with pytest.raises(ConfigError, match=r"none\.yaml: file not found"):
        load_yaml(tmp_path / "none.yaml", Doc)
    with pytest.raises(ConfigError, match="is a directory, not a preplan YAML file"):
        load_yaml(tmp_path, Doc, kind="preplan")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("title: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin\.yaml: not UTF-8 text \(byte 10"):
        load_yaml(latin, Doc)


def test_semantic_check_gets_the_lines_only_when_it_asks(tmp_path):
    path = write(tmp_path, "title: t\nitems:\n  - depth_m: 1\n  - depth_m: -3\n")
    calls = []

    def check(doc, lines):
        calls.append(doc.title)
        for i, item in enumerate(doc.items):
            if item.depth_m < 0:
                raise ConfigError(f"{path}:{lines()[('items', i, 'depth_m')]}: items.{i}.depth_m: must be >= 0")

    with pytest.raises(ConfigError, match=r"doc\.yaml:4: items\.1\.depth_m: must be >= 0"):
        load_yaml(path, Doc, check=check)
    assert calls == ["t"]


def test_read_yaml_maps_every_key_path_to_its_line(tmp_path):
    data, lines = read_yaml(write(tmp_path, "title: t\nitems:\n  - depth_m: 1\n    name: a\n"))
    assert data == {"title": "t", "items": [{"depth_m": 1, "name": "a"}]}
    assert lines == {("title",): 1, ("items",): 2, ("items", 0, "depth_m"): 3, ("items", 0, "name"): 4}
