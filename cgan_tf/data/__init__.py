"""Data in: the data types, and the registry of sources that read them (--data_source).

Each source lives in its own module and registers itself with its name and the kind of data it gives
("image" or "points"); adding one is adding one module. The rest of the package asks this registry:
`load` for the data, `kind_of` for whether a run's data are images or points, `source_names` for the
flag's choices, `builtin_datasets` for the names the package's own sets use.

  idx.py          MNIST-format IDX files (Fashion-MNIST's Debian package, any --data_dir)
  tfds.py         TensorFlow Datasets image classification sets
  own_images.py   your own images: a folder of class subdirectories, or an .npz file
  points.py       built-in sets of points (the 2-D circle)
  pipeline.py     the resumable, replica-split tf.data training pipeline
  inspection.py   --mode=inspect_data
"""

import dataclasses
from typing import Callable, Dict, Optional, Tuple, Union

import numpy as np

from cgan_tf.config import Config, ConfigError

KINDS = ("image", "points")
# --data_source=auto: not a source of its own, a choice among the registered ones (`source_name`).
AUTO = "auto"


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


SOURCES: Dict[str, Source] = {}


def register_source(name: str, kind: str, **options):
  """Decorator that adds a loader (config, split) -> data to the registry under `name`.

  Args:
    name: the --data_source value.
    kind: "image" or "points".
    **options: the other `Source` fields (datasets, own_files, inspect).
  """
  if kind not in KINDS:
    raise ValueError(f"source {name!r}: kind must be one of {', '.join(KINDS)}, got {kind!r}")

  def wrap(load):
    if name in SOURCES or name == AUTO:
      raise ValueError(f"data source {name!r} is registered twice")
    SOURCES[name] = Source(name, kind, load, **options)
    return load

  return wrap


def source_names() -> Tuple[str, ...]:
  """The --data_source choices: auto, then every registered source."""
  return (AUTO,) + tuple(SOURCES)


def builtin_datasets() -> Tuple[str, ...]:
  """The data set names the registered sources provide themselves (fashion_mnist, mnist, circle)."""
  return tuple(name for source in SOURCES.values() for name in source.datasets)


def _auto_choices(config: Config) -> Tuple[str, ...]:
  """The sources --data_source=auto chooses among: a points set's own source, else TFDS and IDX files."""
  if config.data_source != AUTO:
    return (config.data_source,)
  if config.dataset in SOURCES["points"].datasets:
    return ("points",)
  return ("tfds", "idx")


def source_name(config: Config) -> str:
  """The registered source that reads the configured data: --data_source, or what auto chooses.

  Under auto a points set (circle) comes from its own source; an image set from a prepared TFDS copy if
  there is one, else from the set's own local IDX files, else from a TFDS download (`tfds.use_tfds`).
  """
  choices = _auto_choices(config)
  if len(choices) == 1:
    return choices[0]
  return "tfds" if tfds.use_tfds(config) else "idx"


def kind_of(config: Config) -> str:
  """Whether the configured data are "image" or "points", as their source declares; reads no files.

  The one answer to that question: a network declares what it generates (`NetworkSpec.data_kind`), and
  `config.check_architecture` checks the two agree.

  Raises:
    ConfigError: if --data_source names no registered source.
  """
  kinds = set()
  for name in _auto_choices(config):
    if name not in SOURCES:
      raise ConfigError(f"--data_source: {name!r} is not a data source; allowed: {', '.join(source_names())}")
    kinds.add(SOURCES[name].kind)
  if len(kinds) != 1:  # A registration error, not the user's: auto's choices must agree.
    raise ValueError(f"--data_source=auto chooses among sources of kinds {sorted(kinds)}")
  return kinds.pop()


def load(config: Config, split: str = "train") -> Data:
  """Loads a split of the configured data set from its source.

  Args:
    config: the run configuration (dataset, data_source, data_dir, tfds_data_dir, and the folder/npz
      options).
    split: 'train' or 'test' ('all' too for folder and npz).

  Returns:
    The examples and labels in memory: an ImageData, or a PointData for a points set.

  Raises:
    DataError: if the data is missing (with how to get it) or malformed.
    ConfigError: if the data set name is unknown.
  """
  name = source_name(config)
  if name not in SOURCES:
    raise ConfigError(f"--data_source: {name!r} is not a data source; allowed: {', '.join(source_names())}")
  return SOURCES[name].load(config, split)


def resolve(config: Config, data: Data) -> Config:
  """Fills in the example shape, class count and class names from the data set (no classes when the run
  is --unconditional or the data are points)."""
  if config.image_shape and tuple(config.image_shape) != data.image_shape:
    raise ConfigError(f"--image_shape: {tuple(config.image_shape)} does not match the data set's "
                      f"{data.image_shape}")
  num_classes = 0 if config.unconditional else len(data.class_names)
  return config.replace(image_shape=data.image_shape, num_classes=num_classes, class_names=data.class_names)


# The modules register their sources on import, in the order --helpfull lists them.
from cgan_tf.data import tfds  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf.data import idx  # noqa: E402,F401  pylint: disable=wrong-import-position
from cgan_tf.data import own_images  # noqa: E402,F401  pylint: disable=wrong-import-position
from cgan_tf.data import points  # noqa: E402,F401  pylint: disable=wrong-import-position
