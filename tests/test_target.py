"""The target search: the step search on known answers, points grown without re-sampling, the search run end to end
on a tiny model (records, target.json, resume after a crash, report and compare), and its command line."""

import json

import numpy as np
import processes
import pytest
import torch

from ddpm_bench.errors import ConfigError
from ddpm_bench.report.document import write_report
from ddpm_bench.report.text import edge_note
from ddpm_bench.runs.compare import run_compare
from ddpm_bench.runs.decide import planned_pairs
from ddpm_bench.runs.sweep import run_sweep
from ddpm_bench.runs.target import Look, fewest_met, run_target, search_steps
from ddpm_bench.runs.workbench import PointRequest, PointRun, Workbench
from ddpm_bench.schedulers.specs import parse_scheduler_spec
from ddpm_bench.settings import RunSettings, TargetConfig, config_from
from ddpm_bench.stats import REFINE, REPLICATES, PointFeatures, point_intervals
from ddpm_bench.stats.adaptive import (
    FAILED,
    MET,
    NOT_MET,
    OUT_OF_REACH,
    PAIRING_HELPS,
    UNDECIDED,
    look_confidence,
    paired_fid_look,
    replicates_for,
    samples_for_margin,
)
from ddpm_bench.store.folder_files import read_decisions
from ddpm_bench.store.records import RECORDS, REPORT, TARGET, load_frame, read_records, save_features
from ddpm_bench.verdicts.comparisons import stored_points


def threshold(needed, record=None):
    def outcome(steps):
        if record is not None:
            record.append(steps)
        return MET if steps >= needed else NOT_MET
    return outcome


@pytest.mark.parametrize("needed", [1, 2, 5, 6, 37, 64, 999, 1000])
def test_the_search_finds_the_fewest_steps_that_meet_the_target(needed):
    tried = []
    path = search_steps(threshold(needed, tried), 5, 1000)
    assert min(steps for steps, outcome in path if outcome == MET) == needed
    assert len(tried) == len(set(tried))  # no step count judged twice
    assert len(tried) <= 2 * int(np.ceil(np.log2(1000))) + 1


def test_the_search_says_when_the_most_steps_do_not_reach_the_target():
    path = search_steps(lambda steps: UNDECIDED if steps > 50 else NOT_MET, 5, 100)
    assert [steps for steps, _ in path] == [5, 10, 20, 40, 80, 100]
    assert all(outcome != MET for _, outcome in path)


def test_the_search_stops_at_a_step_count_out_of_reach():
    tried = []
    path = search_steps(lambda steps: tried.append(steps) or (NOT_MET if steps < 10 else OUT_OF_REACH), 5, 1000)
    assert path == [(5, NOT_MET), (10, OUT_OF_REACH)] and tried == [5, 10]


def test_the_samples_a_match_needs_grow_with_the_square_of_the_width_over_the_margin():
    assert samples_for_margin(256, 2.0, 0.2) == 25_600
    assert samples_for_margin(256, 0.1, 0.2) == 64  # already narrow enough at fewer samples
    assert samples_for_margin(256, 2.0, 0.0) is None  # no N shows a difference of at most 0


def test_an_answer_at_the_edge_comes_with_the_fewest_steps_met_clear_of_it():
    def look(steps, outcome, edge=False):
        return Look(steps, 512, outcome, edge=edge)

    path = [look(5, UNDECIDED), look(10, UNDECIDED), look(20, MET), look(15, MET), look(12, UNDECIDED),
            look(13, UNDECIDED), look(14, MET, edge=True)]  # results/target-match-ddim100-n512's PNDM path
    assert fewest_met(path) == (14, 15, None)
    assert fewest_met(path[:-1]) == (15, 15, None)
    assert fewest_met([look(2, MET, edge=True), look(1, NOT_MET)]) == (2, None, None)
    assert fewest_met([look(5, NOT_MET), look(10, UNDECIDED, edge=True)]) == (None, None, 10)
    # results/target-match-ddim100's PNDM path: 19 steps, but 17 was undecided at the edge (and 20 met at it)
    path = [look(5, UNDECIDED), look(10, UNDECIDED), look(20, MET, edge=True), look(15, UNDECIDED),
            look(17, UNDECIDED, edge=True), look(18, UNDECIDED), look(19, MET)]
    assert fewest_met(path) == (19, 19, 17)
    result = {"met": True, "steps": 19, "firm_steps": 19, "edge_below": 17, "path": [vars(k) for k in path]}
    assert edge_note(result) == " (17 steps missed it at the edge)"
    result = {"met": True, "steps": 14, "firm_steps": 15, "edge_below": None,
              "path": [vars(look(15, MET)), vars(look(14, MET, edge=True))]}
    assert edge_note(result) == " (at the edge; 15 steps clear of it)"


