"""The one place that decides: points of a results folder judged by the one rule (``rule``), the answer per time
budget built from it (``budgets``), the paper claims checked with it (``expectations``). The report and the CLI
import from here and print what it returns."""

from ddpm_bench.stats import REFINE, REPLICATES, Difference
from ddpm_bench.stats.adaptive import EDGE_REASON, reach_text
from ddpm_bench.verdicts.budgets import Answer, Budget, answer, answer_data, reference_point
from ddpm_bench.verdicts.comparisons import StoredPoint, StoredPoints, stored_points
from ddpm_bench.verdicts.expectations import expectations
from ddpm_bench.verdicts.rule import (
                                      TIME_TOLERANCE,
                                      UNDECIDED,
                                      Margin,
                                      chosen_at_edge,
                                      default_comparisons,
                                      ended_out_of_reach,
                                      equal_nfe_time_spread,
                                      pareto_front,
                                      set_aside,
                                      verdict,
)

__all__ = [
    "Answer", "Budget", "Difference", "EDGE_REASON", "Margin", "REFINE", "REPLICATES", "StoredPoint", "StoredPoints",
    "TIME_TOLERANCE", "UNDECIDED", "answer", "answer_data", "chosen_at_edge", "default_comparisons",
    "ended_out_of_reach", "equal_nfe_time_spread", "expectations", "pareto_front", "reach_text", "reference_point",
    "set_aside", "stored_points", "verdict",
]
