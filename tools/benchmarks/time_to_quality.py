"""Time to quality: training seconds until a generator reaches a quality target, each check off the clock.

A target names one of TARGETS (conditional accuracy, which saturates early, or the Fréchet distance to the
real test split, which keeps improving) and a threshold; every check records both figures, measured by the
package's evaluation (tools/benchmarks/quality.py), as one line of a JSONL that `--from_jsonl` reads back.
The children train cgan_tf or the source loop with a `QualityClock` that stops while a check measures.
"""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from typing import List, Optional, Sequence

from tools.benchmarks import common
from tools.benchmarks import training
from tools.benchmarks.common import markdown_table, median, print_header, run_child

HELP = "training time to a quality target (accuracy or distance)"
# The fast CPU preset time to quality is about, then the Fashion-MNIST presets.
FAST_FLAGFILES = ("configs/fmnist_cpu.cfg",) + common.PRESET_FLAGFILES
# How a time-to-quality row of the source loop is named (its checks are told apart by it).
BASELINE_RUN = "baseline"
# What a target can be on, and whether higher is better.
TARGETS = {"conditional_accuracy": True, "frechet_distance": False}
# The field of each target in a check's JSONL record.
CHECK_FIELDS = {"conditional_accuracy": "accuracy", "frechet_distance": "frechet_distance"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """Adds this measurement's options to its subcommand parser."""
  common.add_arguments(parser, flagfiles=())
  parser.add_argument("--flagfile", action="append",
                      help=f"a cgan_tf preset to run (repeatable; default: the first that exists of "
                           f"{', '.join(FAST_FLAGFILES)})")
  parser.add_argument("--no_baseline", action="store_true", help="skip the source loop")
  parser.add_argument("--metric", choices=sorted(TARGETS), default="conditional_accuracy",
                      help="the figure the target is on")
  parser.add_argument("--threshold", type=float, help="the value to reach: at least (accuracy; default 0.8) or "
                      "at most (distance; required)")
  parser.add_argument("--seeds", default="0", help="comma-separated training seeds; each runs every row")
  parser.add_argument("--baseline_d_batch", type=int, default=0,
                      help="the baseline's real and fake images per D update (0: the source's half batch)")
  parser.add_argument("--eval_every", type=int, help="cgan_tf steps between checks (default 500)")
  parser.add_argument("--baseline_eval_every", type=int,
                      help="baseline steps between checks (default: --eval_every)")
  parser.add_argument("--per_class", type=int, help="generated images per class per check (default 1000)")
  parser.add_argument("--budget_minutes", type=float,
                      help="training minutes per run before giving up (default 120)")
  parser.add_argument("--jsonl", default=os.path.join("runs", "benchmarks", "time_to_quality.jsonl"),
                      help="every check is appended here: run, step, train_seconds, accuracy, frechet_distance, "
                           "per_class")
  parser.add_argument("--eval_seed", type=int, default=0, help="seed of the evaluation noise")
  parser.add_argument("--from_jsonl", help="train nothing: report the time to each of --thresholds from the checks "
                      "an earlier run appended to this JSONL")
  parser.add_argument("--thresholds", help="with --from_jsonl: comma-separated targets of --metric to read")


# --- the parent: runs and their report -----------------------------------------------------------


def run(args: argparse.Namespace) -> None:
  """Training seconds until a quality target is reached: each flagfile and the baseline, over seeds.

  The target is conditional accuracy (at least --threshold) or the Fréchet distance to the real test split
  (at most --threshold). Every seed runs each flagfile and then the baseline, in fresh processes; the
  summary gives each run's median and range over the seeds, a run that does not reach the target within
  the budget counting as "more than the budget".
  """
  if args.from_jsonl:
    report_from_checks(args)
    return
  common.start_measurement(args, dict(eval_every=500, per_class=1000, budget_minutes=120.0),
                           dict(eval_every=5, per_class=10, budget_minutes=0.5))
  if args.threshold is None:
    if args.metric != "conditional_accuracy":
      sys.exit(f"--threshold: give the {args.metric} to reach")
    args.threshold = 0.8
  if args.baseline_eval_every is None:
    args.baseline_eval_every = args.eval_every
  seeds = [int(seed) for seed in args.seeds.split(",")]
  flagfiles = args.flagfile or [common.first_existing(FAST_FLAGFILES)]
  flagfiles = [common.flagfile_path(path) for path in flagfiles]
  budget_seconds = args.budget_minutes * 60.0
  common_spec = dict(metric=args.metric, threshold=args.threshold, per_class=args.per_class,
                     budget_seconds=budget_seconds, jsonl=os.path.abspath(args.jsonl), eval_seed=args.eval_seed)
  baseline_name = f"{BASELINE_RUN} (source loop)"
  if args.baseline_d_batch:
    baseline_name = f"{BASELINE_RUN}, D on {args.baseline_d_batch} + {args.baseline_d_batch} (--d_batch)"
  runs = []
  for seed in seeds:
    runs += [(cgan_to_quality, dict(common_spec, name=f"cgan_tf {os.path.relpath(path)}", flagfile=path,
                                    flags=[f"--seed={seed}"], seed=seed, eval_every=args.eval_every))
             for path in flagfiles]
    if not args.no_baseline:
      runs.append((baseline_to_quality, dict(
          common_spec, name=baseline_name, seed=seed, eval_every=args.baseline_eval_every,
          **(dict(d_batch=args.baseline_d_batch) if args.baseline_d_batch else {}))))
  results = []
  for child, spec in runs:
    print(f"running {spec['name']}, seed {spec['seed']} (checks every {spec['eval_every']} steps; JSONL: "
          f"{args.jsonl})", file=sys.stderr, flush=True)
    results.append(run_child(child, spec, show_progress=True))
  what, sign = target_words(args.metric)
  target = f"{what} {sign} {args.threshold:g}"
  print_header("Time to quality", [
      f"Training seconds until the {what} of {args.per_class} generated images per class (the project's "
      f"evaluator, `cgan_tf.evaluation.evaluator.load_evaluator`; the distance is to the real test split in "
      f"its feature space) reaches {target}, checked every {args.eval_every} steps (baseline: every "
      f"{args.baseline_eval_every} of its steps) with the same seeded noise each time. The clock runs from "
      f"the first step (tracing included) and stops during each check; start-up, data loading and the "
      f"evaluator's loading are not counted. Budget: {args.budget_minutes:g} training minutes per run "
      f"(a run that does not reach the target by then counts as more than the budget). Seeds: "
      f"{', '.join(map(str, seeds))}, each running every row in turn. cgan_tf presets keep their own "
      f"checkpoints, grids and summaries (they are part of what a preset costs). Each check is a line of "
      f"`{args.jsonl}`."])
  rows = []
  for (_, spec), result in zip(runs, results):
    outcome = f"{result['seconds']:.0f} s" if result["reached"] else "not reached within budget"
    rows.append([spec["name"], spec["seed"], outcome, result["step"] if result["reached"] else "-",
                 f"{result['best_value']:.3f} (step {result['best_step']}, {result['best_seconds']:.0f} s)",
                 result["checks"], f"{result['trained_seconds']:.0f}", f"{result['eval_seconds']:.0f}"])
  print(markdown_table(["run", "seed", f"time to {target}", "at step", f"best {what}", "checks", "training s",
                        "evaluation s (off the clock)"], rows, "lrlrrrrr"))
  # Each row's time per seed; a run that did not reach the target counts as more than the budget.
  times = {}
  for (_, spec), result in zip(runs, results):
    times.setdefault(spec["name"], []).append(result["seconds"] if result["reached"] else math.inf)
  middles = {name: median(values) for name, values in times.items()}
  over = f"> {budget_seconds:.0f} s"
  lines = [[name, f"{sum(map(math.isfinite, values))} of {len(values)}",
            f"{middles[name]:.0f} s" if math.isfinite(middles[name]) else over,
            ", ".join(f"{t:.0f} s" if math.isfinite(t) else over for t in values)]
           for name, values in times.items()]
  print()
  print(markdown_table(["run", "reached", "median time", "each seed"], lines, "lrrl"))
  names = list(times)
  if not args.no_baseline:
    base = middles[names[-1]]
    for name in names[:-1]:
      if not math.isfinite(middles[name]):
        continue
      ratio = base / middles[name]
      if math.isfinite(ratio):
        print(f"\n{name}: the baseline's median time is {ratio:.1f}x this run's.")
      else:
        print(f"\n{name}: the baseline's median time is more than {budget_seconds / middles[name]:.1f}x this "
              f"run's (the budget over this run's median).")


def report_from_checks(args: argparse.Namespace) -> None:
  """Time to each of several targets, read from the checks an earlier time_to_quality run recorded.

  A run stops at its own target, so a target it had not reached by its last check is reported as more
  than that check's training seconds: a lower bound, never a "not reached" it might have reached later.
  """
  if not args.thresholds:
    sys.exit("--from_jsonl: give the targets to read with --thresholds (comma-separated)")
  try:
    thresholds = [float(value) for value in args.thresholds.split(",")]
    runs = read_check_runs(args.from_jsonl)
  except OSError as e:
    sys.exit(f"--from_jsonl: cannot read {args.from_jsonl}: {e.strerror}")
  except ValueError as e:
    sys.exit(f"--from_jsonl/--thresholds: {e}")
  if not runs:
    sys.exit(f"--from_jsonl: {args.from_jsonl} holds no checks")
  what, sign = target_words(args.metric)
  print("\n### Time to quality, read from the recorded checks\n")
  print(f"Command: `{common.command()}`  ")
  print(f"Checks: `{args.from_jsonl}`, {len(runs)} runs (the machine, the settings and the clock are those of "
        f"the time_to_quality run that wrote them). A run's time to a target is the training seconds at its "
        f"first check at or beyond it; a run that had not reached it by its last check counts as more than "
        f"that check's seconds (it stopped at its own target or its budget), and a median over such lower "
        f"bounds is marked >= when they could move it.\n")
  rows, times = [], {}
  for name, seed, checks in runs:
    last = checks[-1]
    cells = []
    for threshold in thresholds:
      hit = first_reached(checks, args.metric, threshold)
      value = (hit["train_seconds"], True) if hit else (last["train_seconds"], False)
      times.setdefault((name, threshold), []).append(value)
      cells.append(f"{hit['train_seconds']:.0f} s (step {hit['step']})" if hit else
                   f"> {last['train_seconds']:.0f} s")
    rows.append([name, seed, *cells, f"{last['step']} ({last['train_seconds']:.0f} s)"])
  print(markdown_table(["run", "seed", *[f"{what} {sign} {t:g}" for t in thresholds], "last check: step (s)"],
                       rows, "lr" + "r" * (len(thresholds) + 1)))
  names = list(dict.fromkeys(name for name, _, _ in runs))
  middles = {key: common.censored_median(values) for key, values in times.items()}

  def shown(middle):
    return f"{middle[0]:.0f} s" if middle[1] else f">= {middle[0]:.0f} s"

  lines = [[name, *[f"{shown(middles[name, t])} ({sum(exact for _, exact in times[name, t])} of "
                    f"{len(times[name, t])} reached)" for t in thresholds]] for name in names]
  print()
  print(markdown_table(["run: median time", *[f"{sign} {t:g}" for t in thresholds]], lines))
  baselines = [name for name in names if name.startswith(BASELINE_RUN)]
  for baseline in baselines:
    for name in names:
      if name in baselines:
        continue
      ratios = []
      for t in thresholds:
        (base, base_exact), (this, this_exact) = middles[baseline, t], middles[name, t]
        if not this_exact:
          ratios.append(f"{t:g}: unknown (its median is only a lower bound)")
        else:
          ratios.append(f"{t:g}: {'' if base_exact else '>= '}{base / this:.2f}x")
      print(f"\n{baseline} median time over {name}'s: " + "; ".join(ratios) + ".")


# --- targets and check records -------------------------------------------------------------------


def target_words(metric: str) -> tuple:
  """(the metric in words, the comparison that reaches a target on it) for the time-to-quality tables."""
  what = "conditional accuracy" if metric == "conditional_accuracy" else "Fréchet distance"
  return what, ">=" if TARGETS[metric] else "<="


def reached(metric: str, value: float, threshold: float) -> bool:
  """Whether `value` of `metric` is at or beyond `threshold` in the metric's better direction."""
  return value >= threshold if TARGETS[metric] else value <= threshold


def read_check_runs(path: str) -> List[tuple]:
  """The runs a time-to-quality JSONL holds, in the order they ran, as (name, seed, checks).

  A run is a stretch of lines of one name (and seed, where the record has one) whose steps rise; a new run
  begins where either changes or the step does not rise. Records without a seed get the run's place
  among the runs of its name (0, 1, ...), which is its seed's place in --seeds.
  """
  runs = []
  with open(path) as f:
    for number, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        record = json.loads(line)
        key, step = (record["run"], record.get("seed")), int(record["step"])
        for field in ("train_seconds", *CHECK_FIELDS.values()):
          float(record[field])
      except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}:{number}: not a check record of tools/benchmark.py time_to_quality ({e!r})") from e
      if runs and runs[-1][0] == key and step > runs[-1][1][-1]["step"]:
        runs[-1][1].append(record)
      else:
        runs.append((key, [record]))
  places = {}
  named = []
  for (name, seed), checks in runs:
    place = places[name] = places.get(name, -1) + 1
    named.append((name, place if seed is None else seed, checks))
  return named


