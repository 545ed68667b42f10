"""Input: labelled image sets from TFDS or IDX files, and the tf.data pipeline that feeds training.

The training pipeline is a pure function of (seed, step): epoch e is a stateless permutation of the data
set seeded by (seed, e), cut into global batches, and a pipeline started at step k yields exactly the
batches an uninterrupted run would have seen from step k on. Each global batch is then split by input
pipeline (worker) and replica, so the same global batch is consumed whatever the number of replicas.
"""

import dataclasses
import gzip
import os
import struct
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from cgan_tf import points
from cgan_tf.config import Config, ConfigError

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
# Built-in data sets of points rather than images (cgan_tf/points.py).
POINT_DATASETS = ("circle",)
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049


@dataclasses.dataclass(frozen=True)
class KnownIdxSet:
  """A data set that cgan_tf can read from IDX files and recognise there.

  Attributes:
    class_names: one name per class (IDX files carry none of their own).
    image_shape: the shape of every image.
    mean_pixel: the mean uint8 pixel value of its images (train and test agree to within 1): MNIST's
      digits are mostly black, Fashion-MNIST's garments are not, so this tells the two apart in files.
    local_dir: where a system package installs its IDX files, or "" if none does.
    how_to_get: how to get the data set without guessing, for error messages.
  """

  class_names: Tuple[str, ...]
  image_shape: Tuple[int, int, int]
  mean_pixel: float
  local_dir: str
  how_to_get: str


_IDX_FILE_LIST = ("train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                  "t10k-labels-idx1-ubyte, plain or .gz")
KNOWN_IDX_SETS = {
    "fashion_mnist": KnownIdxSet(
        FASHION_MNIST_CLASSES, (28, 28, 1), 72.9, "/usr/share/datasets/fashion-mnist",
        "To get Fashion-MNIST without internet access, install the Debian package: "
        "`apt-get install dataset-fashion-mnist` (files in /usr/share/datasets/fashion-mnist, which "
        "--data_source=auto and idx read by default); or prepare the TFDS copy on a machine with internet "
        "access (`tfds build fashion_mnist`) and pass --tfds_data_dir."),
    "mnist": KnownIdxSet(
        tuple(str(d) for d in range(10)), (28, 28, 1), 33.4, "",
        "To get MNIST: let TFDS download it once (--data_source=tfds, needs internet access), or prepare "
        "the TFDS copy on a machine with internet access (`tfds build mnist`) and pass --tfds_data_dir, or "
        f"pass --data_source=idx --data_dir=DIR with MNIST's four IDX files in DIR ({_IDX_FILE_LIST})."),
}
# How far a directory's mean pixel may be from the named set's before it is taken for another set.
_MEAN_PIXEL_TOLERANCE = 10.0


def how_to_get(dataset: str) -> str:
  """What to do when `dataset` is missing: the known set's own instructions, else the general ones."""
  if dataset in KNOWN_IDX_SETS:
    return KNOWN_IDX_SETS[dataset].how_to_get
  return (f"Pass --data_source=idx --data_dir=DIR with its IDX files in DIR ({_IDX_FILE_LIST}), or, for a "
          f"TFDS data set, --data_source=tfds with internet access or a prepared copy in --tfds_data_dir. "
          f"Fashion-MNIST comes without internet access from `apt-get install dataset-fashion-mnist`.")


def idx_dir(config: Config) -> str:
  """The IDX directory to read: --data_dir, or the named set's system copy when --data_dir is empty.

  Raises:
    DataError: if --data_dir is empty and the data set has no system copy.
  """
  if config.data_dir:
    return config.data_dir
  known = KNOWN_IDX_SETS.get(config.dataset)
  if known and known.local_dir:
    return known.local_dir
  raise DataError(f"--data_dir: no directory of IDX files is known for --dataset={config.dataset}; "
                  f"give one. {how_to_get(config.dataset)}")


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


# --- IDX files -----------------------------------------------------------------------------------


def _find_idx_file(data_dir: str, stem: str, dataset: str) -> str:
  for name in (stem, stem + ".gz"):
    path = os.path.join(data_dir, name)
    if os.path.exists(path):
      return path
  raise DataError(f"--data_dir: neither {stem} nor {stem}.gz is in {data_dir}. {how_to_get(dataset)}")


def _read_bytes(path: str) -> bytes:
  try:
    if path.endswith(".gz"):
      with gzip.open(path, "rb") as f:
        return f.read()
    with open(path, "rb") as f:
      return f.read()
  except (OSError, EOFError) as e:
    raise DataError(f"{path}: cannot be read ({e})") from e


def read_idx(path: str, expected_magic: int) -> np.ndarray:
  """Reads one IDX file (the MNIST format) into a uint8 array.

  Args:
    path: the file, plain or gzip-compressed.
    expected_magic: 2051 for images, 2049 for labels.

  Returns:
    The array, with the dimensions the header declares.

  Raises:
    DataError: on a wrong magic number, a truncated or over-long file, or an unreadable file.
  """
  raw = _read_bytes(path)
  if len(raw) < 4:
    raise DataError(f"{path}: truncated IDX file ({len(raw)} bytes, no header)")
  magic = struct.unpack(">I", raw[:4])[0]
  if magic != expected_magic:
    raise DataError(f"{path}: wrong IDX magic number {magic}, expected {expected_magic} "
                    f"({'images' if expected_magic == IDX_IMAGES_MAGIC else 'labels'})")
  ndim = magic & 0xFF
  header_size = 4 + 4 * ndim
  if len(raw) < header_size:
    raise DataError(f"{path}: truncated IDX header")
  dims = struct.unpack(f">{ndim}I", raw[4:header_size])
  expected = int(np.prod(dims))
  payload = len(raw) - header_size
  if payload != expected:
    raise DataError(f"{path}: header declares {dims} = {expected} bytes of data, the file holds {payload} "
                    f"({'truncated' if payload < expected else 'trailing bytes'})")
  return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)


