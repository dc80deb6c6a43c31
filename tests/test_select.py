"""The frame-selection rules of :mod:`edgegrad.select`, on (time, key) sequences, no video."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from edgegrad.select import (
    SpacedCandidates,
    WindowPicker,
    at_least,
    sharpest_per_window,
    sharpest_spaced,
    window_seconds,
)


def random_stream(rng: random.Random, n: int) -> tuple[list[float], list[float]]:
    """Times that never go back (with repeats, gaps, frame rates) and keys with ties."""
    times, keys, t = [], [], 0.0
    for i in range(n):
        t += rng.choice([0.0, 0.04, 0.04, 0.033, 0.1, 0.25, 0.5]) if i else 0.0
        times.append(round(t, 3))
        keys.append(rng.choice([rng.random(), round(rng.random(), 1), float(i), -float(i)]))
    return times, keys


def spaced_by_definition(
    times: list[float], keys: list[float], chosen: list[int], count: int, gap: float
) -> bool:
    """Greedy suppression's result, checked against what it must be (not how it is computed)."""
    order = sorted(range(len(keys)), key=lambda i: (-keys[i], i))
    rank = {i: r for r, i in enumerate(order)}
    if any(abs(times[a] - times[b]) < gap for a in chosen for b in chosen if a != b):
        return False
    full = len(chosen) == count
    for i in set(range(len(keys))) - set(chosen):
        blocked = any(abs(times[i] - times[c]) < gap and rank[c] < rank[i] for c in chosen)
        after_full = full and rank[i] > max(rank[c] for c in chosen)
        if not (blocked or after_full):
            return False
    return chosen == sorted(chosen) and len(chosen) <= count


# --- windows ---------------------------------------------------------------------------


def test_each_window_gives_its_sharpest_frame() -> None:
    times = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2]
    keys = [1.0, 5.0, 2.0, 2.0, 9.0, 3.0, 3.0]
    assert sharpest_per_window(times, keys, 0.5) == [1, 4, 5]
    # A window without frames gives nothing; ties go to the earlier frame.
    assert sharpest_per_window([0.0, 0.1, 2.6], [1.0, 1.0, 0.0], 1.0) == [0, 2]


def test_a_frame_on_a_window_edge_opens_the_next_window() -> None:
    # 0.3 / 0.1 is 2.9999999999999996 in floats: it still opens window 3.
    times = [0.0, 0.1, 0.2, 0.3]
    assert sharpest_per_window(times, [1.0, 1.0, 1.0, 1.0], 0.1) == [0, 1, 2, 3]
    assert sharpest_per_window([0.0, 0.5, 1.0], [1.0, 2.0, 3.0], 0.5) == [0, 1, 2]


def test_a_timestamp_that_goes_back_joins_the_open_window() -> None:
    assert sharpest_per_window([0.0, 1.2, 0.9, 1.5], [5.0, 1.0, 9.0, 2.0], 1.0) == [0, 2]


def test_window_seconds_gives_count_windows_over_the_clip() -> None:
    assert window_seconds(16.0, 16) == 1.0
    times = [i / 25 for i in range(400)]  # a 16 s clip at 25 fps
    keys = [float(i % 7) for i in range(400)]
    assert len(sharpest_per_window(times, keys, window_seconds(16.0, 5))) == 5
    with pytest.raises(ValueError, match="count"):
        window_seconds(16.0, 0)
    with pytest.raises(ValueError, match="duration"):
        window_seconds(0.0, 3)


def test_the_window_picker_is_the_rule_one_frame_at_a_time() -> None:
    rng = random.Random(5)
    for _ in range(500):
        times, keys = random_stream(rng, rng.randint(0, 80))
        seconds = rng.choice([0.1, 0.3, 1.0, 2.5])
        picker = WindowPicker(seconds)
        streamed: list[int] = []
        for i, (t, k) in enumerate(zip(times, keys, strict=True)):
            streamed += picker.add(i, t, k)
            assert picker.best is not None
            held = picker.best  # the only frame whose pixels need keeping
            assert keys[held] == max(keys[j] for j in range(i + 1) if j >= held)
        streamed += picker.finish()
        groups: dict[int, list[int]] = {}
        for i, t in enumerate(times):
            groups.setdefault(math.floor(t / seconds + 1e-9), []).append(i)
        brute = [max(g, key=lambda i: (keys[i], -i)) for _, g in sorted(groups.items())]
        assert streamed == brute == sharpest_per_window(times, keys, seconds)


# --- the N sharpest, spaced ------------------------------------------------------------


