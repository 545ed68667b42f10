"""TensorFlow Datasets: any TFDS image classification set, downloaded once if it is not prepared."""

import os

import numpy as np

from cgan_tf.config import Config, ConfigError
from cgan_tf.data.types import DataError, ImageData, Source
from cgan_tf.data.idx import KNOWN_IDX_SETS, how_to_get


def _tfds_builder(config: Config):
  import tensorflow_datasets as tfds  # Slow to import; only when TFDS is used.

  try:
    return tfds.builder(config.dataset, data_dir=config.tfds_data_dir)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise ConfigError(f"--dataset: {config.dataset!r} is not a TFDS data set; see "
                      f"https://www.tensorflow.org/datasets/catalog for names") from e


def load_tfds(config: Config, split: str = "train") -> ImageData:
  """Loads a TFDS image classification set fully into memory, downloading it if it is not prepared."""
  builder = _tfds_builder(config)
  features = builder.info.features
  if "image" not in features or "label" not in features:
    raise ConfigError(f"--dataset: {config.dataset!r} is not an image classification set "
                      f"(needs 'image' and 'label' features, has {', '.join(features)})")
  if not builder.is_prepared():
    try:
      builder.download_and_prepare()
    except Exception as e:  # Network errors come in many types; all mean the same to the user.
      raise DataError(f"--dataset: TFDS has no prepared copy of {config.dataset!r} and could not "
                      f"download it ({type(e).__name__}: {e}). {how_to_get(config.dataset)}") from e
  arrays = builder.as_dataset(split=split, batch_size=-1, as_supervised=True)
  images, labels = (np.asarray(a) for a in tfds_as_numpy(arrays))
  return ImageData(images.astype(np.uint8), labels.astype(np.int32),
                   tuple(features["label"].names), f"TFDS {config.dataset} in {builder.data_dir}")


def tfds_as_numpy(dataset):
  import tensorflow_datasets as tfds

  return tfds.as_numpy(dataset)


def use_tfds(config: Config) -> bool:
  """Whether --data_source=auto reads an image set from TFDS: a prepared TFDS copy, else local IDX files,
  else TFDS (a download).

  Local IDX files are the data set's own: --data_dir if given, else its system copy (Fashion-MNIST's
  Debian package). A set without one (MNIST) never falls back to another set's directory.
  """
  if config.dataset not in KNOWN_IDX_SETS:
    return True
  local_dir = config.data_dir or KNOWN_IDX_SETS[config.dataset].local_dir
  if local_dir and os.path.isdir(local_dir):
    return _tfds_builder(config).is_prepared()
  return True


SOURCE = Source("tfds", kind="image", load=load_tfds)
