"""The data types every source returns, the description a source registers with, and the data error.

A leaf of the data wing: the sources (idx.py, tfds.py, own_images.py, points.py) build these, and
`sources.py` registers them.
"""

import dataclasses
from typing import Callable, Optional, Tuple, Union

import numpy as np

from cgan_tf.config import Config

# What a source's sets hold: images, or points (vectors such as the 2-D circle).
KINDS = ("image", "points")


class DataError(ValueError):
  """The data set is missing or malformed; the message names the file or directory."""


@dataclasses.dataclass(frozen=True)
class ImageData:
  """A labelled image set held in memory.

  Attributes:
    images: uint8 array [N, H, W, C].
    labels: int32 array [N], each in [0, len(class_names)).
    class_names: one name per class.
    origin: where it was read from, for logs.
  """

  images: np.ndarray
  labels: np.ndarray
  class_names: Tuple[str, ...]
  origin: str

  @property
  def image_shape(self) -> Tuple[int, int, int]:
    return tuple(int(d) for d in self.images.shape[1:])

  @property
  def examples(self) -> np.ndarray:
    """What the training pipeline feeds: the uint8 images, scaled to the generator's range there."""
    return self.images


@dataclasses.dataclass(frozen=True)
class PointData:
  """A set of points held in memory.

  Attributes:
    points: float32 [N, D].
    labels: int32 [N], all 0 (points are unlabelled).
    origin: where they came from, for logs.
    class_names: empty: points have no classes.
  """

  points: np.ndarray
  labels: np.ndarray
  origin: str
  class_names: Tuple[str, ...] = ()

  @property
  def image_shape(self) -> Tuple[int, ...]:
    """The shape of one example (named like ImageData's, which the configuration records)."""
    return tuple(int(d) for d in self.points.shape[1:])

  @property
  def examples(self) -> np.ndarray:
    """What the training pipeline feeds: the float32 points, as they are."""
    return self.points


Data = Union[ImageData, PointData]


@dataclasses.dataclass(frozen=True)
class Source:
  """A registered data source.

  Attributes:
    name: its --data_source value.
    kind: "image" or "points": what every set it reads holds.
    load: (config, split) -> ImageData or PointData; raises DataError for missing or malformed data.
    datasets: the built-in data sets it provides by name (the user's own files may not take these names).
    own_files: it reads the user's own files from --data_dir, under a --dataset name of their choosing.
    inspect: config -> extra fields for the --mode=inspect_data report, or None for none.
  """

  name: str
  kind: str
  load: Callable[[Config, str], Data]
  datasets: Tuple[str, ...] = ()
  own_files: bool = False
  inspect: Optional[Callable[[Config], dict]] = None

  def __post_init__(self):
    if self.kind not in KINDS:  # A programming error, not the user's.
      raise ValueError(f"source {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
