"""Built-in sets of points rather than images: the 2-D circle (its report: cgan_tf/points_report.py)."""

import math

import numpy as np

from cgan_tf.config import Config
from cgan_tf.data.types import DataError, PointData, Source

CIRCLE_SIZES = {"train": 10000, "test": 2000}
CIRCLE_RADIUS = 1.0


def load_circle(split: str) -> PointData:
  """Points spread uniformly in angle on the unit circle; a fixed set per split (train 10,000, test 2,000)."""
  generator = np.random.default_rng(0 if split == "train" else 1)
  angles = generator.uniform(0.0, 2.0 * math.pi, CIRCLE_SIZES[split])
  points = CIRCLE_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
  return PointData(points, np.zeros(len(points), np.int32), f"circle ({split}, radius {CIRCLE_RADIUS})")


POINT_SETS = {"circle": load_circle}


def load(config: Config, split: str = "train") -> PointData:
  """Loads a split ('train' or 'test') of the built-in points set named by --dataset.

  Raises:
    DataError: if --dataset names no points set, or the split is unknown.
  """
  if config.dataset not in POINT_SETS:
    raise DataError(f"--dataset: {config.dataset!r} is not a points data set; --data_source=points has "
                    f"{', '.join(POINT_SETS)}")
  if split not in CIRCLE_SIZES:
    raise DataError(f"unknown split {split!r}; points data sets have {', '.join(CIRCLE_SIZES)}")
  return POINT_SETS[config.dataset](split)


SOURCE = Source("points", kind="points", load=load, datasets=tuple(POINT_SETS))