def load_idx(data_dir: str, split: str, class_names: Optional[Tuple[str, ...]] = None,
             dataset: str = "") -> ImageData:
  """Loads a split ('train' or 'test') of an MNIST-format directory of IDX files.

  Args:
    data_dir: the directory of IDX files.
    split: 'train' or 'test'.
    class_names: one name per class; default "0", "1", ...
    dataset: the name the files are read as; a known set (KNOWN_IDX_SETS) is checked against them.

  Raises:
    DataError: if files are missing or malformed, or hold another data set than `dataset`.
  """
  if not os.path.isdir(data_dir):
    raise DataError(f"--data_dir: {data_dir} is not a directory. {how_to_get(dataset)}")
  image_stem, label_stem = IDX_FILES[split]
  image_path = _find_idx_file(data_dir, image_stem, dataset)
  label_path = _find_idx_file(data_dir, label_stem, dataset)
  images = read_idx(image_path, IDX_IMAGES_MAGIC)
  labels = read_idx(label_path, IDX_LABELS_MAGIC).astype(np.int32)
  if images.ndim != 3:
    raise DataError(f"{image_path}: expected images of shape [N, H, W], got {images.shape}")
  if labels.ndim != 1:
    raise DataError(f"{label_path}: expected labels of shape [N], got {labels.shape}")
  if len(images) != len(labels):
    raise DataError(f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} labels")
  num_classes = int(labels.max()) + 1 if len(labels) else 0
  if class_names is None:
    class_names = tuple(str(i) for i in range(num_classes))
  if len(labels) and labels.max() >= len(class_names):
    raise DataError(f"{label_path}: label {int(labels.max())} is out of range for "
                    f"{len(class_names)} classes")
  data = ImageData(images[..., None], labels, tuple(class_names), f"IDX files in {data_dir}")
  if dataset in KNOWN_IDX_SETS:
    check_idx_identity(dataset, data, data_dir)
  return data


