"""The registry of data sources (--data_source), and the questions the rest of the package asks it.

Each source module (idx.py, tfds.py, own_images.py, points.py) describes itself with a `types.Source`;
this module imports them and registers each, in the order --helpfull lists them. The rest of the package
asks: `load` for the data, `kind_of` for whether a run's data are images or points, `source_names` for
the flag's choices, `builtin_datasets` for the names the package's own sets use.
"""

from typing import Tuple

from cgan_tf.config import Config, ConfigError
from cgan_tf.data import idx
from cgan_tf.data import own_images
from cgan_tf.data import points
from cgan_tf.data import tfds
from cgan_tf.data.types import Data, Source
from cgan_tf.registry import Registry

# --data_source=auto: not a source of its own, a choice among the registered ones (`source_name`).
AUTO = "auto"
SOURCES: Registry[Source] = Registry("data source", {
    source.name: source for source in (tfds.SOURCE, idx.SOURCE, *own_images.SOURCES, points.SOURCE)})
if AUTO in SOURCES:
  raise ValueError(f"a data source may not be named {AUTO!r}: --data_source={AUTO} chooses among them")


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
