"""Steps/s of cgan_tf under precision, XLA, image-layer and replica variants (the default subcommand)."""

import argparse
import os
import sys

from tools.benchmarks import common
from tools.benchmarks import training
from tools.benchmarks.common import fmt, markdown_table, median, print_header, run_child

HELP = "float32 / mixed precision / XLA / 1 vs 2 replicas"

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """Adds this measurement's options to its subcommand parser."""
  common.add_arguments(parser, flagfiles=())
  parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated: " + ", ".join(VARIANTS))
  parser.add_argument("--flagfile", help="a cgan_tf preset to run the variants of (default: none, the reference "
                                         "cdcgan from Config defaults)")
  parser.add_argument("--batch_size", type=int, default=0,
                      help="global batch (default 0: 128 without --flagfile, the preset's with it)")
  parser.add_argument("--steps", type=int, help="steps per run, warm-up included (default 60)")
  parser.add_argument("--warmup", type=int, help="untimed first steps (default 10)")
  parser.add_argument("--steps_per_execution", type=int, default=1)
  parser.add_argument("--repeats", type=int, help="runs of each variant, alternating (default 3)")


def run(args: argparse.Namespace) -> None:
  """Steps/s of cgan_tf's Fashion-MNIST cdcgan under precision, XLA and replica variants.

  Without --flagfile the runs are Config defaults (the reference cdcgan) plus each variant's fields; with
  it, the preset plus each variant's fields as flags (--batch_size only when given).
  """
  common.start_measurement(args, dict(steps=60, warmup=10, repeats=3), dict(steps=6, warmup=2, repeats=1))
  names = args.variants.split(",")
  unknown = sorted(set(names) - set(VARIANTS))
  if unknown:
    sys.exit(f"--variants: unknown {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
  flagfile = common.flagfile_path(args.flagfile) if args.flagfile else None
  results = {name: [] for name in names}
  for _ in range(args.repeats):
    for name in names:
      if flagfile:
        flags = [f"--{key}={value}" for key, value in VARIANTS[name].items()]
        flags += [f"--steps_per_execution={args.steps_per_execution}"]
        flags += [f"--batch_size={args.batch_size}"] if args.batch_size else []
        spec = training.cgan_spec(flagfile, args.steps, args.warmup, flags)
      else:
        fields = dict(batch_size=args.batch_size or 128, steps_per_execution=args.steps_per_execution,
                      **VARIANTS[name])
        spec = dict(fields=fields, steps=args.steps, warmup=args.warmup)
      results[name].append(run_child(training.cgan_steps, spec))
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
