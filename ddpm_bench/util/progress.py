"""Progress that works everywhere: a tqdm bar on a terminal; elsewhere (a file, a CI log) one plain line at least
every ``interval`` seconds of work and one at every point's end, each with the time left for the point and the run.

Time left is estimated from work = model calls x images: a point's work is its NFE times N, known before it starts,
and the speed (seconds per unit of work) is what has been measured so far in this run, so the estimate sharpens as
the run goes. Before the first model call there is no speed yet, and the line says so.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Optional


def duration(seconds: float) -> str:
    """``45 s``, ``3 min 05 s``, ``2 h 04 min``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def mode_for(progress: Optional[bool]) -> str:
    """``bar`` on a terminal, ``lines`` elsewhere, ``off`` when asked for quiet (``progress=False``)."""
    if progress is False:
        return "off"
    return "bar" if progress or sys.stderr.isatty() else "lines"


class RunProgress:
    """The progress of a run of points: ``point(...)`` for each, then ``call(rows)`` after every model call."""

    def __init__(self, work: list[float], *, mode: str = "lines", interval: float = 10.0,
                 write: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
                 clock: Callable[[], float] = time.monotonic):
        self.work, self.mode, self.interval, self.write, self.clock = list(work), mode, interval, write, clock
        self.started = clock()
        self.done_work = 0.0      # finished points' work
        self.busy_seconds = 0.0   # time spent on it
        self.number = 0

    def point(self, label: str, n: int, nfe: int) -> None:
        """A new point starts: ``n`` images, ``nfe`` model calls each."""
        self.number += 1
        self.label, self.n, self.nfe = label, n, max(1, nfe)
        self.point_started = self.last_line = self.clock()
        self.point_work = 0.0
        self.images = 0

    def call(self, rows: int) -> None:
        """One model call on ``rows`` images has finished."""
        self.point_work += rows
        if self.mode == "lines" and self.clock() - self.last_line >= self.interval:
            self._line()

    def batch(self, rows: int) -> None:
        """A batch of ``rows`` images is done."""
        self.images += rows

    def end(self) -> str:
        """The point is done (or failed): what is left for the run, as a phrase for the point's closing line."""
        self.done_work += self.work[self.number - 1]
        self.busy_seconds += self.clock() - self.point_started
        later = self.work[self.number:]
        return f"{self._left(later, 0)} left for the run" if later else "run complete"

    def _speed(self) -> Optional[float]:
        """Seconds per unit of work measured so far (finished points and the one under way)."""
        work = self.done_work + self.point_work
        return (self.busy_seconds + self.clock() - self.point_started) / work if work else None

    def _left(self, later: list[float], this_point: float) -> str:
        speed = self._speed()
        if speed is None:
            return "time still unknown"
        return f"about {duration(speed * (this_point + sum(later)))}"

    def _line(self) -> None:
        self.last_line = self.clock()
        point_work = self.work[self.number - 1]
        remaining = max(0.0, point_work - self.point_work)
        speed = self._speed()
        this = f"about {duration(speed * remaining)}" if speed else "time still unknown"
        self.write(f"[{self.number}/{len(self.work)}] {self.label}: {self.images} of {plural(self.n, 'sample')} done, "
                   f"{duration(self.clock() - self.point_started)} elapsed, {this} left for the point, "
                   f"{self._left(self.work[self.number:], remaining)} for the run")
