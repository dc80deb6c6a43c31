"""Shared fixtures: the one loader for the committed sample images, and the CLI runner."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from click.testing import CliRunner, Result

from edgegrad_cli.main import main

#: ``cli(*args)`` runs ``edgegrad ARGS...`` in-process and returns click's ``Result``.
CliRun = Callable[..., Result]

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
IMAGE_SUFFIXES = {".png", ".jpg"}


def sample_names() -> list[str]:
    """Names of the committed sample images, relative to ``sample_images/``."""
    return sorted(
        p.relative_to(SAMPLES).as_posix()
        for p in SAMPLES.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES
    )


def load_sample(name: str, flags: int = cv2.IMREAD_UNCHANGED) -> npt.NDArray[Any]:
    """Decode one committed sample image by name; an unknown name raises."""
    names = sample_names()
    if name not in names:
        raise KeyError(f"no sample image {name!r}; available: {', '.join(names)}")
    image = cv2.imdecode(np.fromfile(SAMPLES / name, np.uint8), flags)
    assert image is not None, name
    return image


@pytest.fixture(scope="session")
def sample() -> Callable[..., npt.NDArray[Any]]:
    """Return :func:`load_sample`."""
    return load_sample


@pytest.fixture
def samples_dir() -> Path:
    """The committed ``sample_images/`` folder (read only: never write into it)."""
    return SAMPLES


@pytest.fixture
def cli() -> CliRun:
    """Run the ``edgegrad`` command in-process through click's ``CliRunner``.

    Arguments may be strings, paths or numbers; stdout and stderr are kept apart.
    """
    # click < 8.2 mixes stderr into stdout unless told not to; 8.2 removed the option.
    separate = "mix_stderr" in inspect.signature(CliRunner).parameters
    runner = CliRunner(**({"mix_stderr": False} if separate else {}))

    def run(*args: object) -> Result:
        return runner.invoke(main, [str(arg) for arg in args])

    return run