def test_the_sharpest_frames_no_two_closer_than_the_gap() -> None:
    times = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    keys = [1.0, 9.0, 8.0, 2.0, 7.0, 3.0]
    assert sharpest_spaced(times, keys, 2, 0.25) == [1, 4]
    assert sharpest_spaced(times, keys, 3, 0.0) == [1, 2, 4]
    # A gap of exactly min_gap is allowed; more frames asked for than fit.
    assert sharpest_spaced([0.0, 0.5, 1.0], [1.0, 2.0, 3.0], 5, 0.5) == [0, 1, 2]
    assert sharpest_spaced([0.0, 0.49, 1.0], [1.0, 2.0, 3.0], 5, 0.5) == [1, 2]
    assert sharpest_spaced([], [], 3, 1.0) == []
    # Ties go to the earlier frame.
    assert sharpest_spaced([0.0, 0.1, 0.2], [4.0, 4.0, 4.0], 1, 1.0) == [0]


def test_sharpest_spaced_meets_its_definition() -> None:
    rng = random.Random(11)
    for _ in range(500):
        times, keys = random_stream(rng, rng.randint(1, 60))
        count, gap = rng.randint(1, 8), rng.choice([0.0, 0.05, 0.2, 0.5, 1.0])
        chosen = sharpest_spaced(times, keys, count, gap)
        assert spaced_by_definition(times, keys, chosen, count, gap), (times, keys, chosen)


def test_at_least_keeps_the_frames_as_sharp_as_the_floor() -> None:
    assert at_least([3.0, 1.0, 2.0], 2.0) == [0, 2]
    assert at_least([3.0, 1.0], None) == [0, 1]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sharpest_spaced([0.0], [1.0, 2.0], 1, 0.0), "same length"),
        (lambda: sharpest_spaced([0.0], [math.nan], 1, 0.0), "keys must be finite"),
        (lambda: sharpest_spaced([0.0], [1.0], 0, 0.0), "count"),
        (lambda: sharpest_spaced([0.0], [1.0], 1, -1.0), "min_gap must be at least 0"),
        (lambda: sharpest_per_window([0.0], [1.0], 0.0), "seconds"),
        (lambda: SpacedCandidates(1, 0.5).add(3, 0.0, 1.0), "positions must come in order"),
    ],
)
def test_bad_arguments_are_refused_by_name(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_times_that_go_back_are_refused_by_the_streaming_form() -> None:
    spaced = SpacedCandidates(2, 0.5)
    spaced.add(0, 1.0, 1.0)
    with pytest.raises(ValueError, match="times must not decrease"):
        spaced.add(1, 0.5, 1.0)


def test_spaced_candidates_give_the_rule_and_never_drop_a_frame_it_chooses() -> None:
    rng = random.Random(1)
    for _ in range(1500):
        times, keys = random_stream(rng, rng.randint(0, 150))
        count, gap = rng.randint(1, 10), rng.choice([0.0, 0.05, 0.2, 0.25, 0.5, 1.0])
        wanted = sharpest_spaced(times, keys, count, gap)
        spaced, held = SpacedCandidates(count, gap), set()
        for i, (t, k) in enumerate(zip(times, keys, strict=True)):
            held.add(i)
            held -= set(spaced.add(i, t, k))
            assert set(spaced.candidates) == held
        held -= set(spaced.finish())
        assert spaced.choose() == wanted, (times, keys, count, gap)
        assert set(wanted) <= held


def test_spaced_candidates_refuse_to_choose_before_the_end() -> None:
    spaced = SpacedCandidates(1, 1.0)
    spaced.add(0, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"call finish\(\) before choose\(\)"):
        spaced.choose()


def footage(kind: str, frames: int, rng: np.random.Generator) -> list[float]:
    """Sharpness of handheld footage: wandering focus, or shake at a few hertz."""
    if kind == "wandering":
        keys = np.zeros(frames)
        for i in range(1, frames):
            keys[i] = 0.9 * keys[i - 1] + rng.normal()
        return keys.tolist()
    shake = 100 + 30 * np.sin(np.arange(frames) / 3) + rng.normal(0, 5, frames)
    return shake.tolist()


@pytest.mark.parametrize(
    ("kind", "count", "gap", "bound"),
    [("wandering", 50, 0.5, 100), ("shake", 50, 0.5, 80), ("wandering", 10, 2.0, 170)],
)
def test_spaced_candidates_hold_a_few_frames_more_than_asked_for(
    kind: str, count: int, gap: float, bound: int
) -> None:
    # Five minutes at 30 fps: what is held stays near the count plus the frames
    # of a gap or two, not near the clip's length (measured: 88, 67, 146).
    keys = footage(kind, 9000, np.random.default_rng(0))
    spaced, peak = SpacedCandidates(count, gap), 0
    for i, key in enumerate(keys):
        spaced.add(i, i / 30, key)
        peak = max(peak, len(spaced.candidates))
    spaced.finish()
    assert spaced.choose() == sharpest_spaced([i / 30 for i in range(9000)], keys, count, gap)
    assert count < peak <= bound