def test_a_failing_step_count_counts_as_not_reaching_the_target():
    path = search_steps(lambda steps: FAILED if steps < 4 else MET, 5, 100)
    assert min(s for s, o in path if o == MET) == 4


def test_a_point_grown_to_more_samples_equals_the_point_sampled_whole(env):
    bench = Workbench.open(RunSettings(model=str(env / "model"), batch_size=4))
    spec = parse_scheduler_spec("ddim")
    images = {"whole": [], "grown": []}
    def keep(name):
        return lambda batch: images[name].append(batch.images)

    whole = bench.run_point(PointRequest(spec, 3, 12, progress=False, on_batch=keep("whole")))
    first = bench.run_point(PointRequest(spec, 3, 5, progress=False, on_batch=keep("grown")))
    grown = bench.extend_point(first, PointRequest(spec, 3, 12, progress=False, on_batch=keep("grown")))
    assert torch.equal(torch.cat(images["grown"]), torch.cat(images["whole"]))  # the same 12 samples
    # features agree to float32 rounding (the feature network's batches were cut differently)
    np.testing.assert_allclose(grown.features, whole.features, atol=1e-5)
    for field in ("n", "fid", "kid", "fid_low", "fid_high", "kid_low", "fd_infinity", "prdc_recall", "near_copies",
                  "images", "nfe"):
        assert grown.record[field] == pytest.approx(whole.record[field], rel=1e-6, abs=1e-9), field


def target(env, **values):
    settings = dict(model=str(env / "model"), schedulers=["ddim"], first_steps=2, max_steps=4, start_n=8, max_n=16,
                    batch_size=4, grid_samples=4)
    return TargetConfig(**{**settings, **values})


def test_a_reachable_target_is_met_at_the_first_look_and_every_point_is_a_record(env, tmp_path):
    config = target(env, fid=1e6, schedulers=["ddim", "pndm:skip_prk_steps=true"])
    summary = run_target(config, tmp_path)
    results = {r["scheduler"]: r for r in summary["results"]}
    # met at 2 steps, so the bisection below it tries 1 step: also met, at the first look's N
    assert results["ddim"]["met"] and results["ddim"]["steps"] == 1 and results["ddim"]["n"] == 8
    assert [look["steps"] for look in results["ddim"]["path"]] == [2, 1]
    assert results["ddim"]["high"] <= 1e6
    frame = load_frame(tmp_path)
    assert set(zip(frame["scheduler"], frame["steps"])) >= {("ddim", 1), ("ddim", 2)}
    assert (frame["n"] == 8).all() and frame["features"].notna().all()
    assert json.loads((tmp_path / TARGET).read_text())["results"] == summary["results"]
    # both reached it: their times were taken again side by side, and a second run keeps them and samples nothing
    assert all("side by side" in r["timing"] for r in summary["results"])
    # every judged point was timed side by side too (the report's times and charts), the winners in more rounds
    judged = {(r["scheduler"], look["steps"]) for r in summary["results"] for look in r["path"]}
    rounds = {(t["scheduler"], t["steps"]): t["rounds"] for t in summary["timings"]}
    assert set(rounds) == judged and rounds[("ddim", 1)] == 3 and rounds[("ddim", 2)] == 1
    report = (tmp_path / REPORT).read_text() if (tmp_path / REPORT).exists() else write_report(tmp_path).read_text()
    for timing in summary["timings"]:
        assert f"| {timing['scheduler']} | {timing['steps']} | " in report
        assert f"{timing['seconds_per_image'] * 1000:.1f}" in report
    lines = []
    assert run_target(config, tmp_path, log=lines.append)["results"] == summary["results"]
    assert not any("sampling" in line or "timing" in line for line in lines)


