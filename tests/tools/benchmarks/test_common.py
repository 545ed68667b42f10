"""tools/benchmarks/common.py: the censored median, and a child process run by name with its result handed back."""

import os

import pytest

from tools.benchmarks import common


@pytest.mark.parametrize("values,expected", [
    ([(10, True), (20, True), (30, True)], (20, True)),
    ([(10, True), (20, True), (5, False)], (10, False)),   # The bound sits below the median: it could move it.
    ([(10, True), (20, True), (25, False)], (20, True)),   # Above it, whatever it becomes: the median stands.
    ([(10, True), (20, False)], (15, False)),
    ([(10, True), (20, True), (30, True), (45, False)], (25, True)),
    ([(10, True), (20, True), (30, False), (40, True)], (25, False)),  # (20 + 35) / 2 if it were 35.
])
def test_censored_median_is_exact_only_where_no_lower_bound_can_move_it(values, expected):
  assert common.censored_median(values) == expected


def echo_child(spec: dict) -> dict:
  """A child entry point: says where it ran and what it was given."""
  common.progress(dict(step=1))
  return dict(spec=spec, pid=os.getpid())


def failing_child(spec: dict) -> dict:
  """A child entry point that prints a line and fails."""
  print("about to fail")
  raise RuntimeError(spec["why"])


def test_a_child_runs_in_a_fresh_process_and_hands_back_its_result(capsys):
  result = common.run_child(echo_child, dict(name="echo", values=[1, 2]), show_progress=True)
  assert result["spec"] == dict(name="echo", values=[1, 2]) and result["pid"] != os.getpid()
  assert '[echo] {"step": 1}' in capsys.readouterr().err


def test_a_failing_child_raises_with_the_tail_of_its_output():
  with pytest.raises(common.ChildError, match=r"(?s)failing_child child exited with 1.*about to fail.*no luck"):
    common.run_child(failing_child, dict(why="no luck"))


def test_a_child_is_named_by_its_module_and_function():
  assert common.child_target(echo_child) == "tests.tools.benchmarks.test_common:echo_child"
  with pytest.raises(ValueError, match="module-level function"):
    common.child_target(lambda spec: spec)
