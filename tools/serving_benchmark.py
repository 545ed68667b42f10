"""Latency of the exported SavedModel's signatures next to the Keras generator's `predict`, per batch size.

  python tools/serving_benchmark.py                       # Fashion-MNIST-sized generator, untrained
  python tools/serving_benchmark.py --run_dir=/tmp/fmnist # the run's newest checkpoint, exported

Weights do not change the work, so without --run_dir the generator is built with Fashion-MNIST's shapes
(28x28x1, 10 classes, latent 100) and random weights. Every measurement calls the model in this process
after warm-up calls, and reports the median and 95th percentile in milliseconds. TF Serving adds its
request parsing and network time on top of the SavedModel figures.
"""

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if __package__ in (None, ""):  # Run as `python tools/<name>.py`: the repository root, for cgan_tf and tools.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top
import keras  # pylint: disable=g-import-not-at-top

from cgan_tf import distribute  # pylint: disable=g-import-not-at-top
from cgan_tf import export
from cgan_tf import networks
from cgan_tf import trained_run
from cgan_tf.config import Config
from tools.benchmarks import common


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--run_dir", default="", help="A trained run; default: an untrained generator.")
  parser.add_argument("--batches", default="1,16,100", help="Comma-separated batch sizes.")
  parser.add_argument("--calls", type=int, default=100, help="Timed calls per batch size and method.")
  parser.add_argument("--warmup", type=int, default=10, help="Untimed calls first.")
  return parser.parse_args(argv)


def fashion_mnist_generator():
  """An untrained generator with the Fashion-MNIST preset's shapes, and its Config."""
  config = Config(run_dir="unused", dataset="fashion_mnist", image_shape=(28, 28, 1), num_classes=10,
                  class_names=tuple(str(k) for k in range(10)))
  distribute.set_precision("float32")
  keras.utils.set_random_seed(0)
  generator, _ = networks.build_networks(config)
  return generator, config


def export_for_benchmark(args, export_dir: str):
  """Writes the SavedModel; returns (its path, the Keras generator, latent_dim)."""
  if args.run_dir:
    path = export.export(Config(mode="export", run_dir=args.run_dir, export_dir=export_dir,
                                model_name="benchmark"))
    config = trained_run.load_run_config(Config(mode="sample", run_dir=args.run_dir))
    generator, _ = trained_run.load_generator(config)
    return path, generator, config.latent_dim
  generator, config = fashion_mnist_generator()
  path = os.path.join(export_dir, "benchmark", "1")
  export.write_saved_model(generator, config, export.build_metadata(config, 0, "none", "untrained"), path)
  return path, generator, config.latent_dim


def time_calls(function, calls: int, warmup: int) -> tuple:
  """(median, p95) in milliseconds of `calls` timed calls after `warmup` untimed ones."""
  for _ in range(warmup):
    function()
  timings = []
  for _ in range(calls):
    start = time.perf_counter()
    function()
    timings.append((time.perf_counter() - start) * 1000.0)
  return float(np.median(timings)), float(np.percentile(timings, 95))


def main(argv=None):
  args = parse_args(argv)
  print(f"Command: `{common.command()}`")
  print(f"Machine: {common.machine()}")
  with tempfile.TemporaryDirectory() as export_dir:
    path, generator, latent_dim = export_for_benchmark(args, export_dir)
    served = tf.saved_model.load(path)
    default = served.signatures[export.SERVING_DEFAULT]
    latent = served.signatures[export.SERVING_LATENT]
    rng = np.random.default_rng(0)
    rows = []
    for batch in [int(b) for b in args.batches.split(",")]:
      labels = tf.constant(rng.integers(0, 10, batch), tf.int32)
      noise = tf.constant(rng.standard_normal((batch, latent_dim)), tf.float32)
      methods = {
          "SavedModel serving_default (uint8 + PNG)": lambda: default(label=labels)["images"].numpy(),
          "SavedModel serving_latent (uint8 + PNG)":
              lambda: latent(label=labels, noise=noise)["images"].numpy(),
          "Keras generator.predict (float)":
              lambda: generator.predict([noise, labels], batch_size=batch, verbose=0),
          # predict builds a data pipeline per call; the direct call shows what that costs.
          "Keras generator(x) direct call (float)":
              lambda: generator([noise, labels], training=False).numpy(),
      }
      for name, function in methods.items():
        median, p95 = time_calls(function, args.calls, args.warmup)
        rows.append((batch, name, median, p95))
        print(f"  batch {batch:4d}  {name:42s} median {median:8.2f} ms  p95 {p95:8.2f} ms", flush=True)
  print()
  print("| batch | method | median ms | p95 ms | median ms / image |")
  print("|---:|---|---:|---:|---:|")
  for batch, name, median, p95 in rows:
    print(f"| {batch} | {name} | {median:.2f} | {p95:.2f} | {median / batch:.3f} |")


if __name__ == "__main__":
  main()