def test_points_an_earlier_search_left_in_the_folder_are_timed_beside_the_others(env, tmp_path):
    # the first search judges ddim 2 and 4 steps, the second 2 and 1: its timings cover ddim:4 too (one round), so
    # that the report shows no time taken under other conditions (another run, another machine)
    missed = run_target(target(env, fid=1e-3), tmp_path)
    # a scheduler that missed the target shows the side-by-side time of the point it stopped at, as the report does
    (result,) = missed["results"]
    assert not result["met"] and result["timing"] == "side by side, one round of 4 images"
    assert [result["seconds_per_image"]] == [t["seconds_per_image"] for t in missed["timings"] if t["steps"] == 4]
    summary = run_target(target(env, fid=1e6), tmp_path)
    assert [look["steps"] for look in summary["results"][0]["path"]] == [2, 1]
    rounds = {(t["scheduler"], t["steps"]): t["rounds"] for t in summary["timings"]}
    assert rounds == {("ddim", 1): 3, ("ddim", 2): 1, ("ddim", 4): 1}
    report = write_report(tmp_path).read_text()
    assert "time of every point in the folder" in report and "times of their own sampling" not in report


def test_an_unreachable_target_takes_every_look_and_says_what_was_reached(env, tmp_path):
    lines = []
    summary = run_target(target(env, fid=1e-3), tmp_path, log=lines.append)
    (result,) = summary["results"]
    assert not result["met"] and result["steps"] == 4
    assert [look["steps"] for look in result["path"]] == [2, 4]
    assert result["path"][-1]["outcome"] == NOT_MET and result["low"] > 1e-3
    assert summary["sample_sizes"] == [8, 16] and summary["confidence"] == pytest.approx(0.975)
    # not met is decided at the first look (the interval is far above 0.001): no point grows
    assert not any("extending" in line for line in lines)


def decisions(summary):
    """What a search decided, without its timings (and features, which batching moves by float32 rounding)."""
    return [(r["scheduler"], r["steps"], r["met"], r["n"], [(k["steps"], k["n"], k["outcome"]) for k in r["path"]])
            for r in summary["results"]]


def test_an_undecided_point_grows_and_a_crashed_search_resumes_without_sampling_again(env, tmp_path):
    fresh = run_target(target(env, fid=1e-3, start_n=6, max_n=12, max_steps=2), tmp_path / "fresh")
    fid = fresh["results"][0]["path"][0]["fid"]  # a target inside the first look's interval: undecided there
    config = target(env, fid=fid, start_n=6, max_n=24, max_steps=2)
    lines = []

    def crash_after_growing(line):
        lines.append(line)
        if "extending" in line:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        run_target(config, tmp_path / "crashed", log=crash_after_growing)
    before = (tmp_path / "crashed" / RECORDS).read_text()
    resumed_lines = []
    resumed = run_target(config, tmp_path / "crashed", log=resumed_lines.append)
    uninterrupted = run_target(config, tmp_path / "whole")
    assert decisions(resumed) == decisions(uninterrupted)
    assert resumed["results"][0]["fid"] == pytest.approx(uninterrupted["results"][0]["fid"], rel=1e-6)
    assert (tmp_path / "crashed" / RECORDS).read_text().startswith(before)
    assert not any("sampling ddim at 2 steps" in line for line in resumed_lines)
    assert uninterrupted["results"][0]["n"] > 6
    assert [r["n"] for r in read_records(tmp_path / "whole" / RECORDS)][:2] == [6, 12]



def points_of_n_4_and_8(env, folder):
    """A search's folder holding ddim:1 at N = 4 and ddim:2 grown to N = 8, as a search grows an undecided point."""
    run_target(target(env, fid=1e6, start_n=4, max_n=8), folder)  # ddim:2 and ddim:1, each at N = 4
    records = read_records(folder / RECORDS)
    grown = [r for r in records if r["point"] == "ddim@2"][-1]
    point = PointRun(grown, None, np.load(folder / grown["features"]))
    bench = Workbench.open(RunSettings(model=str(env / "model"), batch_size=4))
    bigger = bench.extend_point(point, PointRequest(parse_scheduler_spec("ddim"), 2, 8, progress=False))
    save_features(bigger.features, folder / grown["features"])
    (folder / RECORDS).write_text("".join(json.dumps(r) + "\n" for r in [*records, {**grown, **bigger.record}]))
    assert sorted(load_frame(folder)["n"]) == [4, 8]
    return bench


def test_points_of_different_n_pair_over_the_samples_both_have(env, tmp_path):
    points_of_n_4_and_8(env, tmp_path)
    differences = run_compare([tmp_path], ["ddim:1,ddim:2"])
    assert all(d.paired and d.n == 4 for d in differences)


