"""tools/benchmarks/time_to_quality.py: its clock (targets in either direction, evaluation off the clock, the
best check and the budget), its check records, and the report read back from them."""

import json

import pytest

from tools import benchmark
from tools.benchmarks import time_to_quality


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
  clock = time_to_quality.QualityClock("run", probe, metric, threshold, budget_seconds=1e9, jsonl_path=str(jsonl))
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
  clock = time_to_quality.QualityClock("run", probe, "frechet_distance", 10.0, budget_seconds=0.0)
  clock.start()
  assert clock.over_budget()
  assert not clock.check(5, None) and not clock.check(10, None)
  result = clock.result()
  assert not result["reached"] and result["seconds"] is None
  assert (result["best_value"], result["best_step"]) == (200.0, 10)


def test_clock_refuses_an_unknown_metric():
  with pytest.raises(ValueError, match="unknown target metric 'kid'"):
    time_to_quality.QualityClock("run", ScriptedProbe([], []), "kid", 1.0, budget_seconds=1.0)


def write_checks(path, runs):
  """A time-to-quality JSONL: runs of (name, seed or None, [(step, seconds, distance), ...])."""
  with open(path, "w") as f:
    for name, seed, checks in runs:
      for step, seconds, distance in checks:
        record = dict(run=name, step=step, train_seconds=seconds, accuracy=0.5, frechet_distance=distance)
        if seed is not None:
          record["seed"] = seed
        f.write(json.dumps(record) + "\n")
  return str(path)


def test_recorded_runs_split_where_the_name_or_seed_changes_or_the_step_falls(tmp_path):
  path = write_checks(tmp_path / "checks.jsonl", [
      ("cgan", None, [(100, 10.0, 300.0), (200, 20.0, 250.0)]),
      ("base", None, [(100, 30.0, 400.0)]),
      ("cgan", None, [(100, 11.0, 310.0)]),  # The same name again: the next seed's run.
      ("cgan", 7, [(100, 12.0, 320.0)]),     # Recorded with its seed.
  ])
  runs = time_to_quality.read_check_runs(path)
  assert [(name, seed, [c["step"] for c in checks]) for name, seed, checks in runs] == [
      ("cgan", 0, [100, 200]), ("base", 0, [100]), ("cgan", 1, [100]), ("cgan", 7, [100])]
  assert time_to_quality.first_reached(runs[0][2], "frechet_distance", 260.0)["step"] == 200
  assert time_to_quality.first_reached(runs[0][2], "frechet_distance", 200.0) is None
  with open(path, "a") as f:
    f.write('{"run": "cgan", "step": 300}\n')
  with pytest.raises(ValueError, match=r"checks.jsonl:6: not a check record"):
    time_to_quality.read_check_runs(path)


def test_report_from_recorded_checks_gives_times_lower_bounds_and_ratios(tmp_path, capsys):
  path = write_checks(tmp_path / "checks.jsonl", [
      ("cgan_tf preset", 0, [(100, 50.0, 300.0), (200, 100.0, 190.0)]),
      ("baseline (source loop)", 0, [(100, 90.0, 290.0), (200, 180.0, 260.0)]),
  ])
  benchmark.main(["time_to_quality", f"--from_jsonl={path}", "--metric=frechet_distance",
                  "--thresholds=300,200"])
  out = capsys.readouterr().out
  assert "| cgan_tf preset | 0 | 50 s (step 100) | 100 s (step 200) | 200 (100 s) |" in out
  assert "| baseline (source loop) | 0 | 90 s (step 100) | > 180 s | 200 (180 s) |" in out
  assert "300: 1.80x; 200: >= 1.80x." in out
  with pytest.raises(SystemExit, match="give the targets to read with --thresholds"):
    benchmark.main(["time_to_quality", f"--from_jsonl={path}", "--metric=frechet_distance"])
  with pytest.raises(SystemExit, match="cannot read"):
    benchmark.main(["time_to_quality", f"--from_jsonl={tmp_path / 'none.jsonl'}", "--thresholds=1"])
