"""--mode=inspect_data: what the model will see, before hours of training.

Loads the configured data set exactly as training would (decoded, resized, converted), then reports the
images per class in each split, the image shape, the pixel statistics per channel and, for image
folders, the sizes before resizing and the files skipped. Writes a grid of real examples (one row per
class) and the report as JSON.
"""

import os

from absl import logging
import numpy as np
import tensorflow as tf

from cgan_tf import data as data_lib
from cgan_tf import files
from cgan_tf import samples
from cgan_tf.config import Config

EXAMPLES_FILE = "real_examples.png"
REPORT_FILE = "data_report.json"
# A class this many times rarer than the most common one gets a warning: the generator sees it rarely.
IMBALANCE_RATIO = 10


def channel_statistics(images: np.ndarray, chunk: int = 4096):
  """Per-channel mean and standard deviation of uint8 images [N, H, W, C], in [0, 255].

  Accumulates in float64 over chunks, so a large set never needs a float copy of itself.
  """
  channels = images.shape[-1]
  total, total_sq, count = np.zeros(channels), np.zeros(channels), 0
  for start in range(0, len(images), chunk):
    part = images[start:start + chunk].reshape(-1, channels).astype(np.float64)
    total += part.sum(axis=0)
    total_sq += np.square(part).sum(axis=0)
    count += len(part)
  mean = total / max(count, 1)
  std = np.sqrt(np.maximum(total_sq / max(count, 1) - np.square(mean), 0.0))
  return mean, std


def example_grid(data: data_lib.ImageData, per_class: int, seed: int) -> np.ndarray:
  """uint8 [H', W', C]: row c holds `per_class` seeded random images of class c (white where fewer)."""
  rng = np.random.default_rng(seed & 0xFFFFFFFF)
  blank = np.full(data.images.shape[1:], 255, np.uint8)
  cells = []
  for label in range(len(data.class_names)):
    members = np.flatnonzero(data.labels == label)
    chosen = np.sort(rng.choice(members, min(per_class, len(members)), replace=False))
    cells.extend(data.images[i] for i in chosen)
    cells.extend([blank] * (per_class - len(chosen)))
  return samples.tile(np.stack(cells), len(data.class_names), per_class)


def _load_test(config: Config):
  """The test split, or None where the data set has none (e.g. --holdout_fraction=0)."""
  try:
    return data_lib.load(config, "test")
  except data_lib.DataError as e:
    logging.warning("No test split: %s", e)
    return None


def format_report(report: dict) -> str:
  """The report as an aligned text table for the terminal."""
  width = max(len(name) for name in report["class_names"])
  lines = [f"Data set: {report['origin']}",
           f"Image shape: {report['image_shape']} ({report['num_classes']} classes)",
           f"{'class':<{width}}  {'index':>5}  {'train':>7}  {'test':>7}"]
  for index, name in enumerate(report["class_names"]):
    lines.append(f"{name:<{width}}  {index:>5}  {report['train_counts'][index]:>7}  "
                 f"{report['test_counts'][index]:>7}")
  lines.append(f"{'total':<{width}}  {'':>5}  {sum(report['train_counts']):>7}  "
               f"{sum(report['test_counts']):>7}")
  lines.append("Pixel mean per channel (0-255): " + ", ".join(f"{v:.1f}" for v in report["channel_mean"]))
  lines.append("Pixel std per channel (0-255):  " + ", ".join(f"{v:.1f}" for v in report["channel_std"]))
  lines.append(f"Pixel range: {report['pixel_min']} to {report['pixel_max']}")
  if "original_sizes" in report:
    lines.append("Sizes before resizing: " + ", ".join(f"{size} x{count}"
                                                        for size, count in report["original_sizes"]))
  for path, reason in report.get("skipped", []):
    lines.append(f"Skipped {path}: {reason}")
  lines.extend(f"Warning: {warning}" for warning in report["warnings"])
  lines.append(f"Real examples (one row per class): {report['examples_path']}")
  return "\n".join(lines)


def inspect(config: Config) -> dict:
  """Reports on the configured data set and writes a grid of real examples per class.

  Args:
    config: a validated configuration; the files go to --output_dir, or --run_dir if that is empty.

  Returns:
    The report: origin, class_names, num_classes, image_shape, train_counts, test_counts (per class),
    channel_mean, channel_std, pixel_min, pixel_max, warnings, examples_path, report_path, and for
    --data_source=folder/npz original_sizes ([('HxW', count)], most common first) and skipped files.

  Raises:
    data.DataError, config.ConfigError: as training would, for data it could not train on.
  """
  train = data_lib.load(config, "train")
  test = _load_test(config)
  num_classes = len(train.class_names)
  train_counts = np.bincount(train.labels, minlength=num_classes)
  test_counts = (np.bincount(test.labels, minlength=num_classes) if test is not None
                 else np.zeros(num_classes, np.int64))
  mean, std = channel_statistics(train.images)
  warnings = [f"class {train.class_names[i]!r} has no training images"
              for i in np.flatnonzero(train_counts == 0)]
  present = train_counts[train_counts > 0]
  if len(present) and present.max() > IMBALANCE_RATIO * present.min():
    warnings.append(f"classes are imbalanced: {int(present.min())} to {int(present.max())} training "
                    f"images per class")
  output_dir = config.output_dir or config.run_dir
  tf.io.gfile.makedirs(output_dir)
  examples_path = os.path.join(output_dir, EXAMPLES_FILE)
  samples.write_png(example_grid(train, config.samples_per_class, config.seed), examples_path)
  report = dict(origin=train.origin, class_names=list(train.class_names), num_classes=num_classes,
                image_shape=list(train.image_shape), train_counts=train_counts.tolist(),
                test_counts=test_counts.tolist(), channel_mean=mean.tolist(), channel_std=std.tolist(),
                pixel_min=int(train.images.min()), pixel_max=int(train.images.max()), warnings=warnings,
                examples_path=examples_path, report_path=os.path.join(output_dir, REPORT_FILE))
  source = data_lib.SOURCES[data_lib.source_name(config)]
  if source.inspect:  # What only some sources know (folder, npz: the sizes before resizing, files skipped).
    report.update(source.inspect(config))
  files.write_json_atomically(report["report_path"], report, indent=2)
  text = format_report(report)
  print(text)
  logging.info("Data report written to %s", report["report_path"])
  return report