def test_the_report_compares_fids_of_points_of_different_n_over_the_samples_all_have(env, tmp_path):
    bench = points_of_n_4_and_8(env, tmp_path)
    grown = load_frame(tmp_path).set_index("point").loc["ddim@2"]
    first_four = point_intervals(PointFeatures(np.load(tmp_path / grown["features"])[:4],
                                               bench.scoring.stats_reference))
    assert first_four["fid"] != pytest.approx(grown["fid"])  # FID over 4 samples is not FID over 8
    stored = stored_points(tmp_path)  # as the report judges: against the reference the folder keeps
    assert stored.common_n == 4
    keys = ("fid", "fid_estimate", "fid_low", "fid_high", "interval_method")
    assert stored.fid_scores(stored.by_label["ddim:2"]) == {k: first_four[k] for k in keys}
    report = write_report(tmp_path).read_text()
    assert "FIDs are over each point's first 4 samples" in report
    row = next(line for line in report.splitlines() if line.startswith("| ddim | 2 |"))
    assert (f"| {first_four['fid_estimate']:.2f} [{first_four['fid_low']:.2f}, {first_four['fid_high']:.2f}] | "
            f"{first_four['fid']:.2f} |") in row
    assert f"| {grown['fid']:.2f} |" not in row


def test_matching_a_point_is_a_paired_non_inferiority_test(env, tmp_path):
    summary = run_target(target(env, match="ddim:4", margin=0.0, first_steps=4), tmp_path)
    (result,) = summary["results"]
    look = next(look for look in result["path"] if look["steps"] == 4)
    assert look["outcome"] == MET and look["difference"] == 0 and look["low"] == look["high"] == 0
    assert summary["target"] == {"match": "ddim:4", "margin": 0.0}


def test_a_match_the_pairing_cannot_narrow_stops_the_search_and_says_what_it_would_take(env, tmp_path):
    # DDPM draws fresh noise at every step, so over 50 steps its samples hardly follow their x_T: pairing DDIM with it
    # narrows nothing (with 4 steps it still did: paired 0.69 of unpaired here), and with a margin far inside the
    # interval more DDIM steps cannot help
    lines = []
    summary = run_target(target(env, match="ddpm:50", margin=1e-3, first_steps=1, max_steps=8), tmp_path,
                         log=lines.append)
    (result,) = summary["results"]
    # 1 step is decidedly worse; 2 steps undecided at N = 16 and out of reach: the search stops, not doubled to 8
    assert [(k["steps"], k["outcome"]) for k in result["path"]] == [(1, NOT_MET), (2, OUT_OF_REACH)]
    look = result["path"][-1]
    assert not result["met"] and look["n"] == 16
    half_width = (look["high"] - look["low"]) / 2
    assert half_width > 1e-3 and half_width >= PAIRING_HELPS * look["unpaired_half_width"]
    assert look["needed_n"] == samples_for_margin(look["n"], half_width, 1e-3) > 16
    assert any("out of reach" in line and f"N = {look['needed_n']:,}" in line for line in lines)
    report = write_report(tmp_path).read_text()
    assert "The search for ddim stopped at 2 steps, out of reach" in report


def test_a_single_look_gives_the_interval_compare_gives(env, tmp_path):
    # one look (start N = max N) is at 95 %, with the replicates of every other 95 % interval: the same claim about
    # the same pair reads the same in target.json and ``ddpm-bench compare`` (whose pairs the report shows)
    summary = run_target(target(env, match="ddim:4", margin=1e-3, first_steps=2, max_steps=2, start_n=16), tmp_path)
    look = summary["results"][0]["path"][0]
    assert (look["steps"], look["n"]) == (2, 16)
    (fid,) = [d for d in run_compare([tmp_path], ["ddim:2,ddim:4"]) if d.metric == "fid"]
    assert fid.paired and (look["difference"], look["low"], look["high"]) == pytest.approx(
        (fid.difference, fid.low, fid.high), abs=1e-12
    )


def test_a_match_the_pairing_narrows_is_searched_on(env, tmp_path):
    # DDIM at fewer steps follows the same x_T as DDIM at more: the pairing narrows the interval, so an undecided
    # look is not out of reach and the search goes on to the matched point itself (difference exactly 0: met)
    summary = run_target(target(env, match="ddim:4", margin=1e-3, first_steps=2, max_steps=4), tmp_path)
    (result,) = summary["results"]
    # 2 undecided, 4 met (difference exactly 0), 3 undecided in the bisection: nothing stopped early
    assert [(k["steps"], k["outcome"]) for k in result["path"]] == [(2, UNDECIDED), (4, MET), (3, UNDECIDED)]
    assert result["met"] and result["steps"] == 4
    first = result["path"][0]  # ddim:2, undecided at N = 16, its paired interval far narrower than unpaired
    assert first["outcome"] == UNDECIDED and first["n"] == 16
    assert (first["high"] - first["low"]) / 2 < 0.5 * first["unpaired_half_width"]


