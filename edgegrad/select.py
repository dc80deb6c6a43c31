"""Choosing frames of a video by sharpness: small pure rules over ``(time, key)`` sequences.

A *key* is a frame's sharpness with higher meaning sharper, whatever the
measure's direction: :meth:`edgegrad.metrics.FocusMeasure.sharpness` of its
score. Times are seconds from the start of the stream, in decoding
(presentation) order. Every rule returns positions in the sequences given,
in time order, and breaks ties towards the earlier frame.

* :func:`sharpest_per_window`: the sharpest frame of each window of
  ``seconds`` (``edgegrad frames --every``), the rule of sharp-frame-extractor's
  block-wise selection. :func:`window_seconds` turns ``--count N`` into the
  window length that gives N windows over a clip.
* :func:`sharpest_spaced`: the N sharpest frames, no two closer in time than
  a gap (``edgegrad frames --best N --min-gap SECONDS``): greedy
  non-maximum suppression in time.
* :func:`at_least`: the frames at least as sharp as a floor (``--threshold``).

The rules need every score; a command that decodes a clip once, and must keep
the pixels of the frames it will write, uses the streaming forms
:class:`WindowPicker` and :class:`SpacedCandidates`, which give the same
answer (the tests hold them to it) while keeping only what may still be
chosen.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Sequence

from edgegrad._validate import check_int, check_real

__all__ = [
    "SpacedCandidates",
    "WindowPicker",
    "at_least",
    "sharpest_per_window",
    "sharpest_spaced",
    "window_seconds",
]

# A frame at k * seconds belongs to window k, though its time is a float.
_EDGE = 1e-9


def _check_pairs(times: Sequence[float], keys: Sequence[float]) -> None:
    if len(times) != len(keys):
        raise ValueError(
            f"times and keys must have the same length; got {len(times)} and {len(keys)}"
        )
    for name, values in (("times", times), ("keys", keys)):
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"{name} must be finite numbers")


def window_of(time: float, seconds: float) -> int:
    """The window ``[k * seconds, (k + 1) * seconds)`` that ``time`` falls in: ``k``."""
    return math.floor(time / seconds + _EDGE)


def sharpest_per_window(times: Sequence[float], keys: Sequence[float], seconds: float) -> list[int]:
    """The sharpest frame of each window of ``seconds``, one per window that has frames.

    Window ``k`` holds the frames with ``k * seconds <= time < (k + 1) * seconds``.
    A frame whose time is earlier than the window the sequence has reached (a
    timestamp that goes back) joins the window open at that point, so that the
    rule can be applied while decoding.

    Parameters
    ----------
    times, keys : sequence of float
        Each frame's time in seconds and sharpness key (higher is sharper).
    seconds : float
        Window length, positive.

    Returns
    -------
    list of int
        Positions of the chosen frames, in time order.

    Examples
    --------
    >>> sharpest_per_window([0.0, 0.2, 0.4, 0.6, 0.8], [1, 5, 2, 2, 9], 0.5)
    [1, 4]
    """
    _check_pairs(times, keys)
    picker = WindowPicker(seconds)
    pairs = enumerate(zip(times, keys, strict=True))
    chosen = [best for i, (t, k) in pairs for best in picker.add(i, t, k)]
    return chosen + picker.finish()


def window_seconds(duration: float, count: int) -> float:
    """The window length that cuts a clip of ``duration`` seconds into ``count`` windows.

    Examples
    --------
    >>> window_seconds(10.0, 4)
    2.5
    """
    duration = check_real(duration, "duration", positive=True)
    count = check_int(count, "count", minimum=1)
    return duration / count


def at_least(keys: Sequence[float], floor: float | None) -> list[int]:
    """Positions of the keys at or above ``floor`` (all of them when it is None).

    Examples
    --------
    >>> at_least([3.0, 1.0, 2.0], 2.0)
    [0, 2]
    """
    return [i for i, key in enumerate(keys) if floor is None or key >= floor]


def sharpest_spaced(
    times: Sequence[float], keys: Sequence[float], count: int, min_gap: float
) -> list[int]:
    """The ``count`` sharpest frames, no two closer than ``min_gap`` seconds.

    Greedy non-maximum suppression in time: take the sharpest frame left,
    drop every frame less than ``min_gap`` from it, and repeat until ``count``
    frames are taken or none is left. Ties go to the earlier frame. With
    ``min_gap=0`` it is the ``count`` sharpest frames.

    Parameters
    ----------
    times, keys : sequence of float
        Each frame's time in seconds and sharpness key (higher is sharper).
    count : int
        How many frames at most, at least 1.
    min_gap : float
        Seconds, at least 0: chosen frames are at least this far apart.

    Returns
    -------
    list of int
        Positions of the chosen frames, in time order.

    Examples
    --------
    >>> times = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    >>> sharpest_spaced(times, [1, 9, 8, 2, 7, 3], 2, 0.25)
    [1, 4]
    >>> sharpest_spaced(times, [1, 9, 8, 2, 7, 3], 3, 0.0)
    [1, 2, 4]
    """
    _check_pairs(times, keys)
    count = check_int(count, "count", minimum=1)
    min_gap = _check_gap(min_gap)
    order = sorted(range(len(keys)), key=lambda i: (-keys[i], i))
    chosen: list[int] = []
    taken: list[float] = []  # times of the chosen frames, sorted
    for i in order:
        if len(chosen) == count:
            break
        if _near(taken, times[i], min_gap):
            continue
        chosen.append(i)
        bisect.insort(taken, times[i])
    return sorted(chosen)


def _check_gap(min_gap: float) -> float:
    gap = check_real(min_gap, "min_gap")
    if gap < 0:
        raise ValueError(f"min_gap must be at least 0 seconds; got {min_gap!r}")
    return gap


def _near(sorted_times: list[float], time: float, gap: float) -> bool:
    """Whether a time in ``sorted_times`` lies less than ``gap`` from ``time``."""
    at = bisect.bisect_left(sorted_times, time)
    neighbours = sorted_times[max(0, at - 1) : at + 1]
    return any(abs(other - time) < gap for other in neighbours)


class WindowPicker:
    """:func:`sharpest_per_window` one frame at a time, holding one candidate.

    :meth:`add` returns the pick of each window the new frame closes (the
    window's best frame is known once a frame of a later window arrives);
    :meth:`finish` the last one. The caller keeps the pixels of the frame that
    is :attr:`best` and may let go of every other.

    Examples
    --------
    >>> picker = WindowPicker(0.5)
    >>> [picker.add(i, t, k) for i, (t, k) in enumerate([(0.0, 1), (0.2, 5), (0.6, 2)])]
    [[], [], [1]]
    >>> picker.best, picker.finish()
    (2, [2])
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = check_real(seconds, "seconds", positive=True)
        self.window: int | None = None
        self.best: int | None = None
        self.best_key = -math.inf

    def add(self, position: int, time: float, key: float) -> list[int]:
        """Take one frame; return the pick of the window it closes, if any."""
        window = window_of(time, self.seconds)
        closed: list[int] = []
        if self.window is None or window > self.window:
            if self.best is not None:
                closed.append(self.best)
            self.window, self.best, self.best_key = window, None, -math.inf
        if self.best is None or key > self.best_key:
            self.best, self.best_key = position, key
        return closed

    def finish(self) -> list[int]:
        """The pick of the last window (none if no frame came)."""
        best, self.best = self.best, None
        return [] if best is None else [best]


class SpacedCandidates:
    """:func:`sharpest_spaced` one frame at a time, keeping only the frames it may still choose.

    :meth:`add` takes each frame in time order and returns the positions of
    the frames it can now rule out, whose pixels the caller may let go of;
    after :meth:`finish`, :meth:`choose` gives the answer, equal to
    ``sharpest_spaced`` of all the frames. The frames not ruled out are
    :attr:`candidates`.

    How: without the count, the greedy rule keeps a frame exactly when no
    kept frame "ahead" of it (a higher key, or the same key and earlier) lies
    within ``min_gap``; with the count it keeps the first ``count`` of those
    in its order. Whether a frame is kept without the count is settled once
    the stream has gone ``min_gap`` past it and every frame ahead of it
    within the gap is settled, or at once when one of those is kept. So the
    settled kept frames are known as the stream goes; only the best
    ``count`` of them, and the frames not settled yet that are not behind
    all of those, can still be chosen.

    Frames wait to be settled while sharper ones keep coming within the gap:
    how many are waiting depends on the footage (a clip that grows sharper
    steadily for a long time keeps a long stretch), so the caller should be
    ready to keep candidates elsewhere than in memory.

    Examples
    --------
    >>> spaced = SpacedCandidates(2, 0.25)
    >>> for i, (t, k) in enumerate(zip([0.0, 0.1, 0.2, 0.3, 0.4, 0.5], [1, 9, 8, 2, 7, 3])):
    ...     _ = spaced.add(i, t, k)
    >>> _ = spaced.finish()
    >>> spaced.choose()
    [1, 4]
    """

    def __init__(self, count: int, min_gap: float) -> None:
        self.count = check_int(count, "count", minimum=1)
        self.min_gap = _check_gap(min_gap)
        self.times: list[float] = []
        self.keys: list[float] = []
        self._status: list[bool | None] = []  # kept without the count; None: not settled
        self._waiting: list[int] = []  # frames ahead of each frame within the gap, unsettled
        self._complete = 0  # frames before this one have every neighbour in
        self._best: list[tuple[float, int]] = []  # heap of the best kept: (key, -position)
        self._held: set[int] = set()

    @property
    def candidates(self) -> list[int]:
        """Positions of the frames that may still be chosen, in time order."""
        return sorted(self._held)

    def _ahead(self, g: int, f: int) -> bool:
        """Whether frame ``g`` comes before frame ``f`` in the greedy rule's order."""
        return self.keys[g] > self.keys[f] or (self.keys[g] == self.keys[f] and g < f)

    def _within(self, g: int) -> list[int]:
        """The other frames less than ``min_gap`` from frame ``g``, measured as the rule does."""
        times, gap, time = self.times, self.min_gap, self.times[g]
        # A slightly wider search, then the rule's own comparison (floats round).
        lo = bisect.bisect_left(times, time - 2 * gap)
        hi = bisect.bisect_right(times, time + 2 * gap)
        return [j for j in range(lo, hi) if j != g and abs(times[j] - time) < gap]

    def add(self, position: int, time: float, key: float) -> list[int]:
        """Take the next frame (positions count from 0 in order); return those ruled out."""
        if position != len(self.times):
            raise ValueError(f"positions must come in order from 0; got {position}")
        if not (math.isfinite(time) and math.isfinite(key)):
            raise ValueError("time and key must be finite numbers")
        if self.times and time < self.times[-1]:
            raise ValueError("times must not decrease")
        self.times.append(time)
        self.keys.append(key)
        self._status.append(None)
        self._waiting.append(0)
        self._held.add(position)
        before = set(self._held)
        self._complete_up_to(time)
        if self._behind_best(position):
            self._held.discard(position)
        return sorted(before - self._held)

    def finish(self) -> list[int]:
        """Settle every frame (the stream has ended); return the positions ruled out."""
        before = set(self._held)
        self._complete_up_to(math.inf)
        return sorted(before - self._held)

    def choose(self) -> list[int]:
        """The answer of :func:`sharpest_spaced` over every frame added, in time order.

        Call :meth:`finish` first.
        """
        if self._complete < len(self.times):
            raise ValueError("call finish() before choose(): frames are not settled yet")
        return sorted(-position for _, position in self._best)

    def _complete_up_to(self, now: float) -> None:
        """Frames whose neighbourhood the stream has passed: count what they wait for."""
        while self._complete < len(self.times) and now - self.times[self._complete] >= self.min_gap:
            f = self._complete
            self._complete += 1
            if self._status[f] is not None:
                continue
            self._waiting[f] = sum(
                1 for g in self._within(f) if self._ahead(g, f) and self._status[g] is None
            )
            if self._waiting[f] == 0:
                self._settle(
                    f, not any(self._status[g] for g in self._within(f) if self._ahead(g, f))
                )

    def _settle(self, first: int, kept: bool) -> None:
        """Settle a frame, and every frame that this lets settle in turn."""
        work = [(first, kept)]
        while work:
            f, kept = work.pop()
            if self._status[f] is not None:
                continue
            self._status[f] = kept
            if kept:
                self._keep(f)
            else:
                self._held.discard(f)
            for h in self._within(f):
                if self._status[h] is not None or not self._ahead(f, h):
                    continue
                if kept:
                    work.append((h, False))  # a kept frame ahead of it within the gap
                    continue
                self._waiting[h] -= 1
                if h < self._complete and self._waiting[h] <= 0:
                    ahead = (g for g in self._within(h) if self._ahead(g, h))
                    work.append((h, not any(self._status[g] for g in ahead)))

    def _keep(self, f: int) -> None:
        """A settled kept frame: one of the best ``count`` of them, or out."""
        entry = (self.keys[f], -f)
        if len(self._best) < self.count:
            heapq.heappush(self._best, entry)
            return
        if entry > self._best[0]:
            _, out = heapq.heapreplace(self._best, entry)
            self._held.discard(-out)
            # Waiting frames behind every one of the best can no longer be chosen.
            self._held = {h for h in self._held if not self._behind_best(h)}
        else:
            self._held.discard(f)

    def _behind_best(self, f: int) -> bool:
        """Whether ``count`` settled kept frames are all ahead of frame ``f``."""
        return (
            len(self._best) == self.count
            and self._status[f] is None
            and ((self.keys[f], -f) < self._best[0])
        )
