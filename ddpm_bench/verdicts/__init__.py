"""The one place that decides: points of a results folder judged by the one rule (``rule``), the paper claims checked
with it (``expectations``). The report and the CLI import from here and print what it returns."""

from ddpm_bench.stats import REFINE, REPLICATES, Difference
from ddpm_bench.stats.adaptive import EDGE_REASON, reach_text
from ddpm_bench.verdicts.comparisons import StoredPoint, StoredPoints, stored_points
from ddpm_bench.verdicts.expectations import expectations
from ddpm_bench.verdicts.rule import (
                                      TIME_TOLERANCE,
                                      Pick,
                                      Tie,
                                      best_and_ties,
                                      budget_front,
                                      chosen_at_edge,
                                      default_comparisons,
                                      ended_out_of_reach,
                                      equal_nfe_time_spread,
                                      quality_pick,
                                      set_aside,
)

__all__ = [
    "Difference", "EDGE_REASON", "REFINE", "REPLICATES", "TIME_TOLERANCE", "Pick", "StoredPoint", "StoredPoints", "Tie",
    "best_and_ties", "budget_front", "chosen_at_edge", "default_comparisons", "ended_out_of_reach",
    "equal_nfe_time_spread", "expectations", "quality_pick", "reach_text", "set_aside", "stored_points",
]
