"""Steps/s and achieved GFLOP/s of cgan_tf beside the source loop, as the source runs it and at equal work."""

import argparse
import os

from tools.benchmarks import common
from tools.benchmarks import flops as flops_lib
from tools.benchmarks import training
from tools.benchmarks.common import fmt, markdown_table, median, print_header, run_child

HELP = "steps/s and GFLOP/s: cgan_tf vs the baseline, as the source runs it and at equal work"


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """Adds this measurement's options to its subcommand parser."""
  common.add_arguments(parser)
  parser.add_argument("--repeats", type=int, help="runs of each, alternating (default 5)")
  parser.add_argument("--equal_work_batch", type=int, default=0,
                      help="batch and D batch of the equal-work baseline (default 0: cgan_tf's batch)")
  parser.add_argument("--steps", type=int, help="cgan_tf: steps per run, warm-up included (default 60)")
  parser.add_argument("--warmup", type=int, help="cgan_tf: untimed first steps (default 10)")
  parser.add_argument("--baseline_steps", type=int, help="baseline: timed steps per run (default 30)")
  parser.add_argument("--baseline_warmup", type=int, help="baseline: untimed steps before them (default 5)")


def run(args: argparse.Namespace) -> None:
  """Steps/s and achieved GFLOP/s: cgan_tf, the source loop, and the source loop at cgan_tf's work per step.

  Three kinds of fresh process alternate: cgan_tf on the flagfile; the baseline as the source runs it
  (D on half a batch of real images and half a batch of fakes); the baseline with D on a full batch of
  each (`--d_batch` = cgan_tf's batch), which at the reference recipe does the same arithmetic per step
  as cgan_tf's alternating step. The headline is cgan_tf / baseline-at-equal-work in steps/s: the engine
  ratio. Real images/s against the source loop is printed too, labelled as what it counts.
  """
  common.start_measurement(args, dict(repeats=5, steps=60, warmup=10, baseline_steps=30, baseline_warmup=5),
                           dict(repeats=2, steps=8, warmup=3, baseline_steps=4, baseline_warmup=2))
  flagfile = common.flagfile_path(args.flagfile)
  names = ("cgan_tf", "baseline", "baseline_equal")
  runs = {name: [] for name in names}
  equal_batch = args.equal_work_batch
  for _ in range(args.repeats):
    runs["cgan_tf"].append(run_child(training.cgan_steps, training.cgan_spec(flagfile, args.steps, args.warmup,
                                                                             count_flops=True)))
    runs["baseline"].append(run_child(training.baseline_steps, dict(
        steps=args.baseline_steps, warmup=args.baseline_warmup, count_flops=True)))
    # At cgan_tf's batch (known after its first run) unless asked otherwise: same images per D update.
    equal_batch = equal_batch or runs["cgan_tf"][0]["batch_size"]
    runs["baseline_equal"].append(run_child(training.baseline_steps, dict(
        steps=args.baseline_steps, warmup=args.baseline_warmup, batch_size=equal_batch, d_batch=equal_batch,
        count_flops=True)))
  first = {name: runs[name][0] for name in names}
  settings = first["cgan_tf"]["settings"]
  differences = {name: value for name, value in settings.items() if value != training.SOURCE_RECIPE[name]}
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
      f"{training.describe_baseline_step(source['d_batch'], source['batch_size'])}.",
      f"**baseline at equal work** (the same with `--d_batch={equal_batch}` and batch {equal_batch}), one "
      f"step: {training.describe_baseline_step(equal_batch, first['baseline_equal']['batch_size'])}.",
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