def test_a_look_at_the_edge_is_drawn_again_and_flagged_if_still_there(env, tmp_path):
    # the same search with the margin set to ddim:2's upper end: its verdict would rest on the bootstrap's draws, so
    # the interval is drawn again from 10 times the replicates (compare --replicates gives the same); with the margin
    # at that interval's upper end it is still at the edge, and flagged in the log, the table and the report
    def search(margin, log=lambda line: None):
        return run_target(target(env, match="ddim:4", margin=margin, first_steps=2, max_steps=4, start_n=16),
                          tmp_path, log=log)["results"][0]

    first = search(1e-3)["path"]
    assert not any(look["edge"] for look in first)  # 1e-3 is far from every end (and ddim:4 matched with itself)
    assert first[0]["steps"] == 2 and first[0]["replicates"] == REPLICATES
    redrawn = search(first[0]["high"])["path"][0]
    assert redrawn["replicates"] == REFINE * REPLICATES and redrawn["high"] != first[0]["high"]
    (fid,) = [
        d for d in run_compare([tmp_path], ["ddim:2,ddim:4"], replicates=REFINE * REPLICATES) if d.metric == "fid"
    ]
    assert (redrawn["low"], redrawn["high"]) == pytest.approx((fid.low, fid.high), abs=1e-12)
    lines = []
    result = search(redrawn["high"], lines.append)
    look = result["path"][0]
    assert look["replicates"] == REFINE * REPLICATES and look["high"] == redrawn["high"]
    assert look["edge"] and look["outcome"] == MET
    assert any(line.startswith("ddim:2:") and "at the edge" in line for line in lines)
    report = write_report(tmp_path).read_text()
    answer_at_edge = result["steps"] == 2  # the answer rests on the edge look (ddim:1 did not meet the target)
    assert result["firm_steps"] == (None if answer_at_edge else result["steps"])  # no other count met clear of it
    assert "(met at the edge, N = 16)" in report
    assert ("| yes (at the edge; no step count tried met it clear of the edge) |" in report) == answer_at_edge
    command = processes.ddpm_bench("target", "--model", str(env / "model"), "--schedulers", "ddim", "--match", "ddim:4",
                                   "--margin", repr(redrawn["high"]), "--first-steps", "2", "--max-steps", "4",
                                   "--start-n", "16", "--max-n", "16", "--batch-size", "4", "--out", str(tmp_path),
                                   "--no-progress")
    assert command.returncode == 0, command.stderr
    assert ("yes (at the edge; no step count tried met it clear of the edge)" in command.stdout) == answer_at_edge
    assert "another bootstrap seed could decide otherwise" in command.stdout


def test_a_verdict_at_the_edge_gets_more_samples_while_a_larger_n_remains(env, tmp_path):
    # ddim:2 against ddim:4 with the margin on the upper end of ddim:2's interval at N = 8, drawn again from 10 times
    # the replicates as the search draws it: "met" there would rest on the bootstrap's draws, so ddim:2 gets the
    # samples of N = 16 instead of being called at 8
    def search(margin):
        return run_target(target(env, match="ddim:4", margin=margin, first_steps=2, max_steps=2, start_n=8),
                          tmp_path)["results"][0]["path"][0]

    assert search(1e-3)["n"] == 16  # samples both points to N = 16 (ddim:2 undecided at 8 and at 16)
    records = {r["point"]: r for r in read_records(tmp_path / RECORDS)}
    a, b = (np.load(tmp_path / records[point]["features"]) for point in ("ddim@2", "ddim@4"))
    reference = Workbench.open(RunSettings(model=str(env / "model"), batch_size=4)).scoring.stats_reference
    confidence = look_confidence(2)
    first = paired_fid_look(a, b, 8, reference, confidence, bound=None)
    redrawn = paired_fid_look(a, b, 8, reference, confidence, bound=first.high)
    at_eight = paired_fid_look(a, b, 8, reference, confidence, bound=redrawn.high)  # the search's look at N = 8
    assert at_eight.replicates == REFINE * replicates_for(confidence) and at_eight.high == redrawn.high
    assert at_eight.high <= redrawn.high and at_eight.at_edge(redrawn.high)  # met, at the edge
    look = search(redrawn.high)
    assert look["n"] == 16 and look["outcome"] in (MET, UNDECIDED)


