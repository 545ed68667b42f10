"""MNIST-format IDX files: Fashion-MNIST's Debian package, or any --data_dir of the four files.

IDX files carry no name, so the sets cgan_tf knows (KNOWN_IDX_SETS) are recognised by their pixel
statistics, and files holding another set than --dataset are refused.
"""

import dataclasses
import gzip
import os
import struct
from typing import Optional, Tuple

import numpy as np

from cgan_tf.config import Config
from cgan_tf.data.types import DataError, ImageData, Source

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
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
        "To get MNIST: let TFDS fetch it once (--data_source=tfds, needs internet access), or prepare "
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


def load(config: Config, split: str = "train") -> ImageData:
  """Loads a split ('train' or 'test') of --dataset from --data_dir, or from the set's system copy.

  Raises:
    DataError: if the files are missing or malformed, or hold another set than --dataset.
  """
  known = KNOWN_IDX_SETS.get(config.dataset)
  return load_idx(idx_dir(config), split, known.class_names if known else None, config.dataset)


SOURCE = Source("idx", kind="image", load=load, datasets=tuple(KNOWN_IDX_SETS))
