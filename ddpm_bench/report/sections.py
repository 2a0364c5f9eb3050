"""The report's sections on what other commands left in the folder: the verdicts of ``sweep --decide``
(decisions.json), the convergence summary (convergence.json), and the paired comparisons of the default pairs from the
stored features."""

from __future__ import annotations

from pathlib import Path

from ddpm_bench.report.text import EDGE_VERDICTS, flagged, verdict_text
from ddpm_bench.store import records as R
from ddpm_bench.store.folder_files import read_convergence, read_decisions
from ddpm_bench.verdicts import StoredPoints, default_comparisons


def decisions_section(folder: Path) -> list[str]:
    """The verdicts of ``sweep --decide`` (decisions.json): each comparison at the N it was decided at."""
    decisions = read_decisions(folder)
    if not decisions:
        return []
    first = decisions[0]
    rows = ["| a | b | FID(a) − FID(b) | interval | N | verdict |", "|---|---|---|---|---|---|"]
    rows += [f"| {d['a']} | {d['b']} | {d['difference']:+.3f} | [{d['low']:+.3f}, {d['high']:+.3f}] | {d['n']} | "
             f"{flagged(d['verdict'], d.get('edge', False))} |" for d in decisions]
    return [f"Decided with adaptive N (`--decide`): each comparison was looked at with N = "
            f"{', '.join(map(str, first['looks']))} until its paired interval excluded 0; each look's interval is at "
            f"{first['confidence']:.1%} confidence, so that all looks together err at most 5 % of the time. Only the "
            "points of comparisons still tied got more samples.", "\n".join(rows),
            EDGE_VERDICTS if any(d.get("edge") for d in decisions) else ""]


def convergence_section(folder: Path) -> list[str]:
    """Each point's distance to the ODE's solution from the same x_T (``ddpm-bench convergence``, convergence.py)."""
    summary = read_convergence(folder)
    if not summary:
        return []
    rows = ["| point | NFE | ms / image | mean distance | 95 % interval | relative |", "|---|---|---|---|---|---|"]
    rows += [f"| {p['label']} | {p['nfe']} | {p['seconds_per_image'] * 1000:.1f} | {p['mean']:.3f} | "
             f"[{p['low']:.3f}, {p['high']:.3f}] | {p['relative']:.3f} |" for p in summary["points"]]
    verdicts = ["| a | b | distance(a) − distance(b) | 95 % interval | verdict |", "|---|---|---|---|---|"]
    verdicts += [f"| {d['a']} | {d['b']} | {d['difference']:+.3f} | [{d['low']:+.3f}, {d['high']:+.3f}] | "
                 f"{d['verdict']} |" for d in summary["comparisons"]]
    return [
        "## Convergence to the solution",
        f"How far each point's sample i lands from sample i of `{summary['solution']}` (the same x_T solved with "
        f"many steps, in `{summary['solution_folder']}`): the mean distance in the `{summary['backbone']}` feature "
        f"space over the first N = {summary['n']} samples (seed {summary['seed']}), with its 95 % Student-t "
        "interval; relative: against the distance between two unrelated samples of the solution "
        f"({summary['scale']:.3f}), so 0 is the solution itself and 1 another digit. For deterministic samplers of "
        "the same ODE (DDIM with eta = 0, PNDM) this is the discretisation error; stochastic ones (DDPM, DDIM with "
        "eta > 0) do not approach it with more steps. It says how close a sampler comes to the exact ODE, not how "
        "real its samples look: read it beside FID.",
        "\n".join(rows),
        "The default pairs, compared sample by sample (the mean of distance(a) − distance(b) over the samples, with "
        "its paired 95 % t interval): a difference is called only when the interval excludes 0.",
        "\n".join(verdicts)]


def comparison_lines(stored: StoredPoints, margin: float) -> list[str]:
    """The default pairs, each with the rule's verdict at ``margin`` (the answer's), and how much narrower pairing
    made the intervals."""
    paired, ratio = default_comparisons(stored)
    rows = ["| a | b | FID(a) − FID(b), 95 % interval | a is |", "|---|---|---|---|"]
    rows += [f"| {d.a} | {d.b} | {d.difference:+.2f} [{d.low:+.2f}, {d.high:+.2f}] | {verdict_text(d, margin)} |"
             for d in paired]
    first = stored.points[0].record
    return [
        f"Every sample i of every point started from the same initial noise (seed {first.get(R.SEED)}), so two points "
        "are compared sample by sample over the samples both have: the bootstrap draws the same sample indices for "
        "both, and what the two samplers share cancels in the difference. Pairs: every two schedulers at the same "
        "step count and at the nearest cost (NFE), and each scheduler's consecutive step counts. Verdicts by the "
        f"answer's rule, margin {margin:.2f}: better (the interval below 0), as good as (its upper end at most the "
        "margin), worse (above 0), worse by more than the margin, else undecided. `ddpm-bench compare DIR` prints "
        "these, with KID, and any other pair.",
        "\n".join(rows),
        EDGE_VERDICTS if any(d.at_edge() for d in paired) else "",
        (f"Pairing made the intervals {1 / ratio:.1f} times narrower than unpaired ones (median width ratio "
         f"{ratio:.2f} over {len(paired)} pairs)." if ratio else ""),
    ]
