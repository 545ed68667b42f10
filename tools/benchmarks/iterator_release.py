"""Deleting an idle training stream's iterator: seconds per deletion, by thread-pool setting and autotuning."""

import argparse
import gc
import multiprocessing
import os
import time

import numpy as np

from tools.benchmarks import common
from tools.benchmarks.common import markdown_table, print_header, run_child

HELP = "seconds to delete an idle training-stream iterator, by thread pools and tf.data autotuning"
# TensorFlow's thread-pool settings compared: the environment each child starts TensorFlow with.
THREAD_SETTINGS = {"default": {}, "one thread each": {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """Adds this measurement's options to its subcommand parser."""
  common.add_arguments(parser, flagfiles=())
  parser.add_argument("--hold", type=float, help="seconds each iterator stays idle before it is deleted (default 30)")
  parser.add_argument("--trials", type=int, help="iterators built and deleted per setting (default 4)")
  parser.add_argument("--busy", type=int, help="busy-looping processes beside the children (default 1)")


def run(args: argparse.Namespace) -> None:
  """Seconds to delete an idle iterator of cgan_tf's training stream, by thread pools and autotuning.

  Each trial builds `cgan_tf.data.pipeline.train_dataset` over a synthetic 256-image set, distributed over
  one device as training distributes it, takes three batches, leaves the iterator idle for --hold seconds
  (as a finished training leaves it until the garbage collector runs), then deletes it and times that.
  Every combination of TensorFlow's thread pools (default, one thread each) and tf.data's autotuning (on,
  off) runs in a fresh child process, while --busy busy-looping processes load the machine.
  """
  common.start_measurement(args, dict(hold=30.0, trials=4, busy=1), dict(hold=0.0, trials=1, busy=0))
  if args.hold < 0 or args.trials < 1 or args.busy < 0:
    raise SystemExit("--hold and --busy must be at least 0, --trials at least 1")
  budget = 4 * args.trials * (args.hold + 60) + 60
  spinners = [multiprocessing.Process(target=_spin, args=(budget,), daemon=True) for _ in range(args.busy)]
  for spinner in spinners:
    spinner.start()
  rows = []
  try:
    for threads in THREAD_SETTINGS:
      for autotune in (True, False):
        seconds = run_child(deletion_seconds, dict(threads=threads, autotune=autotune, hold=args.hold,
                                                   trials=args.trials))["seconds"]
        rows.append([threads, "on" if autotune else "off", ", ".join(f"{s:.2f}" for s in seconds)])
  finally:
    for spinner in spinners:
      spinner.terminate()
  print_header("Deleting an idle training-stream iterator", [
      f"{args.trials} trials per row, each a fresh iterator idle {args.hold:g} s before `del` and "
      f"`gc.collect()`, beside {args.busy} busy-looping process(es); one child process per row."])
  print(markdown_table(["TensorFlow's thread pools", "tf.data autotuning", "deletion seconds, per trial"], rows))


def _spin(seconds: float) -> None:
  end = time.monotonic() + seconds
  while time.monotonic() < end:
    pass


def deletion_seconds(spec: dict) -> dict:
  """The child: sets spec['threads']' environment, then times spec['trials'] deletions of an iterator idle
  spec['hold'] seconds, with tf.data's autotuning as spec['autotune'] says."""
  os.environ.update(THREAD_SETTINGS[spec["threads"]])  # Before TensorFlow starts: it reads them once.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from cgan_tf.data import pipeline  # pylint: disable=g-import-not-at-top
  from cgan_tf.data.types import ImageData  # pylint: disable=g-import-not-at-top

  rng = np.random.default_rng(0)
  data = ImageData(rng.integers(0, 256, (256, 28, 28, 1), dtype=np.uint8), (np.arange(256) % 10).astype(np.int32),
                   tuple(str(i) for i in range(10)), "synthetic")
  strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
  options = tf.data.Options()
  options.autotune.enabled = spec["autotune"]

  def stream(seed):
    return lambda context: pipeline.train_dataset(data, 16, seed, 0, context).with_options(options)

  seconds = []
  for trial in range(spec["trials"]):
    iterator = iter(strategy.distribute_datasets_from_function(stream(trial)))
    for _ in range(3):
      next(iterator)
    time.sleep(spec["hold"])
    started = time.monotonic()
    del iterator
    gc.collect()
    seconds.append(time.monotonic() - started)
  return dict(seconds=seconds)
