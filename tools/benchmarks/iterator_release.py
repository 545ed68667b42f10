"""Deleting an idle training stream's iterator: seconds per deletion, autotuned and as training builds it."""

import argparse
import gc
import multiprocessing
import time

import numpy as np

from tools.benchmarks import common
from tools.benchmarks.common import markdown_table, print_header, run_child

HELP = "seconds to delete an idle training-stream iterator, autotuned and as training builds it"
# The streams compared, each in a fresh child: the training stream with tf.data's autotuning on (its
# default) for the stream and for the per-device dataset tf.distribute builds behind it, and the stream as
# training builds it and makes its iterator (autotuning off on both; cgan_tf/data/pipeline.py says why).
STREAMS = ("autotuned (tf.data's default)", "as training builds it")


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """Adds this measurement's options to its subcommand parser."""
  common.add_arguments(parser, flagfiles=())
  parser.add_argument("--hold", type=float, help="seconds each iterator stays idle before it is deleted (default 12)")
  parser.add_argument("--trials", type=int, help="iterators built and deleted per stream (default 6)")
  parser.add_argument("--busy", type=int, help="busy-looping processes beside the children (default 0)")


def run(args: argparse.Namespace) -> None:
  """Seconds to delete an idle iterator of cgan_tf's training stream, autotuned and as training builds it.

  Each trial builds the training stream over a synthetic 256-image set, distributed over one device as
  training distributes it, takes three batches, leaves the iterator idle for --hold seconds (as a
  finished training leaves it until the garbage collector runs), then deletes it and times that. Each
  stream of STREAMS runs in a fresh child process, beside --busy busy-looping processes.
  """
  common.start_measurement(args, dict(hold=12.0, trials=6, busy=0), dict(hold=0.0, trials=1, busy=0))
  if args.hold < 0 or args.trials < 1 or args.busy < 0:
    raise SystemExit("--hold and --busy must be at least 0, --trials at least 1")
  budget = len(STREAMS) * args.trials * (args.hold + 60) + 60
  spinners = [multiprocessing.Process(target=_spin, args=(budget,), daemon=True) for _ in range(args.busy)]
  for spinner in spinners:
    spinner.start()
  rows = []
  try:
    for stream in STREAMS:
      seconds = run_child(deletion_seconds, dict(stream=stream, hold=args.hold, trials=args.trials))["seconds"]
      rows.append([stream, ", ".join(f"{s:.2f}" for s in seconds)])
  finally:
    for spinner in spinners:
      spinner.terminate()
  print_header("Deleting an idle training-stream iterator", [
      f"{args.trials} trials per row, each a fresh iterator idle {args.hold:g} s before `del` and "
      f"`gc.collect()`, beside {args.busy} busy-looping process(es); one child process per row."])
  print(markdown_table(["stream", "deletion seconds, per trial"], rows))


def _spin(seconds: float) -> None:
  end = time.monotonic() + seconds
  while time.monotonic() < end:
    pass


def deletion_seconds(spec: dict) -> dict:
  """The child: times spec['trials'] deletions of an iterator of the stream spec['stream'] names (one of
  STREAMS), idle spec['hold'] seconds."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from cgan_tf.data import pipeline  # pylint: disable=g-import-not-at-top
  from cgan_tf.data.types import ImageData  # pylint: disable=g-import-not-at-top

  rng = np.random.default_rng(0)
  data = ImageData(rng.integers(0, 256, (256, 28, 28, 1), dtype=np.uint8), (np.arange(256) % 10).astype(np.int32),
                   tuple(str(i) for i in range(10)), "synthetic")
  strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
  autotuned = tf.data.Options()
  autotuned.autotune.enabled = True

  def make_iterator(seed):
    if spec["stream"] == STREAMS[0]:
      return iter(strategy.distribute_datasets_from_function(
          lambda context: pipeline.train_dataset(data, 16, seed, 0, context).with_options(autotuned)))
    with pipeline.untuned_device_datasets():  # As training makes its iterator.
      return iter(pipeline.distributed_dataset(strategy, data, 16, seed, 0))

  seconds = []
  for trial in range(spec["trials"]):
    iterator = make_iterator(trial)
    for _ in range(3):
      next(iterator)
    time.sleep(spec["hold"])
    started = time.monotonic()
    del iterator
    gc.collect()
    seconds.append(time.monotonic() - started)
  return dict(seconds=seconds)
