"""How long deleting an idle training stream's iterator takes, under TensorFlow's thread-pool settings.

  python tools/iterator_release.py                                   # TensorFlow's default pools
  TF_NUM_INTRAOP_THREADS=1 python tools/iterator_release.py          # one intra-op thread
  python tools/iterator_release.py --hold=25 --trials=3 --busy=2     # the defaults, spelled out
  python tools/iterator_release.py --no_autotune                     # tf.data's autotuning off on the stream

Each trial builds cgan_tf's training stream (`cgan_tf.data.pipeline.train_dataset`) distributed over one
device as training distributes it, from a synthetic 256-image set, takes three batches, leaves the iterator idle for --hold seconds (as a
finished training leaves it until the garbage collector runs), then deletes it and times the deletion.
--busy starts that many busy-looping processes first, so the machine is loaded as a test suite loads it.
Prints one line per setting: the thread settings read from the environment and each trial's seconds.
"""

import argparse
import gc
import multiprocessing
import os
import time

import numpy as np


def _spin(seconds: float) -> None:
  end = time.monotonic() + seconds
  while time.monotonic() < end:
    pass


def deletion_seconds(hold: float, trials: int, autotune: bool = True) -> list:
  """Seconds each trial's `del iterator` (and the collection after it) took; `autotune=False` turns
  tf.data's autotuning off on each replica's dataset."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from cgan_tf.data import pipeline  # pylint: disable=g-import-not-at-top
  from cgan_tf.data.types import ImageData  # pylint: disable=g-import-not-at-top

  rng = np.random.default_rng(0)
  data = ImageData(rng.integers(0, 256, (256, 28, 28, 1), dtype=np.uint8), (np.arange(256) % 10).astype(np.int32),
                   tuple(str(i) for i in range(10)), "synthetic")
  strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
  options = tf.data.Options()
  options.autotune.enabled = autotune

  def stream(seed):
    return lambda context: pipeline.train_dataset(data, 16, seed, 0, context).with_options(options)

  seconds = []
  for trial in range(trials):
    iterator = iter(strategy.distribute_datasets_from_function(stream(trial)))
    for _ in range(3):
      next(iterator)
    time.sleep(hold)
    started = time.monotonic()
    del iterator
    gc.collect()
    seconds.append(round(time.monotonic() - started, 2))
  return seconds


def main(argv=None) -> list:
  """Runs the trials as the command line asks; returns their deletion seconds."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--hold", type=float, default=25.0, help="seconds the iterator stays idle (default 25)")
  parser.add_argument("--trials", type=int, default=3, help="iterators built and deleted (default 3)")
  parser.add_argument("--busy", type=int, default=2, help="busy-looping processes beside it (default 2)")
  parser.add_argument("--no_autotune", action="store_true", help="tf.data's autotuning off on the stream")
  args = parser.parse_args(argv)
  if args.hold < 0 or args.trials < 1 or args.busy < 0:
    parser.error("--hold and --busy must be at least 0, --trials at least 1")
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  budget = args.trials * (args.hold + 60) + 60
  spinners = [multiprocessing.Process(target=_spin, args=(budget,), daemon=True) for _ in range(args.busy)]
  for spinner in spinners:
    spinner.start()
  try:
    seconds = deletion_seconds(args.hold, args.trials, autotune=not args.no_autotune)
  finally:
    for spinner in spinners:
      spinner.terminate()
  threads = {name: os.environ.get(name, "default") for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")}
  print(f"{threads}, autotune {'off' if args.no_autotune else 'on'}, {os.cpu_count()} CPUs, {args.busy} busy "
        f"processes, idle {args.hold:g} s: "
        f"deletion seconds {seconds}")
  return seconds


if __name__ == "__main__":
  main()
