"""The time-to-quality clock of tools/benchmarks/quality.py: targets in either direction, evaluation off
the clock, the best check and the budget."""

import json

import pytest

from tools.benchmarks import quality


class ScriptedProbe:
  """Returns the next figures of a script at every check (a stand-in for the evaluator)."""

  def __init__(self, accuracies, distances):
    self.figures = [dict(conditional_accuracy=a, frechet_distance=d, per_class_accuracy=[a])
                    for a, d in zip(accuracies, distances)]

  def measure(self, generator):
    return self.figures.pop(0)


@pytest.mark.parametrize("metric,threshold,step,value", [
    ("conditional_accuracy", 0.8, 30, 0.85),  # Higher is better: the first check at or over 0.8.
    ("frechet_distance", 40.0, 20, 40.0),     # Lower is better: the first check at or under 40.
])
def test_clock_reaches_a_target_in_the_metric_direction(tmp_path, metric, threshold, step, value):
  jsonl = tmp_path / "checks.jsonl"
  probe = ScriptedProbe([0.5, 0.7, 0.85, 0.9], [90.0, 40.0, 45.0, 30.0])
  clock = quality.QualityClock("run", probe, metric, threshold, budget_seconds=1e9, jsonl_path=str(jsonl))
  clock.start()
  results = [clock.check(s, generator=None) for s in (10, 20, 30, 40)]
  result = clock.result()
  assert result["reached"] and result["step"] == step and result["value"] == value
  assert results.index(True) == [10, 20, 30, 40].index(step)
  assert result["best_value"] == (0.9 if metric == "conditional_accuracy" else 30.0)
  assert result["best_step"] == 40
  lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
  assert [line["frechet_distance"] for line in lines] == [90.0, 40.0, 45.0, 30.0]


def test_clock_that_never_reaches_reports_its_best_and_stops_at_the_budget():
  probe = ScriptedProbe([0.1, 0.2], [300.0, 200.0])
  clock = quality.QualityClock("run", probe, "frechet_distance", 10.0, budget_seconds=0.0)
  clock.start()
  assert clock.over_budget()
  assert not clock.check(5, None) and not clock.check(10, None)
  result = clock.result()
  assert not result["reached"] and result["seconds"] is None
  assert (result["best_value"], result["best_step"]) == (200.0, 10)


def test_clock_refuses_an_unknown_metric():
  with pytest.raises(ValueError, match="unknown target metric 'kid'"):
    quality.QualityClock("run", ScriptedProbe([], []), "kid", 1.0, budget_seconds=1.0)
