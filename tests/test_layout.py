"""The structure the code promises: layers, lazy imports, one registry of focus measures."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
from numpy.typing import NDArray

from edgegrad import metrics
from edgegrad.display import render_focus_map
from edgegrad.metrics import METHODS, FocusMeasure, blur_score, sharpness_map
from edgegrad_cli import records
from edgegrad_cli.main import main
from edgegrad_cli.score_cmds import Cut, blurry_cut

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / "cli"


def _imports(path: Path) -> set[str]:
    """Every module a file imports, by its full dotted name."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_the_cli_imports_no_cv2_and_no_private_edgegrad_module(path: Path) -> None:
    imported = _imports(path)
    assert not {name for name in imported if name.split(".")[0] == "cv2"}
    private = {
        name
        for name in imported
        if name.startswith("edgegrad.") and any(p.startswith("_") for p in name.split(".")[1:])
    }
    assert private <= {"edgegrad.__version__"}, private


def test_import_is_light_and_submodules_load_on_first_use() -> None:
    probe = """
import sys, edgegrad
heavy = ("click", "skimage", "scipy", "edgegrad.io", "edgegrad.batch", "edgegrad.jobs")
print(*(name in sys.modules for name in heavy))
print(edgegrad.io.read_image.__name__, edgegrad.batch.iter_batch.__name__,
      edgegrad.jobs.score_file.__name__, "click" in sys.modules)
try:
    edgegrad.nothing
except AttributeError as error:
    print(error)
"""
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert run.stdout.splitlines() == [
        "False False False False False False",
        "read_image iter_batch score_file False",
        "module 'edgegrad' has no attribute 'nothing'",
    ]


def test_the_cli_offers_every_registered_method() -> None:
    command = main.get_command(click.Context(main), "blur-score")
    assert command is not None
    method = next(p for p in command.params if p.name == "method")
    assert list(method.type.choices) == list(METHODS)  # type: ignore[attr-defined]
    assert "blur-effect, edge-blur: higher is blurrier" in (method.help or "")


def _mean_tiles(tiles: Any, gray: NDArray[np.float64]) -> NDArray[np.float64]:
    result: NDArray[np.float64] = tiles.means(gray)
    return result


#: A made-up measure, "higher is blurrier", to show a new entry is all a method needs.
DARKNESS = FocusMeasure(
    "darkness",
    lambda image: 255.0 - float(metrics.luma(image).mean()),
    units="DN",
    reference="none",
    scorer=lambda gray: 255.0 - float(np.mean(gray, dtype=np.float64)),
    tile_scorer=lambda tiles, gray: 255.0 - _mean_tiles(tiles, gray),
    sharper_is_higher=False,
    digits=3,
)


def test_a_new_registry_entry_reaches_scores_maps_display_and_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(metrics._MEASURES, "darkness", DARKNESS)
    image = np.zeros((64, 96), np.uint8)
    image[:, 48:] = 200
    assert blur_score(image, "darkness") == 155.0
    assert blur_score(image, "darkness", roi=(48, 0, 48, 64)) == 55.0
    tiles = sharpness_map(image, tile=32, method="darkness")
    np.testing.assert_array_equal(tiles, [[255.0, 155.0, 55.0], [255.0, 155.0, 55.0]])
    assert render_focus_map(image, tiles, 32, "darkness").shape == (64, 96 + 120, 3)
    row = records.Row("a.png", 12.5, "darkness", 96, 64, None, None, None)
    assert "12.500" in records.render([row], "table")
    # A threshold is an upper bound for a measure where higher is blurrier.
    assert blurry_cut([], DARKNESS, Cut(100.0, None, None, None)) == -100.0
    assert DARKNESS.sharpness(55.0) > DARKNESS.sharpness(255.0)


def test_every_package_is_installed() -> None:
    # A subpackage missing from pyproject.toml works in an editable install
    # and is absent from a regular one.
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    line = re.search(r"^packages = \[(.*)\]$", pyproject, re.MULTILINE)
    assert line is not None
    listed = {name.strip().strip('"') for name in line[1].split(",")}
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "edgegrad").rglob("__init__.py")
    }
    assert found <= listed, found - listed