@pytest.mark.parametrize("values, message", [
    ({}, "give exactly one target"),
    ({"fid": 1.0, "match": "ddpm:10"}, "give exactly one target"),
    ({"fid": -1.0}, "--fid must be a positive number"),
    ({"match": "ddpm"}, "should be SCHEDULER:STEPS"),
    ({"fid": 1.0, "margin": 0.1}, "only goes with --match"),
    ({"fid": 1.0, "start_n": 32, "max_n": 16}, "start_n must be from 2 up to max_n"),
    ({"fid": 1.0, "first_steps": 8, "max_steps": 4}, "first_steps 8 is above max_steps 4"),
    ({"fid": 1.0, "schedulers": ["nosuch"]}, "nosuch"),
])
def test_bad_settings_are_one_line_errors(env, values, message):
    with pytest.raises(ConfigError, match=message):
        target(env, **values).validate()


def test_the_command_prints_json_with_the_documented_fields_and_rejects_bad_input(env, tmp_path):
    result = processes.ddpm_bench("target", "--schedulers", "ddim", "--fid", "1e6", "--first-steps", "1",
                                  "--max-steps", "1", "--start-n", "4", "--max-n", "4", "--batch-size", "4",
                                  "--model", str(env / "model"), "--out", str(tmp_path), "--json", "--no-progress")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert {"scheduler", "steps", "nfe", "seconds_per_image", "fid", "low", "high", "met"} <= row.keys()
    assert row["met"] and row["steps"] == 1 and row["nfe"] == 1
    bad = processes.ddpm_bench("target", "--fid", "0", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and bad.stderr.strip() == "ddpm-bench: error: --fid must be a positive number, got 0.0"
    assert not (tmp_path / "bad").exists()


def test_planned_pairs_are_the_reports_default_pairs():
    ddim, pndm = parse_scheduler_spec("ddim"), parse_scheduler_spec("pndm")
    nfe = {("ddim", 5): 5, ("ddim", 10): 10, ("pndm", 5): 14, ("pndm", 10): 19}
    pairs = planned_pairs([ddim, pndm], [10, 5], lambda label, steps: nfe[(label, steps)])
    # equal steps; then equal cost: pndm at 5 steps (14 calls) with ddim at 10 (10 calls, the nearest); consecutive
    assert [((a.label, s), (b.label, t)) for (a, s), (b, t) in pairs] == [
        (("ddim", 5), ("pndm", 5)), (("ddim", 10), ("pndm", 10)), (("pndm", 5), ("ddim", 10)),
        (("ddim", 5), ("ddim", 10)), (("pndm", 5), ("pndm", 10))]


def test_sweep_decide_grows_only_the_points_of_tied_comparisons(env, tmp_path):
    # ddim:eta=0.0 is ddim under another label: the same samples, a difference of exactly 0, tied at every N
    config = config_from(schedulers=["ddim", "ddim:eta=0.0"], steps=[2, 4], n=6, max_n=12, decide=True,
                         batch_size=3, model=str(env / "model"), grid_samples=4)
    run_sweep(config, tmp_path, progress=False)
    decisions = read_decisions(tmp_path)
    assert len(decisions) == 4
    for d in decisions:
        if {d["a"], d["b"]} in ({"ddim:2", "ddim:eta=0.0:2"}, {"ddim:4", "ddim:eta=0.0:4"}):
            assert d["verdict"] == "tied" and d["n"] == 12 and d["difference"] == 0
            assert not d["edge"] and d["replicates"] == replicates_for(d["confidence"])  # exact: not drawn again
        assert d["n"] in (6, 12) and d["confidence"] == pytest.approx(0.975)
    frame = load_frame(tmp_path)
    points = frame[frame["status"] == "ok"]
    for _, point in points.iterrows():  # a point has the N of the last look of any comparison it is in
        label = f"{point['scheduler']}:{point['steps']}"
        assert point["n"] == max(d["n"] for d in decisions if label in (d["a"], d["b"])), label
    before = (tmp_path / RECORDS).read_text()
    lines = []
    run_sweep(config, tmp_path, progress=False, log=lines.append)
    assert (tmp_path / RECORDS).read_text() == before and read_decisions(tmp_path) == decisions
    assert not any("sampling" in line or "extending" in line for line in lines)
    write_report(tmp_path)
    assert "Decided with adaptive N" in (tmp_path / "report.md").read_text()
