"""The README's commands run as written, so it cannot drift from the code.

Its Python examples run as doctests (``--doctest-glob=README.md``); this file
runs its shell commands.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from conftest import CliRun

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)


def quick_start() -> tuple[str, str]:
    main_job, tests = (
        line for block in bash_blocks()[:2] for line in block.splitlines() if line.strip()
    )
    return main_job, tests


def cli_examples() -> list[list[str]]:
    block = next(b for b in bash_blocks() if b.lstrip().startswith("edgegrad blur-score"))
    commands = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            assert words[0] == "edgegrad", line
            commands.append(words[1:])
    return commands


def test_main_job_ranks_the_focus_sweep(cli: CliRun, monkeypatch: pytest.MonkeyPatch) -> None:
    main_job, _ = quick_start()
    args = shlex.split(main_job.split(".venv/bin/edgegrad", 1)[1])
    monkeypatch.chdir(ROOT)
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    sweep = [line.split()[-1] for line in result.stdout.splitlines() if "focus_sweep" in line]
    # Files at z = 0..8, best focus at z = 4.4: sharpest first.
    nearest = sorted(range(9), key=lambda z: abs(z - 4.4))
    assert sweep == [f"sample_images/focus_sweep/focus_{z:02d}.png" for z in nearest]


def test_ci_installs_and_tests_as_the_readme_says() -> None:
    main_job, tests = quick_start()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for step in tests.split(" && "):
        words = step.replace(".venv/bin/", "").split()
        assert " ".join(words) in ci.replace(".venv/bin/", ""), step
    assert main_job.split(" && ")[:2] == tests.split(" && ")[:2]


def test_cli_examples_run(cli: CliRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    samples = ROOT / "sample_images"
    (tmp_path / "photos" / "trip").mkdir(parents=True)
    for name in ("camera.png", "coffee.png", "rocket.jpg"):
        shutil.copy(samples / name, tmp_path / "photos" / name)
    for name in ("focus_03.png", "focus_06.png"):
        shutil.copy(samples / "focus_sweep" / name, tmp_path / "photos" / "trip" / name)
    shutil.copy(samples / "camera.png", tmp_path / "capture.png")
    shutil.copy(samples / "astronaut.jpg", tmp_path / "photo.jpg")
    shutil.copy(samples / "coffee.png", tmp_path / "img.png")
    shutil.copy(samples / "brick.png", tmp_path / "scan.tif")
    monkeypatch.chdir(tmp_path)
    examples = cli_examples()
    assert len(examples) >= 8
    for args in examples:
        result = cli(*args, "-j", "1") if "-o" not in args else cli(*args)
        assert result.exit_code == 0, (args, result.stderr)
    assert Path("photo.sobel-a45.png").is_file()
    assert Path("scores.csv").read_text(encoding="utf-8").startswith("path,score,")
    assert Path("map.png").is_file()
    assert not Path("blurry").exists()


def test_focus_sweep_example_runs(cli: CliRun, monkeypatch: pytest.MonkeyPatch) -> None:
    block = next(b for b in bash_blocks() if b.lstrip().startswith("edgegrad focus-sweep"))
    first = shlex.split(block.splitlines()[0], comments=True)
    monkeypatch.chdir(ROOT)
    result = cli(*first[1:], "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert '"position": 4.44' in result.stdout
