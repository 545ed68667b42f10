"""Benchmarks of cgan_tf and of the source material's loop : figures, not tests.

Every measurement that trains runs in a fresh child process, so no run inherits another's traced
functions, thread pools or memory; repeated measurements alternate between the things compared, so a
drift in the machine's speed touches all alike, and the median is reported. Each subcommand prints a
Markdown section with the machine, the TensorFlow version and the exact command, ready for BENCHMARKS.md.

  python tools/benchmark.py                      # precision / XLA / replica variants (= variants)
  python tools/benchmark.py throughput           # steps/s, GFLOP/s: cgan_tf vs the baseline, also at equal work
  python tools/benchmark.py time_to_quality --flagfile=configs/fmnist_cpu.cfg --budget_minutes=120
  python tools/benchmark.py time_to_quality --from_jsonl=J --metric=frechet_distance --thresholds=250,200  # re-read
  python tools/benchmark.py efficiency           # step FLOPs / step time vs this machine's matmul rate
  python tools/benchmark.py pipeline             # tf.data alone vs what training consumes
  python tools/benchmark.py memory               # peak resident memory at equal settings, beside the source loop
  python tools/benchmark.py scaling              # step time vs batch size and vs image size
  python tools/benchmark.py profile --flagfile=configs/fmnist.cfg --precision=mixed_bfloat16  # op time by kind
  python tools/benchmark.py layers --onednn_verbose  # per-layer float32 vs bfloat16, and oneDNN's kernels
  python tools/benchmark.py <subcommand> --quick # a smoke test of the subcommand (minutes, not figures)

The baseline is tools/baseline_source_cgan.py (the source's Fashion-MNIST loop, fixed for Keras 3).
"""

import argparse
import collections
import json
import math
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Before TensorFlow is imported, here or in a child.
if __package__ in (None, ""):  # Run as `python tools/<name>.py`: the repository root, for cgan_tf and tools.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tools.benchmarks import common  # noqa: E402
from tools.benchmarks.common import markdown_table, median, print_header, run_child  # noqa: E402
from tools.benchmarks import flops as flops_lib  # noqa: E402

# The source's recipe in cgan_tf (cdcgan, batch 128, Adam 2e-4/0.5): the baseline's identical architecture.
REFERENCE_FLAGFILES = ("configs/fmnist_reference.cfg", "configs/fmnist.cfg")
# The Fashion-MNIST preset users run, and the fast CPU preset time to quality is about.
PRESET_FLAGFILES = ("configs/fmnist.cfg", "configs/fmnist_reference.cfg")
FAST_FLAGFILES = ("configs/fmnist_cpu.cfg",) + PRESET_FLAGFILES
# How a time-to-quality row of the source loop is named (its checks are told apart by it).
BASELINE_RUN = "baseline"
SUBCOMMANDS = ("variants", "throughput", "time_to_quality", "efficiency", "pipeline", "memory", "scaling",
               "profile", "layers")

# Each variant names its image-layer formulation, so a name means the same on every machine (the default,
# --image_conv=auto, is depthwise on CPUs and standard on GPUs).
VARIANTS = {
    "f32_1": dict(precision="float32", xla="off", num_cpu_devices=1, strategy="one_device", image_conv="standard"),
    "mixed16_1": dict(precision="mixed_float16", xla="off", num_cpu_devices=1, strategy="one_device",
                      image_conv="standard"),
    "bf16_1": dict(precision="mixed_bfloat16", xla="off", num_cpu_devices=1, strategy="one_device",
                   image_conv="standard"),
    # The generator's image layer as a depthwise convolution (--image_conv=depthwise), same function.
    "f32_dw_1": dict(precision="float32", xla="off", num_cpu_devices=1, strategy="one_device",
                     image_conv="depthwise"),
    "bf16_dw_1": dict(precision="mixed_bfloat16", xla="off", num_cpu_devices=1, strategy="one_device",
                      image_conv="depthwise"),
    # The same with D's minibatch standard deviation (--d_minibatch_std=4): what the layer costs a step.
    "bf16_dw_mbstd_1": dict(precision="mixed_bfloat16", xla="off", num_cpu_devices=1, strategy="one_device",
                            image_conv="depthwise", d_minibatch_std=4),
    "xla_1": dict(precision="float32", xla="on", num_cpu_devices=1, strategy="one_device", image_conv="standard"),
    "xla_dw_1": dict(precision="float32", xla="on", num_cpu_devices=1, strategy="one_device", image_conv="depthwise"),
    "f32_2": dict(precision="float32", xla="off", num_cpu_devices=2, strategy="mirrored", image_conv="standard"),
    "xla_2": dict(precision="float32", xla="on", num_cpu_devices=2, strategy="mirrored", image_conv="standard"),
}


def resolve(args, full: dict, quick: dict) -> None:
  """Fills every option left unset: from `quick` under --quick, else from `full`."""
  for name, value in full.items():
    if getattr(args, name) is None:
      setattr(args, name, quick.get(name, value) if args.quick else value)


def first_existing(paths) -> str:
  """The first of `paths` (relative to the repository root) that exists, else the first."""
  return next((path for path in paths if os.path.isfile(os.path.join(common.REPO_ROOT, path))), paths[0])


def flagfile_path(path: str) -> str:
  """An absolute flagfile path (children run in the repository root); exits if it does not exist."""
  absolute = os.path.abspath(path)
  if not os.path.isfile(absolute) and os.path.isfile(os.path.join(common.REPO_ROOT, path)):
    absolute = os.path.join(common.REPO_ROOT, path)
  if not os.path.isfile(absolute):
    sys.exit(f"--flagfile: {path} does not exist")
  return absolute


def cgan_spec(flagfile: str, steps: int, warmup: int, flags=(), **extra) -> dict:
  return dict(flagfile=flagfile, flags=list(flags), steps=steps, warmup=warmup, **extra)


def fmt(value: float, digits: int = 2) -> str:
  return f"{value:,.{digits}f}"


# --- variants ------------------------------------------------------------------------------------


