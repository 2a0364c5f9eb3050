"""``ddpm-bench convergence``: how far each sample lands from where a near-exact solver takes the same initial noise.

DDIM with eta = 0 and PNDM integrate the same probability-flow ODE (Song et al. 2021, DDIM eq. 14; Liu et al. 2022,
PNDM section 3); with more steps their sample i approaches the ODE's solution from sample i's x_T. Every point of a
sweep draws sample i from the same x_T, so the discretisation error of a point can be measured sample by sample: the
distance from its sample i to the *solution*, sample i of a point with many steps, averaged over samples. The
default solution is DDIM with eta = 0 at 1,000 steps without clipping x_0 (``ddim:clip_sample=false:1000``): the
model's own ODE, which PNDM and DPM-Solver integrate. A sampler that clips its x_0 prediction (DDIM, when the model's
config sets ``clip_sample`` as DDPM-trained models do) solves a slightly different equation and converges to its own
limit; measure it against ``ddim:1000`` to see its discretisation error alone (on a random-weight UNet, whose x_0
predictions are clipped almost everywhere, PNDM at 32 steps lands 6 times farther from the clipped solution than
from the unclipped one). It ranks step counts and solvers with far fewer samples than FID needs, because it
compares each sample with its own target rather than two distributions.

- The solution is sampled once into ``DIR/solution-nN`` (an ordinary sweep folder of the same model, seed and
  settings, resumable) for the first N sample indices (64 by default), so it pairs with every point of DIR.
- Distances are taken in the backbone's feature space (the space FID is computed in, from the features the sweep
  kept, so nothing is sampled again): ``d_i = ||f(x_i) - f(s_i)||``. They are also given relative to the distance
  between two unrelated solution samples (the RMS of ``||f(s_i) - f(s_(i+1))||``): 0 is the solution itself, 1 is as
  far as another digit.
- Each point's mean distance has a 95 % Student-t interval (a mean is linear: no resampling needed); two points are
  compared by the per-sample difference ``d_i(a) - d_i(b)``, a paired t interval, and called different only when its
  interval excludes 0.
- A stochastic sampler (DDPM, DDIM with eta > 0) does not approach the ODE's solution with more steps: its distance
  measures how far its noise takes it, not discretisation error.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import scipy.stats

from ddpm_bench.errors import BenchError
from ddpm_bench.runs.sweep import run_sweep
from ddpm_bench.schedulers.specs import parse_scheduler_spec
from ddpm_bench.settings import DEFAULTS, RunSettings, SweepConfig, folder_settings
from ddpm_bench.stats import CONFIDENCE, Difference
from ddpm_bench.store import records as R
from ddpm_bench.store.folder_files import write_convergence
from ddpm_bench.util.options import parse_point
from ddpm_bench.verdicts.comparisons import StoredPoint, default_pairs, load_points


@dataclasses.dataclass(frozen=True)
class Distance:
    """A point's mean feature distance to the solution over its first ``n`` samples, with its 95 % interval."""

    label: str
    steps: int
    nfe: int
    seconds_per_image: float
    mean: float
    low: float
    high: float
    relative: float
    n: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def sample_distances(features: np.ndarray, solution: np.ndarray) -> np.ndarray:
    """``||f(x_i) - f(s_i)||`` for each sample index i the two share (the first min(N) samples)."""
    n = min(len(features), len(solution))
    return np.linalg.norm(np.asarray(features[:n], np.float64) - np.asarray(solution[:n], np.float64), axis=1)


def unrelated_scale(solution: np.ndarray) -> float:
    """The RMS feature distance between two solution samples from different x_T (i and i+1): what "as far as
    another sample" means in this feature space."""
    solution = np.asarray(solution, np.float64)
    return float(np.sqrt(np.mean(np.sum((solution - np.roll(solution, 1, axis=0)) ** 2, axis=1))))


def mean_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """The mean of ``values`` and its Student-t interval (scipy's one-sample t-test). A mean is linear, so no
    resampling is needed, and the t interval stays honest at small N, where a bootstrap of 4 or 8 samples is far
    too narrow."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2 or np.ptp(values) == 0:
        mean = float(values.mean())
        return mean, mean, mean
    interval = scipy.stats.ttest_1samp(values, 0.0).confidence_interval(confidence)
    return float(values.mean()), float(interval.low), float(interval.high)


def paired_difference(a: np.ndarray, b: np.ndarray, labels: tuple[str, str]) -> Difference:
    """Mean of d_i(a) - d_i(b) with its paired t interval."""
    difference, low, high = mean_interval(np.asarray(a) - np.asarray(b))
    return Difference(*labels, "convergence", difference, low, high, True, len(a), at_n=difference, method="paired t")


def solution_config(settings: RunSettings, solution: str, n: int) -> SweepConfig:
    """The sweep that samples the solution: the folder's model, seed, metric and runtime; one point; N samples."""
    scheduler, steps = parse_point(solution)
    values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(RunSettings)}
    return SweepConfig(**values, schedulers=[scheduler], steps=[steps], n=n, grid_samples=min(36, n)).validate()


def run_convergence(folder: str | Path, solution: str = DEFAULTS["convergence_solution"],
                    n: int = DEFAULTS["convergence_n"], *, progress: Optional[bool] = None,
                    log: Callable[[str], None] = lambda line: None) -> dict:
    """Every point of ``folder`` against ``solution`` (sampled for the first ``n`` indices if not yet there): each
    point's mean distance with its interval, and the report's default pairs compared sample by sample. Written to
    ``folder/convergence.json``; returned."""
    folder = Path(folder)
    points = load_points([folder])
    config = solution_config(folder_settings(folder), solution, n)
    solution_folder = folder / f"solution-n{n}"
    log(f"the solution: {solution} for the first {n} samples, in {solution_folder}")
    run_sweep(config, solution_folder, progress=progress, log=log)
    solution = R.point_label(parse_scheduler_spec(config.schedulers[0]).label, config.steps[0])  # as records label it
    solved = [p for p in load_points([solution_folder]) if p.label == solution]
    if not solved:
        raise BenchError(f"the solution {solution} failed to sample; see {solution_folder / R.RECORDS}")
    reference = solved[0]
    features = reference.features()
    scale = unrelated_scale(features)
    paired = [p for p in points if p.pairs_with(reference) and p.label != solution]
    if not paired:
        raise BenchError(f"no point of {folder} started from the solution's initial noise (same model and seed)")
    distances = {p.label: sample_distances(p.features(), features) for p in paired}
    size = min(len(d) for d in distances.values())
    results = [point_distance(p, distances[p.label][:size], scale) for p in paired]
    comparisons = [paired_difference(distances[a.label][:size], distances[b.label][:size], (a.label, b.label))
                   for a, b in default_pairs(paired)]
    summary = {"solution": solution, "n": size, "seed": reference.record.get(R.SEED),
               "backbone": reference.record.get(R.BACKBONE), "scale": scale, "solution_folder": solution_folder.name,
               "points": [r.to_dict() for r in results], "comparisons": [d.to_dict() for d in comparisons]}
    write_convergence(folder, summary)
    return summary


def point_distance(point: StoredPoint, distances: np.ndarray, scale: float) -> Distance:
    mean, low, high = mean_interval(distances)
    record = point.record
    return Distance(point.label, int(record[R.STEPS]), int(record[R.NFE]), float(record[R.SECONDS_PER_IMAGE]), mean,
                    low, high, mean / scale, len(distances))
