"""Records know the code that made them: a sweep computes a finished point again when its plugin's version or its
scheduler's code changed since (schedulers/code_identity.py), and not when only prose did."""

import importlib.util
import json
import os
import re
import shutil
import sys
import uuid

import processes
import pytest
from plugin_factory import install_plugin

from ddpm_bench import plugins
from ddpm_bench.runs.sweep import code_change, run_sweep
from ddpm_bench.schedulers.code_identity import chain_modules, code_hash, scheduler_code
from ddpm_bench.schedulers.ddim import DDIMScheduler
from ddpm_bench.schedulers.diffusers_adapter import LazyFactory
from ddpm_bench.settings import config_from
from ddpm_bench.store import records as R

TOY = '''
"""A toy scheduler module."""
import torch

from ddpm_bench.schedulers.ddim import DDIMScheduler


class Toy(DDIMScheduler):
    """Halves the model output."""

    def step(self, model_output, timestep, sample, **kwargs):
        """One step."""
        return super().step(model_output * 0.5, timestep, sample, **kwargs)  # the bug
'''

PROSE_EDITED = '''
"""A toy scheduler module, described at more length.

With a second paragraph."""
import torch

from ddpm_bench.schedulers.ddim import DDIMScheduler

# a comment of its own


class Toy(DDIMScheduler):
    """Halves the model output (documented better)."""

    def step(self, model_output, timestep, sample, **kwargs):
        """One step, now with a longer docstring."""
        # scale the output first
        return super().step(model_output * 0.5, timestep, sample,
                            **kwargs)  # still the same code, laid out anew
'''

CODE_EDITED = TOY.replace("model_output * 0.5", "model_output")

PLUGIN = TOY + '''

from ddpm_bench import hookimpl


@hookimpl
def register_schedulers(register):
    register("my-ddim", Toy, "a plugin author's DDIM")
'''


def load(folder, source, monkeypatch):
    """``source`` imported as a module of a fresh name (left in sys.modules for the test only)."""
    name = f"toy_{uuid.uuid4().hex[:8]}"
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def test_code_hash_ignores_docstrings_comments_and_layout_and_sees_code(tmp_path, monkeypatch):
    first, prose, code = (load(tmp_path, source, monkeypatch).Toy for source in (TOY, PROSE_EDITED, CODE_EDITED))
    assert re.fullmatch(r"[0-9a-f]{16}", code_hash(first))
    assert code_hash(prose) == code_hash(first)
    assert code_hash(code) != code_hash(first)
    assert code_hash(first) != code_hash(DDIMScheduler)
    assert [name for name, _ in chain_modules(first)] == [first.__module__, "ddpm_bench.schedulers.ddim",
                                                          "ddpm_bench.schedulers.base"]  # not torch, not builtins


def test_a_base_class_edit_changes_the_hash_of_its_subclasses(tmp_path, monkeypatch):
    base = "class Base:\n    def step(self, x):\n        return x\n"
    child = "from {module} import Base\n\nclass Child(Base):\n    pass\n"
    hashes = []
    for source in (base, base.replace("return x", "return x + 1")):
        parent = load(tmp_path, source, monkeypatch)
        hashes.append(code_hash(load(tmp_path, child.format(module=parent.__name__), monkeypatch).Child))
    assert hashes[0] != hashes[1]


def test_a_diffusers_scheduler_is_hashed_by_its_class_and_the_adapter():
    ddim = scheduler_code(LazyFactory("DDIMScheduler"))
    assert ddim == scheduler_code(LazyFactory("DDIMScheduler"))
    assert ddim != scheduler_code(LazyFactory("PNDMScheduler"))


def test_what_changed_is_said_in_words():
    now = {R.PLUGIN_PACKAGE: "my-sampler", R.PLUGIN_VERSION: "0.1.1", R.SCHEDULER_CODE: "3c4d"}
    then = {R.PLUGIN_PACKAGE: "my-sampler", R.PLUGIN_VERSION: "0.1.0", R.SCHEDULER_CODE: "1a2b"}
    assert code_change(then, now) == ("another version of its plugin's code (plugin my-sampler 0.1.0 -> 0.1.1, "
                                      "scheduler_code 1a2b -> 3c4d)")
    assert code_change({**then, R.PLUGIN_PACKAGE: "other"}, {**now, R.SCHEDULER_CODE: "1a2b"}) == \
        "another version of its plugin's code (plugin other 0.1.0 -> my-sampler 0.1.1)"
    assert code_change({R.PLUGIN_VERSION: "0.1.1"}, now) is None  # older records: no code hash, no package


def records_of(out):
    return [json.loads(line) for line in (out / R.RECORDS).read_text().splitlines()]


