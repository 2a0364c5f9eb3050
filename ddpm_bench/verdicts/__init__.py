"""The one place that decides: points of a results folder judged by the one rule (``rule``), the paper claims checked
with it (``expectations``). The report and the CLI import from here and print what it returns."""

from ddpm_bench.stats import REFINE, REPLICATES, Difference
from ddpm_bench.stats.adaptive import EDGE_REASON, reach_text
from ddpm_bench.verdicts.comparisons import (
                                             StoredPoint,
                                             StoredPoints,
                                             default_pairs,
                                             load_points,
                                             pairs_to_compare,
                                             stored_points,
                                             width_ratio,
)
from ddpm_bench.verdicts.expectations import expectations
from ddpm_bench.verdicts.rule import (
                                             TIME_TOLERANCE,
                                             Pick,
                                             Tie,
                                             best_and_ties,
                                             budget_front,
                                             chosen_at_edge,
                                             decided_front,
                                             ended_out_of_reach,
                                             equal_nfe_time_spread,
                                             order,
                                             pareto_front,
                                             quality_pick,
                                             set_aside,
)

__all__ = [
    "Difference", "EDGE_REASON", "REFINE", "REPLICATES", "TIME_TOLERANCE", "Pick", "StoredPoint", "StoredPoints", "Tie",
    "best_and_ties", "budget_front", "chosen_at_edge", "decided_front", "default_pairs", "ended_out_of_reach",
    "equal_nfe_time_spread", "expectations", "load_points", "order", "pairs_to_compare", "pareto_front",
    "quality_pick", "reach_text", "set_aside", "stored_points", "width_ratio",
]
