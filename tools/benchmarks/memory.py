"""Peak resident memory of a training process at equal settings: cgan_tf beside the source loop."""

import argparse
import os

from tools.benchmarks import common
from tools.benchmarks import training
from tools.benchmarks.common import fmt, markdown_table, median, print_header, run_child

HELP = "peak resident memory at equal settings, cgan_tf beside the source loop"


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """Adds this measurement's options to its subcommand parser."""
  common.add_arguments(parser)
  parser.add_argument("--steps", type=int, help="training steps (default 200)")
  parser.add_argument("--repeats", type=int, help="fresh processes of each, alternating (default 3)")
  parser.add_argument("--keep_bookkeeping", action="store_true",
                      help="also run cgan_tf with the preset's checkpoints, grids and summaries")
  parser.add_argument("--no_baseline", action="store_true", help="skip the source loop")


def run(args: argparse.Namespace) -> None:
  """Peak resident memory at equal settings: cgan_tf on the flagfile beside the source loop at its batch.

  Fresh processes alternate over --repeats: cgan_tf with checkpoints, grids and summaries off (the baseline
  keeps none), the baseline as the source runs it, and the baseline with D on full batches (`--d_batch` =
  the batch, the same arithmetic per step as cgan_tf's step at the reference recipe). With
  --keep_bookkeeping cgan_tf also runs once more per repeat with the preset's own checkpoints and grids.
  """
  common.start_measurement(args, dict(steps=200, repeats=3), dict(steps=10, repeats=1))
  flagfile = common.flagfile_path(args.flagfile)
  warmup = min(5, args.steps - 1)
  names = ["cgan_tf"] + (["cgan_tf_bookkeeping"] if args.keep_bookkeeping else [])
  names += [] if args.no_baseline else ["baseline", "baseline_equal"]
  runs = {name: [] for name in names}
  batch = None
  for _ in range(args.repeats):
    runs["cgan_tf"].append(run_child(training.cgan_steps, training.cgan_spec(flagfile, args.steps, warmup)))
    batch = batch or runs["cgan_tf"][0]["batch_size"]
    if args.keep_bookkeeping:
      runs["cgan_tf_bookkeeping"].append(run_child(training.cgan_steps, training.cgan_spec(
          flagfile, args.steps, warmup, keep_bookkeeping=True)))
    if not args.no_baseline:
      runs["baseline"].append(run_child(training.baseline_steps, dict(
          steps=args.steps - warmup, warmup=warmup, batch_size=batch)))
      runs["baseline_equal"].append(run_child(training.baseline_steps, dict(
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
