"""The input pipeline: images/s of cgan_tf's tf.data pipeline alone against the images/s training consumes."""

import argparse
import os
import time

from tools.benchmarks import common
from tools.benchmarks import training
from tools.benchmarks.common import fmt, markdown_table, median, print_header, run_child

HELP = "the tf.data pipeline alone vs what training consumes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """Adds this measurement's options to its subcommand parser."""
  common.add_arguments(parser)
  parser.add_argument("--batches", type=int, help="timed batches (default 200)")
  parser.add_argument("--warmup", type=int, help="untimed batches first (default 20)")
  parser.add_argument("--steps", type=int, help="training steps, warm-up included (default 40)")
  parser.add_argument("--train_warmup", type=int, help="untimed training steps (default 10)")
  parser.add_argument("--repeats", type=int, help="fresh processes of each (default 3)")


def run(args: argparse.Namespace) -> None:
  """Images/s of the tf.data training pipeline alone against the images/s training consumes."""
  common.start_measurement(args, dict(batches=200, warmup=20, steps=40, train_warmup=10, repeats=3),
                           dict(batches=20, warmup=5, steps=6, train_warmup=2, repeats=1))
  flagfile = common.flagfile_path(args.flagfile)
  pipelines, trainings = [], []
  for _ in range(args.repeats):
    pipelines.append(run_child(iterate_pipeline, dict(flagfile=flagfile, batches=args.batches,
                                                      warmup=args.warmup)))
    trainings.append(run_child(training.cgan_steps, training.cgan_spec(flagfile, args.steps, args.train_warmup)))
  supplied = median([r["images_per_second"] for r in pipelines])
  consumed = median([r["images_per_second"] for r in trainings])
  print_header("Input pipeline", [
      f"`cgan_tf.data.pipeline.train_dataset` for `{os.path.relpath(flagfile)}` (batch {pipelines[0]['batch_size']}), "
      f"iterated alone from Python: {args.warmup} batches of warm-up, then {args.batches} timed. Training: "
      f"the same preset's steps {args.train_warmup}..{args.steps}. Median of {args.repeats} fresh processes "
      f"each, alternating."])
  print(markdown_table(["pipeline alone, images/s", "training consumes, images/s", "pipeline / training"],
                       [[fmt(supplied, 0), fmt(consumed, 0), f"**{supplied / consumed:.1f}x**"]]))


def iterate_pipeline(spec: dict) -> dict:
  """The child: iterates cgan_tf's tf.data training pipeline alone: spec['warmup'] batches, then
  spec['batches'] timed."""
  from cgan_tf import train
  from cgan_tf.data import pipeline as pipeline_lib

  config, data = train.resolve_training_config(training.make_config(spec))
  dataset = pipeline_lib.train_dataset(data, config.batch_size, config.seed, d_steps=config.d_steps,
                                       output=training.network_output(config))
  iterator = iter(dataset)
  for _ in range(spec["warmup"]):
    next(iterator)
  images = 0
  started = time.perf_counter()
  for _ in range(spec["batches"]):
    batch_images, _ = next(iterator)
    images += int(batch_images.shape[0])
  seconds = time.perf_counter() - started
  return dict(images_per_second=images / seconds, batches=spec["batches"], images=images,
              batch_size=config.batch_size, **common.peak_memory())