def check_idx_identity(dataset: str, data: ImageData, data_dir: str) -> None:
  """Refuses IDX files that hold another data set than the one they are read as.

  IDX files carry no name, and MNIST and Fashion-MNIST have the same shapes and class count, so nothing
  else would notice a directory of garments trained on as digits. Their pixel statistics differ widely.

  Raises:
    DataError: naming the directory, what it seems to hold, and how to get `dataset`.
  """
  known = KNOWN_IDX_SETS[dataset]
  if data.image_shape != known.image_shape:
    raise DataError(f"--data_dir: {data_dir} holds images of shape {data.image_shape}, but {dataset} has "
                    f"{known.image_shape}; these files are not {dataset}. {known.how_to_get}")
  mean = float(data.images.mean()) if data.images.size else known.mean_pixel
  if abs(mean - known.mean_pixel) <= _MEAN_PIXEL_TOLERANCE:
    return
  nearest = min(KNOWN_IDX_SETS, key=lambda name: abs(KNOWN_IDX_SETS[name].mean_pixel - mean))
  looks_like = f"looks like {nearest}" if nearest != dataset else "does not look like it"
  raise DataError(f"--data_dir: {data_dir} is read as --dataset={dataset}, but its images' mean pixel "
                  f"value is {mean:.1f} ({dataset}: about {known.mean_pixel:.0f}), so it {looks_like}. Point "
                  f"--data_dir at {dataset}'s files, or name the data set the files hold. {known.how_to_get}")


# --- TFDS ----------------------------------------------------------------------------------------


def _tfds_builder(config: Config):
  import tensorflow_datasets as tfds  # Slow to import; only when TFDS is used.

  try:
    return tfds.builder(config.dataset, data_dir=config.tfds_data_dir)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise ConfigError(f"--dataset: {config.dataset!r} is not a TFDS data set; see "
                      f"https://www.tensorflow.org/datasets/catalog for names") from e


def load_tfds(config: Config, split: str) -> ImageData:
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


def _use_tfds(config: Config) -> bool:
  """Chooses the source for --data_source=auto: a prepared TFDS copy, else local IDX files, else TFDS.

  Local IDX files are the data set's own: --data_dir if given, else its system copy (Fashion-MNIST's
  Debian package). A set without one (MNIST) never falls back to another set's directory.
  """
  if config.data_source != "auto":
    return config.data_source == "tfds"
  if config.dataset not in KNOWN_IDX_SETS:
    return True
  local_dir = config.data_dir or KNOWN_IDX_SETS[config.dataset].local_dir
  if local_dir and os.path.isdir(local_dir):
    return _tfds_builder(config).is_prepared()
  return True


def load(config: Config, split: str = "train") -> ImageData:
  """Loads a split of the configured data set.

  Args:
    config: the run configuration (dataset, data_source, data_dir, tfds_data_dir).
    split: 'train' or 'test'.

  Returns:
    The images and labels in memory.

  Raises:
    DataError: if the data is missing (with how to get it) or malformed.
    ConfigError: if the data set name is unknown.
  """
  if config.dataset in POINT_DATASETS and config.data_source == "auto":
    return points.load_circle(split)
  if config.data_source in ("folder", "npz"):
    from cgan_tf import image_sources  # Imported here: it imports this module.
    return image_sources.load(config, split)
  if _use_tfds(config):
    return load_tfds(config, split)
  known = KNOWN_IDX_SETS.get(config.dataset)
  return load_idx(idx_dir(config), split, known.class_names if known else None, config.dataset)


def resolve(config: Config, data) -> Config:
  """Fills in the example shape, class count and class names from the data set (no classes when the run
  is --unconditional or the data are points)."""
  if config.image_shape and tuple(config.image_shape) != data.image_shape:
    raise ConfigError(f"--image_shape: {tuple(config.image_shape)} does not match the data set's "
                      f"{data.image_shape}")
  num_classes = 0 if config.unconditional else len(data.class_names)
  return config.replace(image_shape=data.image_shape, num_classes=num_classes, class_names=data.class_names)


# --- The training pipeline -----------------------------------------------------------------------