def variants(args) -> None:
  """Steps/s of cgan_tf's Fashion-MNIST cdcgan under precision, XLA and replica variants.

  Without --flagfile the runs are Config defaults (the reference cdcgan) plus each variant's fields; with
  it, the preset plus each variant's fields as flags (--batch_size only when given).
  """
  resolve(args, dict(steps=60, warmup=10, repeats=3), dict(steps=6, warmup=2, repeats=1))
  names = args.variants.split(",")
  unknown = sorted(set(names) - set(VARIANTS))
  if unknown:
    sys.exit(f"--variants: unknown {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
  flagfile = flagfile_path(args.flagfile) if args.flagfile else None
  results = {name: [] for name in names}
  for _ in range(args.repeats):
    for name in names:
      if flagfile:
        flags = [f"--{key}={value}" for key, value in VARIANTS[name].items()]
        flags += [f"--steps_per_execution={args.steps_per_execution}"]
        flags += [f"--batch_size={args.batch_size}"] if args.batch_size else []
        spec = cgan_spec(flagfile, args.steps, args.warmup, flags)
      else:
        fields = dict(batch_size=args.batch_size or 128, steps_per_execution=args.steps_per_execution,
                      **VARIANTS[name])
        spec = dict(fields=fields, steps=args.steps, warmup=args.warmup)
      results[name].append(run_child("cgan_steps", spec))
  first = results[names[0]][0]
  what = (f"`{os.path.relpath(flagfile)}` ({first['network']}) with each variant's settings as flags"
          if flagfile else "Fashion-MNIST, cdcgan (Config defaults: the reference networks)")
  print_header("Precision, XLA and replicas", [
      f"{what}, global batch {first['batch_size']}, steps {args.warmup}..{args.steps} timed "
      f"(checkpoints, grids and summaries off), median of {args.repeats} fresh processes, variants alternating."])
  base = median([r["steps_per_second"] for r in results["f32_1"]]) if "f32_1" in results else None
  rows = []
  for name in names:
    rate = median([r["steps_per_second"] for r in results[name]])
    settings = ", ".join(f"{k}={v}" for k, v in VARIANTS[name].items())
    rows.append([name, settings, fmt(rate), f"{1000 / rate:.0f}", f"{rate * first['examples_per_step']:.0f}",
                 f"{rate / base:.2f}x" if base else "-"])
  print(markdown_table(["variant", "settings", "steps/s", "ms/step", "images/s", "vs f32_1"], rows, "llrrrr"))


# --- throughput ----------------------------------------------------------------------------------


def describe_baseline_step(d_batch: int, batch: int) -> str:
  """What one step of tools/baseline_source_cgan.py computes, in words."""
  predict_calls = -(-d_batch // 32)
  return (f"D.train_on_batch on {d_batch} real images; G.predict on {d_batch} noise vectors (Keras's default "
          f"predict batch of 32: {predict_calls} call{'s' if predict_calls > 1 else ''} of G); D.train_on_batch "
          f"on those {d_batch} fakes; gan.train_on_batch on {batch} noise vectors (G forward, D forward, D's "
          f"input gradients with D frozen, G's backward); two Adam updates of D, one of G; numpy noise, labels "
          f"and real-image indices drawn on the host and copied in")


def throughput(args) -> None:
  """Steps/s and achieved GFLOP/s: cgan_tf, the source loop, and the source loop at cgan_tf's work per step.

  Three kinds of fresh process alternate: cgan_tf on the flagfile; the baseline as the source runs it
  (D on half a batch of real images and half a batch of fakes); the baseline with D on a full batch of
  each (`--d_batch` = cgan_tf's batch), which at the reference recipe does the same arithmetic per step
  as cgan_tf's alternating step. The headline is cgan_tf / baseline-at-equal-work in steps/s: the engine
  ratio. Real images/s against the source loop is printed too, labelled as what it counts.
  """
  resolve(args, dict(repeats=5, steps=60, warmup=10, baseline_steps=30, baseline_warmup=5),
          dict(repeats=2, steps=8, warmup=3, baseline_steps=4, baseline_warmup=2))
  flagfile = flagfile_path(args.flagfile)
  names = ("cgan_tf", "baseline", "baseline_equal")
  runs = {name: [] for name in names}
  equal_batch = args.equal_work_batch
  for _ in range(args.repeats):
    runs["cgan_tf"].append(run_child("cgan_steps", cgan_spec(flagfile, args.steps, args.warmup,
                                                             count_flops=True)))
    runs["baseline"].append(run_child("baseline_steps", dict(steps=args.baseline_steps,
                                                             warmup=args.baseline_warmup, count_flops=True)))
    # At cgan_tf's batch (known after its first run) unless asked otherwise: same images per D update.
    equal_batch = equal_batch or runs["cgan_tf"][0]["batch_size"]
    runs["baseline_equal"].append(run_child("baseline_steps", dict(
        steps=args.baseline_steps, warmup=args.baseline_warmup, batch_size=equal_batch, d_batch=equal_batch,
        count_flops=True)))
  first = {name: runs[name][0] for name in names}
  cgan_batch = first["cgan_tf"]["batch_size"]
  settings = first["cgan_tf"]["settings"]
  from tools.benchmarks.children import SOURCE_RECIPE  # Light: imports no TensorFlow.
  differences = {name: value for name, value in settings.items() if value != SOURCE_RECIPE[name]}
  flops = {name: first[name]["step_flops"] for name in names}
  equal_flops = abs(flops["cgan_tf"] - flops["baseline_equal"]) <= 1e-6 * flops["cgan_tf"]
  source = first["baseline"]
  print_header("Throughput at identical architecture and at equal work", [
      f"cgan_tf settings: {', '.join(f'{k}={v}' for k, v in settings.items())}: "
      + (f"**differ from the source's recipe in {', '.join(differences)}**" if differences
         else "the source's recipe (identical networks, optimizer and batch)."),
      f"**cgan_tf** (`{os.path.relpath(flagfile)}` through `cgan_tf.train.train`, steps {args.warmup}..{args.steps} "
      f"timed by a Keras callback; checkpoints, grids and summaries off), one step: "
      f"{first['cgan_tf']['step_description']}.",
      f"**baseline (source loop)** (tools/baseline_source_cgan.py, the source's loop with the Keras 3 fix "
      f"only; {args.baseline_warmup} warm-up steps, then {args.baseline_steps} timed), one step: "
      f"{describe_baseline_step(source['d_batch'], source['batch_size'])}.",
      f"**baseline at equal work** (the same with `--d_batch={equal_batch}` and batch {equal_batch}), one "
      f"step: {describe_baseline_step(equal_batch, first['baseline_equal']['batch_size'])}.",
      ("At equal work both sides do the same layer arithmetic per step "
       f"({flops['cgan_tf'] / 1e9:.2f} GFLOP by the counting rule below); what still differs is the engine: "
       "one compiled graph per step with noise drawn inside it (cgan_tf) against three `*_on_batch` calls and "
       "a `predict` with numpy inputs, D's Adam update once per step (cgan_tf: real and fake gradients summed) "
       "or once per D batch (baseline), and D's last layer: a logit with a from-logits loss (cgan_tf) or a "
       "sigmoid with binary cross-entropy (baseline). So steps/s of cgan_tf over the equal-work baseline is "
       "the engine ratio.") if equal_flops else
      (f"**The layer arithmetic per step differs** (cgan_tf {flops['cgan_tf'] / 1e9:.2f} GFLOP, equal-work "
       f"baseline {flops['baseline_equal'] / 1e9:.2f} GFLOP: the flagfile is not the source's recipe or not the "
       "alternating scheme), so compare achieved GFLOP/s, not steps/s."),
      f"Counting rule: {flops_lib.COUNTING_RULE}",
      f"Runs alternate cgan_tf, baseline, baseline at equal work, ... in fresh processes; median of "
      f"{args.repeats} each."])
  keys = ("steps_per_second", "images_per_second", "g_updates_per_second")
  medians = {name: {key: median([r[key] for r in runs[name]]) for key in keys} for name in names}
  labels = {"cgan_tf": "cgan_tf", "baseline": "baseline (source loop)",
            "baseline_equal": f"baseline at equal work (--d_batch={equal_batch})"}
  rows = []
  for name in names:
    m = medians[name]
    r = first[name]
    d_images = r["examples_per_step"]
    g_batch = r["batch_size"]
    rows.append([labels[name], f"{d_images} + {d_images} / {g_batch}", f"{flops[name] / 1e9:.2f}",
                 fmt(m["steps_per_second"]), f"{1000 / m['steps_per_second']:.0f}",
                 f"{flops[name] * m['steps_per_second'] / 1e9:.1f}", fmt(m["images_per_second"], 0),
                 fmt(m["g_updates_per_second"]), ", ".join(f"{x['steps_per_second']:.2f}" for x in runs[name])])
  print(markdown_table(["implementation", "D real + fake / G batch per step", "GFLOP/step", "steps/s",
                        "ms/step", "achieved GFLOP/s", "real images/s", "G updates/s", "each run's steps/s"],
                       rows, "llrrrrrrl"))
  engine = medians["cgan_tf"]["steps_per_second"] / medians["baseline_equal"]["steps_per_second"]
  achieved = {name: flops[name] * medians[name]["steps_per_second"] for name in names}
  images = medians["cgan_tf"]["images_per_second"] / medians["baseline"]["images_per_second"]
  g_updates = medians["cgan_tf"]["g_updates_per_second"] / medians["baseline"]["g_updates_per_second"]
  print()
  if equal_flops:
    print(f"**Engine ratio, cgan_tf / baseline at equal work, steps/s: {engine:.2f}x** "
          f"(same GFLOP per step, so also the ratio of achieved GFLOP/s).")
  else:
    print(f"**Achieved GFLOP/s, cgan_tf / baseline at equal work: "
          f"{achieved['cgan_tf'] / achieved['baseline_equal']:.2f}x** (steps/s: {engine:.2f}x, but the steps "
          f"differ in work).")
  print(f"\nAgainst the source loop as it runs (D on {source['d_batch']} + {source['d_batch']} images): real "
        f"images/s {images:.2f}x (counts images consumed by D, not work: a cgan_tf step is "
        f"{flops['cgan_tf'] / flops['baseline']:.2f}x the source's arithmetic), G updates/s = steps/s "
        f"{g_updates:.2f}x, achieved GFLOP/s {achieved['cgan_tf'] / achieved['baseline']:.2f}x.")


# --- time to quality -----------------------------------------------------------------------------


def target_words(metric: str) -> tuple:
  """(the metric in words, the comparison that reaches a target on it) for the time-to-quality tables."""
  what = "conditional accuracy" if metric == "conditional_accuracy" else "Fréchet distance"
  return what, ">=" if common.QUALITY_TARGETS[metric] else "<="


def time_to_quality(args) -> None:
  """Training seconds until a quality target is reached: each flagfile and the baseline, over seeds.

  The target is conditional accuracy (at least --threshold) or the Fréchet distance to the real test split
  (at most --threshold). Every seed runs each flagfile and then the baseline, in fresh processes; the
  summary gives each run's median and range over the seeds, a run that does not reach the target within
  the budget counting as "more than the budget".
  """
  if args.from_jsonl:
    time_to_quality_from_checks(args)
    return
  resolve(args, dict(eval_every=500, per_class=1000, budget_minutes=120.0),
          dict(eval_every=5, per_class=10, budget_minutes=0.5))
  if args.threshold is None:
    if args.metric != "conditional_accuracy":
      sys.exit(f"--threshold: give the {args.metric} to reach")
    args.threshold = 0.8
  if args.baseline_eval_every is None:
    args.baseline_eval_every = args.eval_every
  seeds = [int(seed) for seed in args.seeds.split(",")]
  flagfiles = args.flagfile or [first_existing(FAST_FLAGFILES)]
  flagfiles = [flagfile_path(path) for path in flagfiles]
  budget_seconds = args.budget_minutes * 60.0
  common_spec = dict(metric=args.metric, threshold=args.threshold, per_class=args.per_class,
                     budget_seconds=budget_seconds, jsonl=os.path.abspath(args.jsonl), eval_seed=args.eval_seed)
  baseline_name = f"{BASELINE_RUN} (source loop)"
  if args.baseline_d_batch:
    baseline_name = f"{BASELINE_RUN}, D on {args.baseline_d_batch} + {args.baseline_d_batch} (--d_batch)"
  runs = []
  for seed in seeds:
    runs += [("tta_cgan", dict(common_spec, name=f"cgan_tf {os.path.relpath(path)}", flagfile=path,
                               flags=[f"--seed={seed}"], seed=seed, eval_every=args.eval_every))
             for path in flagfiles]
    if not args.no_baseline:
      runs.append(("tta_baseline", dict(common_spec, name=baseline_name, seed=seed,
                                        eval_every=args.baseline_eval_every,
                                        **(dict(d_batch=args.baseline_d_batch) if args.baseline_d_batch else {}))))
  results = []
  for kind, spec in runs:
    print(f"running {spec['name']}, seed {spec['seed']} (checks every {spec['eval_every']} steps; JSONL: "
          f"{args.jsonl})", file=sys.stderr, flush=True)
    results.append(run_child(kind, spec, show_progress=True))
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
  for (kind, spec), result in zip(runs, results):
    outcome = f"{result['seconds']:.0f} s" if result["reached"] else "not reached within budget"
    rows.append([spec["name"], spec["seed"], outcome, result["step"] if result["reached"] else "-",
                 f"{result['best_value']:.3f} (step {result['best_step']}, {result['best_seconds']:.0f} s)",
                 result["checks"], f"{result['trained_seconds']:.0f}", f"{result['eval_seconds']:.0f}"])
  print(markdown_table(["run", "seed", f"time to {target}", "at step", f"best {what}", "checks", "training s",
                        "evaluation s (off the clock)"], rows, "lrlrrrrr"))
  # Each row's time per seed; a run that did not reach the target counts as more than the budget.
  times = {}
  for (kind, spec), result in zip(runs, results):
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


def time_to_quality_from_checks(args) -> None:
  """Time to each of several targets, read from the checks an earlier time_to_quality run recorded.

  A run stops at its own target, so a target it had not reached by its last check is reported as more
  than that check's training seconds: a lower bound, never a "not reached" it might have reached later.
  """
  if not args.thresholds:
    sys.exit("--from_jsonl: give the targets to read with --thresholds (comma-separated)")
  try:
    thresholds = [float(value) for value in args.thresholds.split(",")]
    runs = common.read_check_runs(args.from_jsonl)
  except OSError as e:
    sys.exit(f"--from_jsonl: cannot read {args.from_jsonl}: {e.strerror}")
  except ValueError as e:
    sys.exit(f"--from_jsonl/--thresholds: {e}")
  if not runs:
    sys.exit(f"--from_jsonl: {args.from_jsonl} holds no checks")
  what, sign = target_words(args.metric)
  print(f"\n### Time to quality, read from the recorded checks\n")
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
      hit = common.first_reached(checks, args.metric, threshold)
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


# --- efficiency ----------------------------------------------------------------------------------


def efficiency(args) -> None:
  """Step FLOPs over step time, as a fraction of this machine's dense float32 matmul rate."""
  resolve(args, dict(steps=40, warmup=10, repeats=3, matmul_sizes="2048,4096", matmul_repeats=5),
          dict(steps=6, warmup=2, repeats=1, matmul_sizes="1024,2048", matmul_repeats=3))
  flagfile = flagfile_path(args.flagfile)
  sizes = [int(size) for size in args.matmul_sizes.split(",")]
  steps, matmuls = [], []
  for repeat in range(args.repeats):
    matmuls.append(run_child("matmul", dict(sizes=sizes, repeats=args.matmul_repeats)))
    steps.append(run_child("cgan_steps", cgan_spec(flagfile, args.steps, args.warmup, count_flops=True,
                                                   profile=not args.no_profile and repeat == 0)))
  first = steps[0]
  step_seconds = median([r["step_seconds"] for r in steps])
  rates = {size: median([m["rates"][str(size)] for m in matmuls]) for size in sizes}
  best_size = max(rates, key=rates.get)
  achieved = first["step_flops"] / step_seconds
  notes = [f"cgan_tf `{os.path.relpath(flagfile)}` ({first['network']}, batch {first['batch_size']}, "
           f"{first['update_scheme']} updates, image {first['image_shape']}), steps {args.warmup}..{args.steps} "
           f"timed, median of {args.repeats} fresh processes, alternating with the matmul measurement "
           f"(`tf.linalg.matmul` of float32 [n, n] x [n, n], 2n^3 FLOPs, best of {args.matmul_repeats} "
           f"per process, median over processes).", f"Counting rule: {flops_lib.COUNTING_RULE}"]
  if "profiled_flops" in first:
    notes += [f"Cross-check: TF's profiler (`tf.compat.v1.profiler`, float_operation) over the traced "
              f"`train_step` graph counts {first['profiled_flops'] / 1e9:.2f} GFLOP per step (it also counts "
              f"elementwise ops), {first['profiled_flops'] / first['step_flops']:.3f}x the layer count."]
  elif "profiled_flops_error" in first:
    notes += [f"Profiler cross-check unavailable: {first['profiled_flops_error']}"]
  if first.get("uncounted_layers"):
    notes += [f"Not counted (no rule for their type): {', '.join(first['uncounted_layers'])}."]
  if first.get("penalties"):
    notes += [f"Gradient penalties are on ({first['penalties']}) and not counted: the figure is low."]
  print_header("Hardware efficiency", notes)
  rows = [[f"{first['step_flops'] / 1e9:.2f}", f"{step_seconds * 1000:.0f}", f"{achieved / 1e9:.1f}",
           f"{rates[best_size] / 1e9:.1f} (n={best_size})", f"**{achieved / rates[best_size]:.0%}**"]]
  print(markdown_table(["GFLOP per step (layer count)", "ms per step", "achieved GFLOP/s",
                        "matmul GFLOP/s", "fraction of matmul rate"], rows))
  print("\n" + markdown_table(["matmul n", "GFLOP/s (median of best-of-each)"],
                              [[size, f"{rate / 1e9:.1f}"] for size, rate in rates.items()]))


# --- pipeline ------------------------------------------------------------------------------------


def pipeline(args) -> None:
  """Images/s of the tf.data training pipeline alone against the images/s training consumes."""
  resolve(args, dict(batches=200, warmup=20, steps=40, train_warmup=10, repeats=3),
          dict(batches=20, warmup=5, steps=6, train_warmup=2, repeats=1))
  flagfile = flagfile_path(args.flagfile)
  pipelines, trainings = [], []
  for _ in range(args.repeats):
    pipelines.append(run_child("pipeline", dict(flagfile=flagfile, batches=args.batches, warmup=args.warmup)))
    trainings.append(run_child("cgan_steps", cgan_spec(flagfile, args.steps, args.train_warmup)))
  supplied = median([r["images_per_second"] for r in pipelines])
  consumed = median([r["images_per_second"] for r in trainings])
  print_header("Input pipeline", [
      f"`cgan_tf.data.pipeline.train_dataset` for `{os.path.relpath(flagfile)}` (batch {pipelines[0]['batch_size']}), "
      f"iterated alone from Python: {args.warmup} batches of warm-up, then {args.batches} timed. Training: "
      f"the same preset's steps {args.train_warmup}..{args.steps}. Median of {args.repeats} fresh processes "
      f"each, alternating."])
  print(markdown_table(["pipeline alone, images/s", "training consumes, images/s", "pipeline / training"],
                       [[fmt(supplied, 0), fmt(consumed, 0), f"**{supplied / consumed:.1f}x**"]]))


# --- memory --------------------------------------------------------------------------------------


def memory(args) -> None:
  """Peak resident memory at equal settings: cgan_tf on the flagfile beside the source loop at its batch.

  Fresh processes alternate over --repeats: cgan_tf with checkpoints, grids and summaries off (the baseline
  keeps none), the baseline as the source runs it, and the baseline with D on full batches (`--d_batch` =
  the batch, the same arithmetic per step as cgan_tf's step at the reference recipe). With
  --keep_bookkeeping cgan_tf also runs once more per repeat with the preset's own checkpoints and grids.
  """
  resolve(args, dict(steps=200, repeats=3), dict(steps=10, repeats=1))
  flagfile = flagfile_path(args.flagfile)
  warmup = min(5, args.steps - 1)
  names = ["cgan_tf"] + (["cgan_tf_bookkeeping"] if args.keep_bookkeeping else [])
  names += [] if args.no_baseline else ["baseline", "baseline_equal"]
  runs = {name: [] for name in names}
  batch = None
  for _ in range(args.repeats):
    runs["cgan_tf"].append(run_child("cgan_steps", cgan_spec(flagfile, args.steps, warmup)))
    batch = batch or runs["cgan_tf"][0]["batch_size"]
    if args.keep_bookkeeping:
      runs["cgan_tf_bookkeeping"].append(run_child("cgan_steps", cgan_spec(flagfile, args.steps, warmup,
                                                                           keep_bookkeeping=True)))
    if not args.no_baseline:
      runs["baseline"].append(run_child("baseline_steps", dict(steps=args.steps - warmup, warmup=warmup,
                                                               batch_size=batch)))
      runs["baseline_equal"].append(run_child("baseline_steps", dict(
          steps=args.steps - warmup, warmup=warmup, batch_size=batch, d_batch=batch)))
  labels = {"cgan_tf": f"cgan_tf `{os.path.relpath(flagfile)}` (bookkeeping off)",
            "cgan_tf_bookkeeping": f"cgan_tf `{os.path.relpath(flagfile)}` (its checkpoints, grids, summaries)",
            "baseline": "baseline (source loop)", "baseline_equal": f"baseline at equal work (--d_batch={batch})"}
  rows = []
  for name in names:
    peaks = [r["ru_maxrss_mib"] for r in runs[name]]
    first = runs[name][0]
    d_batch = first.get("d_batch", first["batch_size"])
    rows.append([labels[name], f"{d_batch} + {d_batch} / {first['batch_size']}", args.steps,
                 f"**{fmt(median(peaks), 0)}**", ", ".join(fmt(peak, 0) for peak in peaks)])
  print_header("Memory at equal settings", [
      f"Peak resident memory of a fresh training process over {args.steps} steps, read by the process itself "
      "at the end (`getrusage(RUSAGE_SELF).ru_maxrss`); median of "
      f"{args.repeats} fresh processes each, alternating. Same networks, batch and filters on every row (the "
      "flagfile's). Both sides hold the 60,000 training images in memory: cgan_tf as uint8 (47 MB), the "
      "source as float32 (188 MB), which is the source's own choice and counted as part of it."])
  print(markdown_table(["process", "D real + fake / G batch per step", "steps", "peak RSS MiB (median)",
                        "each run"], rows))


# --- scaling -------------------------------------------------------------------------------------


def write_synthetic_npz(path: str, size: int, count: int, num_classes: int = 10, seed: int = 0) -> str:
  """A synthetic labelled set for --data_source=npz: noise with a bright class-specific square."""
  import numpy as np

  rng = np.random.default_rng(seed)
  labels = (np.arange(count) % num_classes).astype(np.int32)
  images = rng.integers(0, 40, size=(count, size, size), dtype=np.uint8)
  square = max(2, size // 7)
  for label in range(num_classes):
    row, col = divmod(label, 4)
    images[labels == label, row * square:(row + 1) * square, col * square:(col + 1) * square] = 255
  np.savez(path, images=images, labels=labels)
  return path


def scaling(args) -> None:
  """Step time of cdcgan against batch size (Fashion-MNIST) and image size (synthetic data)."""
  resolve(args, dict(batch_sizes="32,64,128,256,512", image_sizes="28,32,64", image_batch=128, steps=25,
                     warmup=5, synthetic_count=4096),
          dict(batch_sizes="32,64", image_sizes="28,32", image_batch=32, steps=4, warmup=2,
               synthetic_count=512))
  flagfile = flagfile_path(args.flagfile)
  spec = dict(steps=args.steps, warmup=args.warmup, count_flops=True)
  by_batch = []
  for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
    by_batch.append(run_child("cgan_steps", cgan_spec(flagfile, flags=["--network=cdcgan",
                                                                       f"--batch_size={batch_size}"], **spec)))
  by_size = []
  with tempfile.TemporaryDirectory() as directory:
    for size in [int(s) for s in args.image_sizes.split(",")]:
      path = write_synthetic_npz(os.path.join(directory, f"synthetic_{size}.npz"), size, args.synthetic_count)
      flags = ["--network=cdcgan", "--data_source=npz", f"--data_dir={path}", "--dataset=synthetic",
               "--image_size=0", f"--batch_size={args.image_batch}"]
      by_size.append(run_child("cgan_steps", cgan_spec(flagfile, flags=flags, **spec)))
  print_header("Scaling of cost", [
      f"cdcgan from `{os.path.relpath(flagfile)}`; each row a fresh process, steps {args.warmup}..{args.steps} "
      f"timed (checkpoints, grids and summaries off). Batch sizes on Fashion-MNIST; image sizes on a synthetic "
      f"{args.synthetic_count}-image .npz (--data_source=npz) at batch {args.image_batch}, where the network "
      f"adds a stride-2 stage per doubling (28: 2 stages from 7x7, 32: 3 from 4x4, 64: 4 from 4x4). "
      f"GFLOP per step by the layer count of the efficiency figure."])

  def row(first, result):
    flops = result["step_flops"]
    return [first, f"{result['step_seconds'] * 1000:.0f}", fmt(result["images_per_second"], 0),
            f"{result['step_seconds'] * 1e6 / result['examples_per_step']:.0f}", f"{flops / 1e9:.2f}",
            f"{flops / result['step_seconds'] / 1e9:.1f}"]

  headers = ["ms/step", "images/s", "µs per image", "GFLOP/step", "GFLOP/s"]
  print(markdown_table(["batch"] + headers, [row(r["batch_size"], r) for r in by_batch]))
  print()
  print(markdown_table(["image size"] + headers,
                       [row("x".join(str(d) for d in r["image_shape"]), r) for r in by_size]))


# --- profile -------------------------------------------------------------------------------------


def profile(args) -> None:
  """Where a step's time goes: the TF profiler's op self times over a few traced steps, by category."""
  resolve(args, dict(warmup=15, trace_steps=5, top=25), dict(warmup=4, trace_steps=2, top=12))
  flagfile = flagfile_path(args.flagfile)
  result = run_child("profile_steps", dict(flagfile=flagfile, flags=args.cgan_flag or [], precision=args.precision,
                                           xla=args.xla, warmup=args.warmup, trace_steps=args.trace_steps,
                                           timed=args.trace_steps))
  framework = result["framework"]
  print_header("Where a step's time goes", [
      f"cgan_tf `{os.path.relpath(flagfile)}`{' ' + ' '.join(args.cgan_flag) if args.cgan_flag else ''} "
      f"({result['network']}, batch {result['batch_size']}, precision "
      f"{result['precision']}, --xla={result['xla']}), one fresh process: {args.warmup} steps untraced, then "
      f"{args.trace_steps} traced with `tf.profiler.experimental.start/stop` (checkpoints, grids and summaries "
      f"off). One step: {result['step_description']}.",
      (f"Wall time per step: {result['unprofiled_ms_per_step']:.0f} ms without the profiler (the last "
       f"{result['timed_steps']} untraced steps), " if result["unprofiled_ms_per_step"] is not None else
       "Wall time per step: ")
      + f"{result['traced_ms_per_step']:.0f} ms while tracing. Op self "
      f"time summed over threads: {framework['total_ms_per_step']:.0f} ms per step (TF's intra-op threads work "
      f"inside an op's time; inter-op parallelism can make the sum exceed the wall time). Shares are of "
      f"that sum. tf.data's iterator events (on the pipeline's own threads, overlapping the step, waits "
      f"included) are not in it: {framework['input_pipeline_ms_per_step']:.0f} ms per step.",
      "Read with TF's own converter (`_pywrap_profiler_plugin.xspace_to_tools_data`, tool "
      "\"framework_op_stats\") from the trace's .xplane.pb; under XLA the compiled cluster is one op, broken "
      "down below by the HLO instruction events of the XSpace proto. Categories by op type and name "
      "(tools/benchmarks/op_profile.py); transposed convolutions run as Conv2DBackpropInput."])
  print_breakdown(framework, ["op type", "category", "calls/step"], args.top)
  if "hlo" in result:
    hlo = result["hlo"]
    print(f"\nInside the XLA cluster: HLO instructions' self time, {hlo['total_ms_per_step']:.0f} ms per step "
          f"summed over threads (the TF op that produced each, from the compiled module's metadata).\n")
    print_breakdown(hlo, ["HLO instruction (opcode, from TF op)", "category", "runs/step"], args.top)


def print_breakdown(stats: dict, type_columns: list, top: int) -> None:
  """Two tables of a profile: time per category, then the `top` op (or instruction) types."""
  print(markdown_table(["category", "ms/step", "share"],
                       [[name, f"{ms:.1f}", f"{share:.1%}"] for name, ms, share in stats["categories"]]))
  print()
  print(markdown_table(type_columns + ["ms/step", "share"],
                       [[name, category, f"{calls:g}", f"{ms:.1f}", f"{share:.1%}"]
                        for name, ms, share, calls, category in stats["types"][:top]], "llrrr"))


# --- layers --------------------------------------------------------------------------------------

LAYER_MODES = {
    "float32": dict(precision="float32", onednn=True),
    "bfloat16": dict(precision="bfloat16", onednn=True),
    "mixed_bfloat16": dict(precision="mixed_bfloat16", onednn=True),
    "float32_eigen": dict(precision="float32", onednn=False),
    "bfloat16_eigen": dict(precision="bfloat16", onednn=False),
}


def layers(args) -> None:
  """Per-layer forward and forward+backward times of a preset's networks: float32 against bfloat16.

  Each mode is a fresh process (alternating over --repeats); bfloat16 is every tensor and weight in
  bfloat16 (the kernels alone), mixed_bfloat16 Keras's policy (casts included, the float32 layers kept);
  the _eigen modes run with TF_ENABLE_ONEDNN_OPTS=0. --onednn_verbose adds one process per oneDNN mode with
  ONEDNN_VERBOSE=1 and lists the primitives (implementation, e.g. brg_conv_fwd:avx512_core_bf16 or
  jit:avx512_core, and reorders) that ran.
  """
  from tools.benchmarks import layer_times  # Light: imports no TensorFlow at module level.

  resolve(args, dict(repeats=3, calls=10, warmup=3, matmul_sizes="1024,2048,4096"),
          dict(repeats=1, calls=2, warmup=1, matmul_sizes="512,1024"))
  modes = args.modes.split(",")
  unknown = sorted(set(modes) - set(LAYER_MODES))
  if unknown:
    sys.exit(f"--modes: unknown {', '.join(unknown)}; known: {', '.join(LAYER_MODES)}")
  flagfile = flagfile_path(args.flagfile)
  base = dict(flagfile=flagfile, flags=[], batch=args.batch_size, warmup=args.warmup, calls=args.calls,
              matmul_sizes=[int(n) for n in args.matmul_sizes.split(",") if n])
  runs = {mode: [] for mode in modes}
  for _ in range(args.repeats):
    for mode in modes:
      runs[mode].append(run_child("layer_times", dict(base, **LAYER_MODES[mode])))
  verbose = {}
  if args.onednn_verbose:
    for mode in modes:
      if LAYER_MODES[mode]["onednn"]:
        verbose[mode] = run_child("layer_times", dict(base, verbose=True, calls=max(2, args.calls // 3),
                                                      **LAYER_MODES[mode]))
  first = runs[modes[0]][0]
  batch = first["batch"]
  print_header("Layers: float32 against bfloat16", [
      f"The layers of `{os.path.relpath(flagfile)}`'s networks at batch {batch}, each timed on random inputs of "
      f"the shape and dtype it receives in the network: forward alone, and forward + the gradients of its "
      f"input and weights. Median of {args.calls} calls (after {args.warmup} untimed) per process, median of "
      f"{args.repeats} fresh processes per mode, modes alternating. Modes: {layer_times.MODES_NOTE}",
      "Speed-ups are float32 time / that mode's time (above 1: faster than float32). GFLOP/s: forward + "
      "backward at 3x the forward FLOPs (input and weight gradients), float32."])
  keys = [(row["network"], row["name"]) for row in first["rows"]]

  def med(mode, key, field):
    values = [row[field] for run in runs[mode] for row in run["rows"] if (row["network"], row["name"]) == key]
    return median(values) if values else float("nan")

  info = {(row["network"], row["name"]): row for row in first["rows"]}
  others = [mode for mode in modes if mode != "float32"]
  headers = ["net", "layer", "type", "input", "fwd GFLOP"]
  for field, label in (("forward_ms", "fwd"), ("forward_backward_ms", "fwd+bwd")):
    headers += [f"{label} ms {mode}" for mode in modes]
    if "float32" in modes:
      headers += [f"{label} speed-up {mode}" for mode in others]
  if "float32" in modes:
    headers.append("fwd+bwd GFLOP/s float32")
  rows = []
  totals = collections.defaultdict(float)
  for key in keys:
    row = info[key]
    mixed_note = ""
    if "mixed_bfloat16" in modes:
      mixed_row = next((r for r in runs["mixed_bfloat16"][0]["rows"] if (r["network"], r["name"]) == key), None)
      if mixed_row and mixed_row["compute_dtype"] == "float32":
        mixed_note = " (float32 under mixed)"
    line = [row["network"], row["name"] + mixed_note, row["type"],
            "x".join(str(d) for d in row["input_shape"]), f"{row['forward_flops'] / 1e9:.3f}"]
    for field in ("forward_ms", "forward_backward_ms"):
      times = {mode: med(mode, key, field) for mode in modes}
      for mode in modes:
        totals[(row["network"], field, mode)] += times[mode]
      line += [f"{times[mode]:.2f}" for mode in modes]
      if "float32" in modes:
        line += [f"{times['float32'] / times[mode]:.2f}x" for mode in others]
    if "float32" in modes:
      both = med("float32", key, "forward_backward_ms")
      line.append(f"{3 * row['forward_flops'] / (both / 1000) / 1e9:.1f}" if row["forward_flops"] else "-")
    rows.append(line)
  for network in ("G", "D"):
    line = [f"**{network} total**", "", "", "", ""]
    for field in ("forward_ms", "forward_backward_ms"):
      line += [f"{totals[(network, field, mode)]:.2f}" for mode in modes]
      if "float32" in modes:
        line += [f"{totals[(network, field, 'float32')] / totals[(network, field, mode)]:.2f}x" for mode in others]
    if "float32" in modes:
      line.append("")
    rows.append(line)
  print(markdown_table(headers, rows, "llll" + "r" * (len(headers) - 4)))
  matmul_modes = [mode for mode in modes if runs[mode][0].get("matmul")]
  if matmul_modes:
    sizes = list(runs[matmul_modes[0]][0]["matmul"])
    print(f"\nDense matmul `tf.linalg.matmul` [n, n] x [n, n] in each process's compute dtype, GFLOP/s (best of 3 "
          f"per process, median over processes):\n")
    print(markdown_table(["mode (dtype)"] + [f"n={size}" for size in sizes],
                         [[f"{mode} ({runs[mode][0]['matmul_dtype']})"]
                          + [f"{median([run['matmul'][size] for run in runs[mode]]) / 1e9:.0f}" for size in sizes]
                          for mode in matmul_modes]))
  for mode, result in verbose.items():
    print(f"\noneDNN primitives executed in the {mode} process (ONEDNN_VERBOSE=1, {max(2, args.calls // 3)} timed "
          f"calls per measurement plus warm-up), summed, largest first:\n")
    print(markdown_table(["primitive", "implementation", "direction", "data types", "problem", "runs", "ms"],
                         [[*row[:5], row[5], f"{row[6]:.1f}"] for row in result["primitives"]], "lllllrr"))


# --- command line --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  subparsers = parser.add_subparsers(dest="subcommand")

  def add(name, function, help_text, flagfiles=REFERENCE_FLAGFILES):
    sub = subparsers.add_parser(name, help=help_text, description=function.__doc__)
    sub.set_defaults(function=function)
    sub.add_argument("--quick", action="store_true", help="tiny settings: checks that the subcommand works")
    if flagfiles:
      sub.add_argument("--flagfile", default=first_existing(flagfiles),
                       help=f"the cgan_tf preset to measure (default: the first that exists of "
                            f"{', '.join(flagfiles)})")
    return sub

  sub = add("variants", variants, "float32 / mixed precision / XLA / 1 vs 2 replicas", flagfiles=())
  sub.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated: " + ", ".join(VARIANTS))
  sub.add_argument("--flagfile", help="a cgan_tf preset to run the variants of (default: none, the reference "
                                      "cdcgan from Config defaults)")
  sub.add_argument("--batch_size", type=int, default=0,
                   help="global batch (default 0: 128 without --flagfile, the preset's with it)")
  sub.add_argument("--steps", type=int, help="steps per run, warm-up included (default 60)")
  sub.add_argument("--warmup", type=int, help="untimed first steps (default 10)")
  sub.add_argument("--steps_per_execution", type=int, default=1)
  sub.add_argument("--repeats", type=int, help="runs of each variant, alternating (default 3)")

  sub = add("throughput", throughput, "steps/s and GFLOP/s: cgan_tf vs the baseline, as the source runs it "
            "and at equal work")
  sub.add_argument("--repeats", type=int, help="runs of each, alternating (default 5)")
  sub.add_argument("--equal_work_batch", type=int, default=0,
                   help="batch and D batch of the equal-work baseline (default 0: cgan_tf's batch)")
  sub.add_argument("--steps", type=int, help="cgan_tf: steps per run, warm-up included (default 60)")
  sub.add_argument("--warmup", type=int, help="cgan_tf: untimed first steps (default 10)")
  sub.add_argument("--baseline_steps", type=int, help="baseline: timed steps per run (default 30)")
  sub.add_argument("--baseline_warmup", type=int, help="baseline: untimed steps before them (default 5)")

  sub = add("time_to_quality", time_to_quality, "training time to a quality target (accuracy or distance)",
            flagfiles=())
  sub.add_argument("--flagfile", action="append",
                   help=f"a cgan_tf preset to run (repeatable; default: the first that exists of "
                        f"{', '.join(FAST_FLAGFILES)})")
  sub.add_argument("--no_baseline", action="store_true", help="skip the source loop")
  sub.add_argument("--metric", choices=sorted(common.QUALITY_TARGETS), default="conditional_accuracy",
                   help="the figure the target is on")
  sub.add_argument("--threshold", type=float, help="the value to reach: at least (accuracy; default 0.8) or "
                   "at most (distance; required)")
  sub.add_argument("--seeds", default="0", help="comma-separated training seeds; each runs every row")
  sub.add_argument("--baseline_d_batch", type=int, default=0,
                   help="the baseline's real and fake images per D update (0: the source's half batch)")
  sub.add_argument("--eval_every", type=int, help="cgan_tf steps between checks (default 500)")
  sub.add_argument("--baseline_eval_every", type=int, help="baseline steps between checks (default: --eval_every)")
  sub.add_argument("--per_class", type=int, help="generated images per class per check (default 1000)")
  sub.add_argument("--budget_minutes", type=float, help="training minutes per run before giving up (default 120)")
  sub.add_argument("--jsonl", default=os.path.join("runs", "benchmarks", "time_to_quality.jsonl"),
                   help="every check is appended here: run, step, train_seconds, accuracy, frechet_distance, per_class")
  sub.add_argument("--eval_seed", type=int, default=0, help="seed of the evaluation noise")
  sub.add_argument("--from_jsonl", help="train nothing: report the time to each of --thresholds from the checks "
                   "an earlier run appended to this JSONL")
  sub.add_argument("--thresholds", help="with --from_jsonl: comma-separated targets of --metric to read")

  sub = add("efficiency", efficiency, "step FLOPs / step time as a fraction of the matmul rate")
  sub.add_argument("--steps", type=int, help="steps per run, warm-up included (default 40)")
  sub.add_argument("--warmup", type=int, help="untimed first steps (default 10)")
  sub.add_argument("--repeats", type=int, help="fresh processes of each measurement (default 3)")
  sub.add_argument("--matmul_sizes", help="comma-separated n of the [n, n] matmuls (default 2048,4096)")
  sub.add_argument("--matmul_repeats", type=int, help="matmuls per size per process, best taken (default 5)")
  sub.add_argument("--no_profile", action="store_true", help="skip the TF profiler cross-check")

  sub = add("pipeline", pipeline, "the tf.data pipeline alone vs what training consumes")
  sub.add_argument("--batches", type=int, help="timed batches (default 200)")
  sub.add_argument("--warmup", type=int, help="untimed batches first (default 20)")
  sub.add_argument("--steps", type=int, help="training steps, warm-up included (default 40)")
  sub.add_argument("--train_warmup", type=int, help="untimed training steps (default 10)")
  sub.add_argument("--repeats", type=int, help="fresh processes of each (default 3)")

  sub = add("memory", memory, "peak resident memory at equal settings, cgan_tf beside the source loop")
  sub.add_argument("--steps", type=int, help="training steps (default 200)")
  sub.add_argument("--repeats", type=int, help="fresh processes of each, alternating (default 3)")
  sub.add_argument("--keep_bookkeeping", action="store_true",
                   help="also run cgan_tf with the preset's checkpoints, grids and summaries")
  sub.add_argument("--no_baseline", action="store_true", help="skip the source loop")

  sub = add("scaling", scaling, "step time vs batch size and vs image size (cdcgan)")
  sub.add_argument("--batch_sizes", help="comma-separated (default 32,64,128,256,512)")
  sub.add_argument("--image_sizes", help="comma-separated (default 28,32,64)")
  sub.add_argument("--image_batch", type=int, help="batch of the image-size rows (default 128)")
  sub.add_argument("--steps", type=int, help="steps per run, warm-up included (default 25)")
  sub.add_argument("--warmup", type=int, help="untimed first steps (default 5)")
  sub.add_argument("--synthetic_count", type=int, help="images in each synthetic .npz (default 4096)")

  sub = add("layers", layers, "per-layer forward/backward times, float32 vs bfloat16 (and Eigen)", PRESET_FLAGFILES)
  sub.add_argument("--modes", default="float32,bfloat16,mixed_bfloat16",
                   help="comma-separated: " + ", ".join(LAYER_MODES))
  sub.add_argument("--batch_size", type=int, default=0, help="batch (default 0: the preset's)")
  sub.add_argument("--calls", type=int, help="timed calls per measurement, median taken (default 10)")
  sub.add_argument("--warmup", type=int, help="untimed calls first (default 3)")
  sub.add_argument("--repeats", type=int, help="fresh processes per mode, alternating (default 3)")
  sub.add_argument("--matmul_sizes", help="n of the dense matmul rate per mode (default 1024,2048,4096; '' skips)")
  sub.add_argument("--onednn_verbose", action="store_true",
                   help="one more process per oneDNN mode with ONEDNN_VERBOSE=1: the primitives that ran")

  sub = add("profile", profile, "TF profiler: op self time per step by category (conv, matmul, casts, ...)",
            PRESET_FLAGFILES)
  sub.add_argument("--precision", choices=("float32", "mixed_bfloat16", "mixed_float16"),
                   help="override the preset's precision (default: the preset's)")
  sub.add_argument("--xla", choices=("on", "off"), help="override the preset's XLA setting (default: the preset's)")
  sub.add_argument("--cgan_flag", action="append",
                   help="an extra cgan_tf flag, repeatable, e.g. --cgan_flag=--image_conv=depthwise")
  sub.add_argument("--warmup", type=int, help="untraced first steps (default 15)")
  sub.add_argument("--trace_steps", type=int, help="traced steps (default 5)")
  sub.add_argument("--top", type=int, help="op types listed (default 25)")
  return parser


def main(argv=None) -> None:
  argv = sys.argv[1:] if argv is None else argv
  if argv[:1] == ["--child"]:
    from tools.benchmarks import children
    children.run(json.loads(argv[1]))
    return
  # Without a subcommand the variants table runs, as this script always did (its flags still work).
  if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help")):
    argv = ["variants"] + argv
  args = build_parser().parse_args(argv)
  if not getattr(args, "from_jsonl", None):  # Reading recorded checks measures nothing on this machine.
    common.note_start()
  try:
    args.function(args)
  except common.ChildError as e:
    sys.exit(f"error: {e}")


if __name__ == "__main__":
  main()
