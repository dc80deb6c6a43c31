"""Every public function checks its arguments the same way.

The wrong kind of value raises TypeError, a value out of range ValueError, and
the message names the parameter, before OpenCV or NumPy see anything.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edgegrad
from edgegrad import display, kernels
from edgegrad.batch import iter_batch
from edgegrad.io import iter_images, open_record_log, read_record_log, write_image
from edgegrad.jobs import FilterSpec, Placement, is_output_name, score_file
from edgegrad.metrics import sharpness_map

IMAGE = np.zeros((32, 32), np.uint8)
SAMPLE = Path(__file__).resolve().parent.parent / "sample_images" / "camera.png"

#: (call, error, start of the message)
CASES: list[tuple[Callable[[], object], type[Exception], str]] = [
    (lambda: edgegrad.sobel(IMAGE, angle="45"), TypeError, "angle must be a real number"),
    (lambda: edgegrad.sobel(IMAGE, ksize="3"), TypeError, "ksize must be an integer"),
    (lambda: edgegrad.sobel(IMAGE, ksize=4), ValueError, "ksize must be one of 1, 3, 5, 7"),
    (lambda: edgegrad.scharr(IMAGE, normalize=1), TypeError, "normalize must be True or False"),
    (lambda: edgegrad.gradient(IMAGE, kind=3), TypeError, "kind must be one of"),
    (lambda: edgegrad.gradient(IMAGE, sigma=0), ValueError, "sigma must be a number > 0"),
    (lambda: edgegrad.directional(IMAGE, None), TypeError, "angle must be a real number"),
    (lambda: edgegrad.laplacian(IMAGE, border="wrap"), ValueError, "border must be one of"),
    (lambda: edgegrad.laplacian(IMAGE, border="constant", cval="0"), TypeError, "cval must be"),
    (lambda: edgegrad.orientation(IMAGE.tolist()), TypeError, "image must be a numpy.ndarray"),
    (lambda: edgegrad.blur_score(str(SAMPLE)), TypeError, "image must be a numpy.ndarray, not"),
    (lambda: edgegrad.blur_score(IMAGE, 1), TypeError, "method must be one of"),
    (lambda: edgegrad.blur_score(IMAGE, working_size="9"), TypeError, "working_size must be an"),
    (lambda: edgegrad.laplacian_variance(IMAGE, ksize=2), ValueError, "ksize must be an odd"),
    (lambda: edgegrad.tenengrad(IMAGE, ksize=2.0), TypeError, "ksize must be an integer"),
    (lambda: sharpness_map(IMAGE, tile="8"), TypeError, "tile must be an integer"),
    (lambda: sharpness_map(IMAGE, tile=3), ValueError, "tile must be at least 4 pixels"),
    (lambda: edgegrad.to_uint8(IMAGE, "abs", scale="2"), TypeError, "scale must be a real"),
    (lambda: edgegrad.to_uint8(IMAGE, "gamma"), ValueError, "mode must be one of"),
    (
        lambda: display.display_response(IMAGE, "abs", source_dtype=np.int8),
        ValueError,
        "source_dtype must be one of",
    ),
    (lambda: display.colorize(IMAGE, "jet"), ValueError, "colormap must be one of"),
    (lambda: display.colorize(IMAGE.astype(np.float32)), TypeError, "levels must be uint8"),
    (
        lambda: display.render_focus_map(IMAGE, [[1.0]], 32, "lapv"),  # type: ignore[arg-type]
        TypeError,
        "scores must be a numpy.ndarray",
    ),
    (
        lambda: display.render_focus_map(IMAGE, np.ones((2, 2)), 32, "lapv"),
        ValueError,
        "scores must have the shape of the tile grid",
    ),
    (
        lambda: display.render_focus_map(IMAGE, np.full((1, 1), np.nan), 32, "lapv"),
        ValueError,
        "scores contains NaN",
    ),
    (lambda: kernels.laplacian_kernel(3, dtype=np.uint8), ValueError, "dtype must be one of"),
    (lambda: kernels.directional_kernel(30, dtype=int), ValueError, "dtype must be one of"),
    (lambda: edgegrad.io.read_image(SAMPLE, mode="grey"), ValueError, "mode must be one of"),
    (lambda: edgegrad.io.read_image(SAMPLE, max_pixels=1.5), TypeError, "max_pixels must be"),
    (lambda: read_record_log(3), TypeError, "path must be a str or os.PathLike"),  # type: ignore[arg-type]
    (lambda: open_record_log(3), TypeError, "path must be a str or os.PathLike"),  # type: ignore[arg-type]
    (lambda: list(iter_images(SAMPLE, recursive="no")), TypeError, "recursive must be True"),  # type: ignore[arg-type]
    (lambda: write_image("x.png", IMAGE, overwrite="no"), TypeError, "overwrite must be True"),  # type: ignore[arg-type]
    (lambda: iter_batch(str, [], workers="2"), TypeError, "workers must be an integer"),  # type: ignore[arg-type]
    (lambda: iter_batch(str, [], chunksize=0), ValueError, "chunksize must be a positive"),
    (lambda: score_file(SAMPLE, working_size="9"), TypeError, "working_size must be an"),  # type: ignore[arg-type]
    (lambda: score_file(SAMPLE, working_size=0), ValueError, "working_size must be a positive"),
    (lambda: score_file(SAMPLE, center=0), ValueError, "center must be a fraction"),
    (lambda: FilterSpec("prewitt"), ValueError, "op must be one of"),  # type: ignore[arg-type]
    (lambda: FilterSpec("sobel", display="gamma"), ValueError, "display must be one of"),  # type: ignore[arg-type]
    (lambda: FilterSpec("sobel", angle="45"), TypeError, "angle must be a real number"),  # type: ignore[arg-type]
    (lambda: FilterSpec("directional"), ValueError, "angle is required for op='directional'"),
]


@pytest.mark.parametrize(("call", "error", "words"), CASES)
def test_arguments_are_checked_at_entry(
    call: Callable[[], object], error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as raised:
        call()
    assert str(raised.value).startswith(words)


def test_protected_may_be_one_path(tmp_path: Path) -> None:
    # A single path, not wrapped in a list, is still the protected input.
    source = tmp_path / "input.png"
    write_image(source, IMAGE)
    with pytest.raises(edgegrad.OutputExistsError, match="is an input of this run"):
        write_image(source, IMAGE, overwrite=True, protected=str(source))


SPECS = [
    FilterSpec(op, angle=angle, ksize=ksize, normalize=normalize, color=color, display=shown)
    for op, angle, ksize, normalize, color, shown in itertools.product(
        ("sobel", "scharr", "laplacian"),
        (None, 0.0, -30.0, 22.5, 1e-7),
        (None, 1, 5, 7),
        (False, True),
        (False, True),
        (None, "abs", "signed", "normalize", "raw"),
    )
    if not (op == "scharr" and ksize not in (None, 3))
] + [
    FilterSpec("directional", angle=angle, kernel="gaussian", sigma=sigma, ksize=ksize)
    for angle, sigma, ksize in itertools.product((45.0, -1e3), (0.5, 2.0, 1e-3), (None, 9))
]


def test_every_output_name_is_recognised_as_one() -> None:
    # The names a filter gives and the names a walk passes over are the same set.
    for spec in SPECS:
        for extension in (".png", ".npy"):
            target = Placement(spec.tag(), extension).target(Path("photo.jpg"))
            assert is_output_name(target.name), target.name
    assert not is_output_name("photo.jpg")
    assert not is_output_name("holiday.sobelfan.png")


def _render(scores: Any, method: str) -> Any:
    gray = np.full((64, 128), 100, np.uint8)
    return display.render_focus_map(gray, np.asarray(scores, np.float64), 64, method)


@pytest.mark.parametrize(
    ("method", "scores"), [("lapv", [[1.0, 900.0]]), ("blur-effect", [[0.9, 0.1]])]
)
def test_the_focus_map_shows_the_sharper_tile_brighter(
    method: str, scores: list[list[float]]
) -> None:
    # The right tile is the sharper one in both: a high lapv, a low blur effect.
    picture = _render(scores, method).astype(int)
    left, right = picture[32, 32].sum(), picture[32, 96].sum()
    assert right > left + 100