def first_reached(checks: Sequence[dict], metric: str, threshold: float) -> Optional[dict]:
  """The first of a run's `checks` (JSONL records) whose `metric` reaches `threshold`, or None."""
  return next((check for check in checks if reached(metric, check[CHECK_FIELDS[metric]], threshold)), None)


def better(metric: str, value: float, other: float) -> bool:
  """Whether `value` of `metric` is strictly better than `other`."""
  return value > other if TARGETS[metric] else value < other


# --- the clock ----------------------------------------------------------------------------------


class QualityClock:
  """Training seconds to a quality target, with every evaluation left off the clock.

  Call `start()` when training starts, `over_budget()` between steps, and `check(step, generator)` every
  N steps; each check appends one JSON line to `jsonl_path`.

  Args:
    name: the run's name in the JSONL lines.
    probe: what measures a generator at a check (`quality.QualityProbe`: its `measure(generator)`).
    metric: the figure of TARGETS the target is on.
    threshold: the value of `metric` to reach (at least, or at most for a distance).
    budget_seconds: training seconds after which to give up.
    jsonl_path: file to append the checks to ('' for none).
    seed: the run's training seed, recorded with each check.
  """

  def __init__(self, name: str, probe, metric: str, threshold: float, budget_seconds: float,
               jsonl_path: str = "", seed: Optional[int] = None):
    if metric not in TARGETS:
      raise ValueError(f"unknown target metric {metric!r}; known: {', '.join(TARGETS)}")
    self.name = name
    self.probe = probe
    self.metric = metric
    self.threshold = threshold
    self.budget_seconds = budget_seconds
    self.jsonl_path = jsonl_path
    self.seed = seed
    self.trained_seconds = 0.0
    self.running_since: Optional[float] = None
    self.eval_seconds = 0.0
    self.checks = 0
    self.last_step = None
    self.best = None  # (value, training seconds, step) of the best check.
    self.reached = None  # (training seconds, step, value) at the first check that reaches the threshold.

  def start(self) -> None:
    """Starts (or restarts, after a check) the training clock."""
    self.running_since = time.perf_counter()

  def seconds(self) -> float:
    """Training seconds so far."""
    running = time.perf_counter() - self.running_since if self.running_since is not None else 0.0
    return self.trained_seconds + running

  def over_budget(self) -> bool:
    """Whether the training seconds have reached the budget."""
    return self.seconds() >= self.budget_seconds

  def check(self, step: int, generator) -> bool:
    """Measures the generator with the clock stopped; returns True once the threshold is reached."""
    self.trained_seconds = self.seconds()
    self.running_since = None
    started = time.perf_counter()
    figures = self.probe.measure(generator)
    evaluation = time.perf_counter() - started
    self.eval_seconds += evaluation
    self.checks += 1
    self.last_step = step
    value = figures[self.metric]
    if self.best is None or better(self.metric, value, self.best[0]):
      self.best = (value, self.trained_seconds, step)
    if self.reached is None and reached(self.metric, value, self.threshold):
      self.reached = (self.trained_seconds, step, value)
    record = dict(run=self.name, step=step, train_seconds=round(self.trained_seconds, 3),
                  **{CHECK_FIELDS["conditional_accuracy"]: round(figures["conditional_accuracy"], 5),
                     CHECK_FIELDS["frechet_distance"]: round(figures["frechet_distance"], 4)},
                  per_class=[round(a, 4) for a in figures["per_class_accuracy"]],
                  eval_seconds=round(evaluation, 3), time=time.time())
    if self.seed is not None:
      record["seed"] = self.seed
    if self.jsonl_path:
      os.makedirs(os.path.dirname(os.path.abspath(self.jsonl_path)), exist_ok=True)
      with open(self.jsonl_path, "a") as f:
        f.write(json.dumps(record) + "\n")
    common.progress(record)
    self.start()
    return self.reached is not None

  def result(self) -> dict:
    """The run's outcome as a JSON-ready dict."""
    best = self.best or (None, None, None)
    return dict(name=self.name, metric=self.metric, threshold=self.threshold, budget_seconds=self.budget_seconds,
                reached=self.reached is not None,
                seconds=self.reached[0] if self.reached else None,
                step=self.reached[1] if self.reached else None,
                value=self.reached[2] if self.reached else None,
                best_value=best[0], best_seconds=best[1], best_step=best[2],
                checks=self.checks, trained_seconds=self.trained_seconds, eval_seconds=self.eval_seconds,
                last_step=self.last_step)


