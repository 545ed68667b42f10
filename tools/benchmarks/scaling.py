"""Scaling of cost: cdcgan's step time against batch size (Fashion-MNIST) and image size (synthetic data)."""

import argparse
import os
import tempfile

from tools.benchmarks import common
from tools.benchmarks import training
from tools.benchmarks.common import fmt, markdown_table, print_header, run_child

HELP = "step time vs batch size and vs image size (cdcgan)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """Adds this measurement's options to its subcommand parser."""
  common.add_arguments(parser)
  parser.add_argument("--batch_sizes", help="comma-separated (default 32,64,128,256,512)")
  parser.add_argument("--image_sizes", help="comma-separated (default 28,32,64)")
  parser.add_argument("--image_batch", type=int, help="batch of the image-size rows (default 128)")
  parser.add_argument("--steps", type=int, help="steps per run, warm-up included (default 25)")
  parser.add_argument("--warmup", type=int, help="untimed first steps (default 5)")
  parser.add_argument("--synthetic_count", type=int, help="images in each synthetic .npz (default 4096)")


def write_synthetic_npz(path: str, size: int, count: int, num_classes: int = 10, seed: int = 0) -> str:
  """A synthetic labelled set for --data_source=npz: noise with a bright class-specific square."""
  import numpy as np

  rng = np.random.default_rng(seed)
  labels = (np.arange(count) % num_classes).astype(np.int32)
  images = rng.integers(0, 40, size=(count, size, size), dtype=np.uint8)
  square = max(2, size // 7)
  for label in range(num_classes):
    row, col = divmod(label, 4)
    images[labels == label, row * square:(row + 1) * square, col * square:(col + 1) * square] = 255
  np.savez(path, images=images, labels=labels)
  return path


def run(args: argparse.Namespace) -> None:
  """Step time of cdcgan against batch size (Fashion-MNIST) and image size (synthetic data)."""
  common.start_measurement(args, dict(batch_sizes="32,64,128,256,512", image_sizes="28,32,64", image_batch=128,
                                      steps=25, warmup=5, synthetic_count=4096),
                           dict(batch_sizes="32,64", image_sizes="28,32", image_batch=32, steps=4, warmup=2,
                                synthetic_count=512))
  flagfile = common.flagfile_path(args.flagfile)
  spec = dict(steps=args.steps, warmup=args.warmup, count_flops=True)
  by_batch = []
  for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
    by_batch.append(run_child(training.cgan_steps, training.cgan_spec(
        flagfile, flags=["--network=cdcgan", f"--batch_size={batch_size}"], **spec)))
  by_size = []
  with tempfile.TemporaryDirectory() as directory:
    for size in [int(s) for s in args.image_sizes.split(",")]:
      path = write_synthetic_npz(os.path.join(directory, f"synthetic_{size}.npz"), size, args.synthetic_count)
      flags = ["--network=cdcgan", "--data_source=npz", f"--data_dir={path}", "--dataset=synthetic",
               "--image_size=0", f"--batch_size={args.image_batch}"]
      by_size.append(run_child(training.cgan_steps, training.cgan_spec(flagfile, flags=flags, **spec)))
  print_header("Scaling of cost", [
      f"cdcgan from `{os.path.relpath(flagfile)}`; each row a fresh process, steps {args.warmup}..{args.steps} "
      f"timed (checkpoints, grids and summaries off). Batch sizes on Fashion-MNIST; image sizes on a synthetic "
      f"{args.synthetic_count}-image .npz (--data_source=npz) at batch {args.image_batch}, where the network "
      f"adds a stride-2 stage per doubling (28: 2 stages from 7x7, 32: 3 from 4x4, 64: 4 from 4x4). "
      f"GFLOP per step by the layer count of the efficiency figure."])

  def row(first, result):
    flops = result["step_flops"]
    return [first, f"{result['step_seconds'] * 1000:.0f}", fmt(result["images_per_second"], 0),
            f"{result['step_seconds'] * 1e6 / result['examples_per_step']:.0f}", f"{flops / 1e9:.2f}",
            f"{flops / result['step_seconds'] / 1e9:.1f}"]

  headers = ["ms/step", "images/s", "µs per image", "GFLOP/step", "GFLOP/s"]
  print(markdown_table(["batch"] + headers, [row(r["batch_size"], r) for r in by_batch]))
  print()
  print(markdown_table(["image size"] + headers,
                       [row("x".join(str(d) for d in r["image_shape"]), r) for r in by_size]))
