"""Where a step's time goes: the TF profiler's op self times over a few traced steps, by category."""

import argparse
import os
import shutil
import tempfile
import time

from tools.benchmarks import common
from tools.benchmarks import op_profile
from tools.benchmarks import training
from tools.benchmarks.common import markdown_table, print_header, run_child

HELP = "TF profiler: op self time per step by category (conv, matmul, casts, ...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """Adds this measurement's options to its subcommand parser."""
  common.add_arguments(parser, common.PRESET_FLAGFILES)
  parser.add_argument("--precision", choices=("float32", "mixed_bfloat16", "mixed_float16"),
                      help="override the preset's precision (default: the preset's)")
  parser.add_argument("--xla", choices=("on", "off"),
                      help="override the preset's XLA setting (default: the preset's)")
  parser.add_argument("--cgan_flag", action="append",
                      help="an extra cgan_tf flag, repeatable, e.g. --cgan_flag=--image_conv=depthwise")
  parser.add_argument("--warmup", type=int, help="untraced first steps (default 15)")
  parser.add_argument("--trace_steps", type=int, help="traced steps (default 5)")
  parser.add_argument("--top", type=int, help="op types listed (default 25)")


def run(args: argparse.Namespace) -> None:
  """Where a step's time goes: the TF profiler's op self times over a few traced steps, by category."""
  common.start_measurement(args, dict(warmup=15, trace_steps=5, top=25), dict(warmup=4, trace_steps=2, top=12))
  flagfile = common.flagfile_path(args.flagfile)
  result = run_child(profile_steps, dict(flagfile=flagfile, flags=args.cgan_flag or [], precision=args.precision,
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


def profile_steps(spec: dict) -> dict:
  """The child: traces train steps of a preset with the TF profiler; returns its op statistics by category.

  spec: flagfile + flags; precision and xla (None: the flagfile's); warmup (untimed, untraced steps, the
  last `timed` of them timed without the profiler); trace_steps (traced); timed.
  """
  import keras
  import tensorflow as tf
  from cgan_tf import train

  config = training.make_config(spec)
  overrides = {name: spec[name] for name in ("precision", "xla") if spec.get(name)}
  config = config.replace(**overrides)
  warmup, traced = spec["warmup"], spec["trace_steps"]
  steps_per_execution = config.steps_per_execution
  if warmup % steps_per_execution or traced % steps_per_execution or not warmup or not traced:
    raise SystemExit("--warmup and --trace_steps must be positive multiples of the preset's "
                     "--steps_per_execution")
  # The last untraced steps, timed without the profiler: whole calls, at least one, after the first.
  timed = min(spec.get("timed", traced), warmup - steps_per_execution)
  timed -= timed % steps_per_execution
  run_dir = tempfile.mkdtemp(prefix="cgan_tf_profile_")
  logdir = tempfile.mkdtemp(prefix="cgan_tf_trace_")
  marks = {}

  class Tracer(keras.callbacks.Callback):
    """Starts the profiler after step `warmup` and stops it after `traced` more; notes the times."""

    def __init__(self):
      super().__init__()
      self.done = 0

    def on_train_batch_end(self, batch, logs=None):
      self.done += steps_per_execution
      if self.done in (warmup - timed if timed > 0 else -1, warmup + traced):
        if self.done == warmup + traced:
          tf.profiler.experimental.stop()
        marks[self.done] = time.perf_counter()
      elif self.done == warmup:
        marks[self.done] = time.perf_counter()
        tf.profiler.experimental.start(logdir)
        marks["traced_from"] = time.perf_counter()

  try:
    config = training.without_bookkeeping(config.replace(run_dir=run_dir, train_steps=warmup + traced),
                                          steps_per_execution)
    train.train(config, extra_callbacks=[Tracer()])
    result = op_profile.read_trace(logdir, traced)
    precision = keras.config.dtype_policy().name
  finally:
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(logdir, ignore_errors=True)
  result.update(
      unprofiled_ms_per_step=(marks[warmup] - marks[warmup - timed]) * 1000.0 / timed if timed > 0 else None,
      timed_steps=timed,
      traced_ms_per_step=(marks[warmup + traced] - marks["traced_from"]) * 1000.0 / traced,
      network=config.network, batch_size=config.batch_size, precision=precision, xla=config.xla,
      step_description=training.describe_step(config))
  return result