# --- the children: training to a target ----------------------------------------------------------


def _clock(spec: dict, config, latent_dim: int, output: str, noise: str) -> QualityClock:
  """The clock of a time-to-quality child, its checks measured on `config`'s data set."""
  from tools.benchmarks import quality  # Loads TensorFlow and cgan_tf: only a child imports it.

  probe = quality.prepare(config, spec["per_class"], latent_dim, output, noise, spec.get("eval_seed", 0))
  return QualityClock(spec["name"], probe, spec["metric"], spec["threshold"], spec["budget_seconds"],
                      spec["jsonl"], spec.get("seed"))


def cgan_to_quality(spec: dict) -> dict:
  """The child: trains a cgan_tf flagfile (+ spec['flags']) until spec['metric'] reaches spec['threshold']
  or the budget is spent."""
  import keras
  from cgan_tf import train

  config = training.make_config(spec)
  if config.unconditional:
    raise SystemExit(f"{spec['flagfile']}: an unconditional run has no conditional accuracy")
  clock = _clock(spec, config, config.latent_dim, training.network_output(config), config.noise)
  every = spec["eval_every"]
  steps_per_execution = config.steps_per_execution

  class QualityCallback(keras.callbacks.Callback):
    """Checks every `every` steps; stops training at the threshold or when the budget is spent."""

    def __init__(self):
      super().__init__()
      self.done = 0
      self.next_check = every

    def _generator(self):
      return self.model.sampling_generator

    def on_train_begin(self, logs=None):
      clock.start()

    def on_train_batch_end(self, batch, logs=None):
      self.done += steps_per_execution
      if self.done >= self.next_check:
        self.next_check += every
        if clock.check(self.done, self._generator()):
          self.model.stop_training = True
          return
      if clock.over_budget():
        if clock.last_step != self.done:
          clock.check(self.done, self._generator())
        self.model.stop_training = True

    def on_train_end(self, logs=None):
      if clock.last_step != self.done:  # The preset's own end came before a check.
        clock.check(self.done, self._generator())

  run_dir = tempfile.mkdtemp(prefix="cgan_tf_quality_")
  try:
    # The preset's own bookkeeping stays on (it is part of what the preset costs); its in-training
    # evaluation is replaced by this clock's, which does not count.
    config = config.replace(run_dir=run_dir, eval_every=0, verbose=0)
    train.train(config, extra_callbacks=[QualityCallback()])
  finally:
    shutil.rmtree(run_dir, ignore_errors=True)
  return dict(clock.result(), examples_per_step=training.examples_per_step(config))


def baseline_to_quality(spec: dict) -> dict:
  """The child: runs the source loop (fixed port; spec: seed, d_batch) until spec['metric'] reaches
  spec['threshold'] or the budget is spent."""
  from cgan_tf.config import Config
  from tools import baseline_source_cgan as baseline  # Imports Keras: only in the children that run it.

  config = Config(dataset="fashion_mnist", data_source="idx",
                  data_dir=spec.get("data_dir", baseline.FASHION_MNIST_DIR))
  clock = _clock(spec, config, baseline.LATENT_DIM, "tanh", "normal")
  cgan = training.source_loop(spec)
  step = 0
  clock.start()
  while True:
    cgan.train_step()
    step += 1
    if step % spec["eval_every"] == 0 and clock.check(step, cgan.g_model):
      break
    if clock.over_budget():
      if clock.last_step != step:
        clock.check(step, cgan.g_model)
      break
  return dict(clock.result(), examples_per_step=cgan.d_batch)
