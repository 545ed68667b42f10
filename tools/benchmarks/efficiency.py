"""Hardware efficiency: a train step's counted FLOPs over its time, as a fraction of this machine's matmul rate."""

import argparse
import os

from tools.benchmarks import common
from tools.benchmarks import flops as flops_lib
from tools.benchmarks import training
from tools.benchmarks.common import markdown_table, median, print_header, run_child

HELP = "step FLOPs / step time as a fraction of the matmul rate"


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """Adds this measurement's options to its subcommand parser."""
  common.add_arguments(parser)
  parser.add_argument("--steps", type=int, help="steps per run, warm-up included (default 40)")
  parser.add_argument("--warmup", type=int, help="untimed first steps (default 10)")
  parser.add_argument("--repeats", type=int, help="fresh processes of each measurement (default 3)")
  parser.add_argument("--matmul_sizes", help="comma-separated n of the [n, n] matmuls (default 2048,4096)")
  parser.add_argument("--matmul_repeats", type=int, help="matmuls per size per process, best taken (default 5)")
  parser.add_argument("--no_profile", action="store_true", help="skip the TF profiler cross-check")


def run(args: argparse.Namespace) -> None:
  """Step FLOPs over step time, as a fraction of this machine's dense float32 matmul rate."""
  common.start_measurement(args, dict(steps=40, warmup=10, repeats=3, matmul_sizes="2048,4096", matmul_repeats=5),
                           dict(steps=6, warmup=2, repeats=1, matmul_sizes="1024,2048", matmul_repeats=3))
  flagfile = common.flagfile_path(args.flagfile)
  sizes = [int(size) for size in args.matmul_sizes.split(",")]
  steps, matmuls = [], []
  for repeat in range(args.repeats):
    matmuls.append(run_child(matmul, dict(sizes=sizes, repeats=args.matmul_repeats)))
    steps.append(run_child(training.cgan_steps, training.cgan_spec(
        flagfile, args.steps, args.warmup, count_flops=True, profile=not args.no_profile and repeat == 0)))
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


def matmul(spec: dict) -> dict:
  """The child: this machine's float32 dense matmul rate in TF, best of spec['repeats'] per size."""
  rates = flops_lib.matmul_rate(spec["sizes"], spec["repeats"])
  return dict(rates={str(size): rate for size, rate in rates.items()})
