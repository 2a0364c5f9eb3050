"""Arbitrary text thrown at every option parser and scheduler option string: a value or a one-line error, never a
traceback. Derandomized, so a run is deterministic."""

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddpm_bench.cli import build_parser
from ddpm_bench.errors import BenchError
from ddpm_bench.schedulers.specs import build_scheduler, parse_scheduler_spec
from ddpm_bench.settings import config_from
from ddpm_bench.util.options import positive_int_list, split_list

FUZZ = settings(derandomize=True, max_examples=150, deadline=None)
TEXT = st.text(max_size=40)
# text that looks like what users type into these options, so that the interesting branches are reached
NEAR = st.lists(st.sampled_from(["ddim", "ddpm", "pndm", "eta", "=", ":", ",", "1", "0", "-2", "x", "1.5", "true",
                                 "nan", " ", "", "ddim:eta", "skip_prk_steps", "\n"]), max_size=8).map("".join)


def one_line(error: Exception) -> bool:
    return "\n" not in str(error).strip() and str(error).strip() != ""


@FUZZ
@given(st.one_of(TEXT, NEAR))
def test_list_parsers(text):
    for parse in (positive_int_list, split_list):
        try:
            values = parse(text)
        except BenchError as error:
            assert one_line(error)
        else:
            assert values and len(values) == len(set(values))


@FUZZ
@given(st.one_of(TEXT, NEAR))
def test_scheduler_specs_and_their_options(text):
    for spec_text in (text, f"ddim:eta={text}", f"pndm:skip_prk_steps={text}", f"ddpm:{text}"):
        try:
            build_scheduler(parse_scheduler_spec(spec_text))
        except BenchError as error:
            assert one_line(error)


@FUZZ
@given(st.one_of(TEXT, NEAR))
def test_sweep_settings(text):
    for values in ({"schedulers": [text]}, {"precision": text}, {"model": text, "steps": [1]}):
        try:
            config_from(**values)
        except BenchError as error:
            assert one_line(error)


@pytest.mark.parametrize("option", ["--steps", "--schedulers", "-n", "--seed", "--precision", "--batch-size"])
@FUZZ
@given(text=st.one_of(TEXT, NEAR))
def test_the_command_line(option, text):
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            build_parser().parse_args(["sweep", option, text])
        except SystemExit as exit:
            assert exit.code == 2
            assert stderr.getvalue().count("\n") == 1, stderr.getvalue()