def to_generator_range(images: tf.Tensor, output: str = "tanh") -> tf.Tensor:
  """uint8 [0, 255] -> float32 in the generator's output range: [-1, 1] for tanh, [0, 1] for sigmoid."""
  if output == "sigmoid":
    return tf.cast(images, tf.float32) / 255.0
  if output == "tanh":
    return tf.cast(images, tf.float32) / 127.5 - 1.0
  raise ValueError(f"images cannot be scaled to a {output!r} generator output")


def steps_per_epoch(num_examples: int, global_batch_size: int) -> int:
  steps = num_examples // global_batch_size
  if steps == 0:
    raise ConfigError(f"--batch_size: {global_batch_size} is larger than the data set "
                      f"({num_examples} examples)")
  return steps


def train_dataset(data, global_batch_size: int, seed: int, start_step: int = 0,
                  input_context: Optional[tf.distribute.InputContext] = None, d_steps: int = 1,
                  output: str = "tanh") -> tf.data.Dataset:
  """The infinite training stream of one input pipeline, starting at global step `start_step`.

  Args:
    data: an `ImageData` (uint8 images, scaled to `output`'s range here) or a `points.PointData`.
    global_batch_size: examples per discriminator update over all replicas.
    seed: the run's seed; epoch e's order is a stateless permutation seeded by (seed, e).
    start_step: the first global step to produce batches for (for exact resumption).
    input_context: given by `distribute_datasets_from_function`; None for one replica.
    d_steps: discriminator updates per step; a step consumes d_steps global batches.
    output: the generator's output activation ("tanh" or "sigmoid"), whose range images are scaled to.

  Returns:
    A dataset of (samples float32 [d_steps * b, ...], labels int32 [d_steps * b]) per-replica elements,
    b = global_batch_size / replicas: for each of the step's d_steps global batches, this replica's slice,
    in order. The same global batches are consumed whatever the number of replicas and workers.
  """
  num_pipelines = input_context.num_input_pipelines if input_context else 1
  pipeline_id = input_context.input_pipeline_id if input_context else 0
  num_replicas = input_context.num_replicas_in_sync if input_context else 1
  if global_batch_size % num_replicas:
    raise ConfigError(f"--batch_size: the global batch {global_batch_size} is not divisible by the "
                      f"{num_replicas} replicas")
  per_replica = global_batch_size // num_replicas
  local_replicas = num_replicas // num_pipelines
  examples_per_step = global_batch_size * d_steps
  steps = steps_per_epoch(len(data.labels), examples_per_step)
  start_epoch, start_offset = divmod(start_step, steps)

  is_points = isinstance(data, points.PointData)
  examples = tf.constant(data.points if is_points else data.images)
  labels = tf.constant(data.labels, dtype=tf.int32)
  indices = tf.range(len(data.labels), dtype=tf.int32)

  def epoch_batches(epoch):
    order = tf.random.experimental.stateless_shuffle(
        indices, seed=tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)]))
    # [step, d update, pipeline, replica of the pipeline, example]: each replica takes its slice of every
    # one of the step's global batches.
    order = tf.reshape(order[:steps * examples_per_step], [steps, d_steps, num_pipelines, local_replicas, per_replica])
    order = tf.transpose(order[:, :, pipeline_id], [0, 2, 1, 3])
    first = tf.where(tf.equal(epoch, start_epoch), start_offset, 0)
    order = tf.reshape(order[first:], [-1, d_steps * per_replica])
    return tf.data.Dataset.from_tensor_slices(order)

  def gather(batch_indices):
    batch = tf.gather(examples, batch_indices)
    batch = tf.cast(batch, tf.float32) if is_points else to_generator_range(batch, output)
    return batch, tf.gather(labels, batch_indices)

  dataset = tf.data.Dataset.counter(start_epoch).flat_map(epoch_batches)
  dataset = dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return dataset.prefetch(tf.data.AUTOTUNE)


def distributed_dataset(strategy: tf.distribute.Strategy, data, global_batch_size: int, seed: int,
                        start_step: int, d_steps: int = 1, output: str = "tanh"):
  """The training stream distributed over `strategy`'s replicas, batched per replica."""
  return strategy.distribute_datasets_from_function(
      lambda context: train_dataset(data, global_batch_size, seed, start_step, context, d_steps, output))