def test_a_plugin_edited_between_two_sweeps_has_its_point_computed_again(env, tmp_path):
    """A plugin author's first hour: the sweep is run, ``step`` is fixed (an editable install: the module changes in
    place), the sweep is run again into the same folder. An edit to docstrings and comments alone computes nothing."""
    site, out, module = tmp_path / "site", tmp_path / "out", f"my_sampler_{uuid.uuid4().hex[:8]}"
    install_plugin(site, "ddpm-bench-my-sampler", "0.1.0", "my-sampler", module, PLUGIN)
    args = ["sweep", "--schedulers", "ddim,my-ddim", "--steps", "2", "-n", "4", "--batch-size", "2", "--model",
            str(env / "model"), "--out", str(out), "--no-progress"]
    environment = {**os.environ, "PYTHONPATH": str(site)}
    first = processes.ddpm_bench(*args, env=environment)
    assert first.returncode == 0, first.stderr
    before = records_of(out)

    reworded = PLUGIN.replace("Halves the model output.", "Halves it.").replace("# the bug", "# a bug")
    (site / f"{module}.py").write_text(reworded)
    prose = processes.ddpm_bench(*args, env=environment)
    assert prose.returncode == 0, prose.stderr
    assert "recorded with" not in prose.stdout and records_of(out) == before

    (site / f"{module}.py").write_text(PLUGIN.replace("model_output * 0.5", "model_output"))
    fixed = processes.ddpm_bench(*args, env=environment)
    assert fixed.returncode == 0, fixed.stderr
    old = next(r for r in before if r[R.POINT] == "my-ddim@2")
    changed = re.findall(r"^my-ddim@2: recorded with another version of its plugin's code \(scheduler_code "
                         r"([0-9a-f]{16}) -> ([0-9a-f]{16})\); computing it again$", fixed.stdout, re.M)
    assert len(changed) == 1 and changed[0][0] == old[R.SCHEDULER_CODE] != changed[0][1], fixed.stdout
    assert not re.search(r"^ddim@2: recorded", fixed.stdout, re.M)
    after = records_of(out)
    assert after[: len(before)] == before and [r[R.POINT] for r in after[len(before):]] == ["my-ddim@2"]
    current = {r[R.POINT]: r for r in R.current_records(after)}
    assert current["my-ddim@2"][R.SCHEDULER_CODE] == changed[0][1] and current["my-ddim@2"]["fid"] != old["fid"]


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder of installed plugins this process sees, and a registry loaded afresh from it (and again after)."""
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delenv(plugins.STRICT_ENV, raising=False)
    monkeypatch.delenv(plugins.DISABLE_ENV, raising=False)
    plugins.reset_registry()
    yield tmp_path / "site"
    plugins.reset_registry()


def small(env, schedulers):
    return config_from(schedulers=schedulers, steps=[2], n=4, batch_size=2, model=str(env / "model"), grid_samples=4)


def test_a_plugin_version_bump_has_its_points_computed_again(env, site, tmp_path):
    module = f"my_sampler_{uuid.uuid4().hex[:8]}"
    install_plugin(site, "ddpm-bench-my-sampler", "0.1.0", "my-sampler", module, PLUGIN)
    try:
        run_sweep(small(env, ["my-ddim"]), tmp_path / "out", progress=False)
        before = records_of(tmp_path / "out")
        shutil.rmtree(site / "ddpm_bench_my_sampler-0.1.0.dist-info")
        (site / f"{module}.py").unlink()
        install_plugin(site, "ddpm-bench-my-sampler", "0.1.1", "my-sampler", module, PLUGIN)
        plugins.reset_registry()
        lines = []
        run_sweep(small(env, ["my-ddim"]), tmp_path / "out", progress=False, log=lines.append)
    finally:
        sys.modules.pop(module, None)
    assert ("my-ddim@2: recorded with another version of its plugin's code (plugin ddpm-bench-my-sampler 0.1.0 -> "
            "0.1.1); computing it again") in lines
    after = records_of(tmp_path / "out")
    assert after[: len(before)] == before and after[-1][R.POINT] == "my-ddim@2"
    assert after[-1][R.PLUGIN_VERSION] == "0.1.1"


def test_a_record_without_a_code_hash_counts_as_unchanged(env, tmp_path):
    """Records written before points carried ``scheduler_code`` are kept as they are."""
    run_sweep(small(env, ["ddim"]), tmp_path / "out", progress=False)
    path = tmp_path / "out" / R.RECORDS
    records = records_of(tmp_path / "out")
    ddim = next(r for r in records if r[R.POINT] == "ddim@2")
    assert ddim[R.SCHEDULER_CODE] == code_hash(DDIMScheduler)
    del ddim[R.SCHEDULER_CODE]
    written = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    path.write_text(written)
    lines = []
    run_sweep(small(env, ["ddim"]), tmp_path / "out", progress=False, log=lines.append)
    assert not [line for line in lines if "recorded with" in line]
    assert path.read_text() == written


def test_a_growing_search_samples_again_a_stored_point_whose_code_changed(tmp_path):
    """The target search and ``sweep --decide`` reuse a folder's stored points (GrowingPoints): one recorded with
    another code hash is sampled again, one line saying why, and an unchanged one is reused."""
    from ddpm_bench.model.loading import model_folder, read_schedule
    from ddpm_bench.runs.growing_points import GrowingPoints
    from ddpm_bench.runs.sweep import current_facts
    from ddpm_bench.runs.workbench import PointRun
    from ddpm_bench.schedulers.specs import parse_scheduler_spec
    from ddpm_bench.settings import SweepConfig

    config = SweepConfig()
    store = R.RecordStore(tmp_path, config.results_hash())
    spec = parse_scheduler_spec("ddim")
    facts = current_facts(spec, read_schedule(model_folder(config.model)))
    base = {R.SCHEDULER: "ddim", R.STATUS: R.FAILED, R.RESULTS_HASH: config.results_hash(), **facts}
    store.append({**base, R.POINT: R.point_id("ddim", 10), R.STEPS: 10})
    store.append({**base, R.POINT: R.point_id("ddim", 20), R.STEPS: 20, R.SCHEDULER_CODE: "an older code"})
    sampled, lines = [], []

    class Bench:
        def run_point(self, request):
            sampled.append(request.steps)
            return PointRun({**base, R.POINT: R.point_id("ddim", request.steps), R.STEPS: request.steps}, None)

    points = GrowingPoints(lambda: Bench(), store, tmp_path, config, lines.append, False)
    points.at(spec, 10, 4)
    points.at(spec, 20, 4)
    assert sampled == [20]  # ddim:10 as recorded; ddim:20 sampled again
    assert any("ddim" in line and "20" in line and "code" in line for line in lines), lines
