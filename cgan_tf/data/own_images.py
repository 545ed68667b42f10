"""Your own images: a folder with one subdirectory per class, or an .npz file of images and labels.

Both sources decode, resize and convert every image once, in a parallel deterministic tf.data map, and
hold the result in memory as `ImageData`: that array is the cache after decoding and resizing, and
the training pipeline indexes it, which is what keeps resumption exact. A seeded, per-class permutation
holds out `--holdout_fraction` of the images as the 'test' split, so evaluation works on any labelled set.
"""

import collections
import dataclasses
import errno
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple

from absl import logging
import numpy as np
import tensorflow as tf

from cgan_tf.config import Config
from cgan_tf.data.types import DataError, ImageData, Source
from cgan_tf.registry import Registry

SPLITS = ("train", "test", "all")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
# Files that image tools and file managers leave next to images; never data, never worth a warning.
IGNORED_NAMES = ("thumbs.db", "desktop.ini")
DECODE_BATCH = 256
# --resize_mode, see `resize_image`.
RESIZE_MODES = Registry("resize mode", {
    "crop": "scale to cover, cut the centre",
    "pad": "scale to fit, black borders",
    "stretch": "change the aspect ratio",
})
# --bad_images, see `_report_bad`.
BAD_IMAGE_POLICIES = Registry("bad-image policy", {
    "error": "stop, naming them",
    "skip": "leave each out with a warning naming it",
})
MAX_LISTED_FILES = 10
# The most classes a data set may have. Far above the class-conditional sets in use (ImageNet-1k's 1000),
# while a typo'd or corrupt label (1e9) is refused before one name, embedding row or grid row per class
# is made for it.
MAX_CLASSES = 10000


@dataclasses.dataclass(frozen=True)
class DecodedSet:
  """Every image of a source after decoding, resizing and channel conversion, before the split.

  Attributes:
    images: uint8 [N, H, W, C].
    labels: int32 [N].
    class_names: one name per class.
    origin: where it was read from, for logs.
    paths: the file of each image (empty for an .npz).
    original_sizes: int32 [N, 2], (height, width) of each image before resizing.
    skipped: (path, reason) of each file left out under --bad_images=skip.
  """

  images: np.ndarray
  labels: np.ndarray
  class_names: Tuple[str, ...]
  origin: str
  paths: Tuple[str, ...] = ()
  original_sizes: Optional[np.ndarray] = None
  skipped: Tuple[Tuple[str, str], ...] = ()


def load(config: Config, split: str = "train") -> ImageData:
  """Loads a split of the --data_source=folder or npz set named by --data_dir.

  Args:
    config: the run configuration (data_source, data_dir, image_size, channels, resize_mode,
      holdout_fraction, allow_single_class, bad_images, seed).
    split: 'train', 'test' (the held-out fraction) or 'all'.

  Returns:
    The split's images and labels in memory; class_names covers every class of the whole set.

  Raises:
    DataError: naming the file or directory and the flag, for missing, malformed or unusable data.
  """
  if split not in SPLITS:
    raise DataError(f"unknown split {split!r}; the {config.data_source} source has {', '.join(SPLITS)}")
  decoded = decode(config)
  if split == "all":
    return ImageData(decoded.images, decoded.labels, decoded.class_names, decoded.origin)
  train_indices, test_indices = holdout_split(decoded.labels, len(decoded.class_names),
                                              config.holdout_fraction, config.seed)
  indices = train_indices if split == "train" else test_indices
  if not len(indices):
    raise DataError(f"--holdout_fraction={config.holdout_fraction} leaves no {split} images in "
                    f"{decoded.origin}; use a fraction in (0, 1) to hold out a test split")
  origin = (f"{decoded.origin}, {split} split ({len(indices)} of {len(decoded.labels)} images, "
            f"--holdout_fraction={config.holdout_fraction}, --seed={config.seed})")
  return ImageData(decoded.images[indices], decoded.labels[indices], decoded.class_names, origin)


def decode(config: Config) -> DecodedSet:
  """The whole folder or npz set, decoded and resized; the folder's is cached for the process."""
  if config.data_source == "folder":
    return _decode_folder_cached(config)
  if config.data_source == "npz":
    return read_npz(config)
  raise ValueError(f"own_images reads --data_source=folder or npz, not {config.data_source!r}")


def inspection_fields(config: Config) -> dict:
  """What only these sources know, for --mode=inspect_data: the sizes before resizing and the files skipped."""
  decoded = decode(config)  # Cached for folders: no second decode.
  return {"original_sizes": size_summary(decoded.original_sizes),
          "skipped": [list(item) for item in decoded.skipped]}


def holdout_split(labels: np.ndarray, num_classes: int, fraction: float,
                  seed: int) -> Tuple[np.ndarray, np.ndarray]:
  """Splits indices into train and test, holding out `fraction` of each class by a seeded permutation.

  Each class with at least two images gives at least one test image (so every class is evaluated) and
  keeps at least one for training. The split depends only on the labels, the fraction and the seed.

  Returns:
    (train indices, test indices), each sorted ascending.
  """
  test = []
  for label in range(num_classes):
    members = np.flatnonzero(labels == label)
    if fraction <= 0 or len(members) < 2:
      continue
    # Seeded per class, so adding images to one class leaves the other classes' splits unchanged.
    order = np.random.default_rng([seed & 0xFFFFFFFF, label]).permutation(members)
    count = min(len(members) - 1, max(1, int(round(fraction * len(members)))))
    test.append(order[:count])
  test = np.sort(np.concatenate(test)) if test else np.zeros([0], np.int64)
  train = np.setdiff1d(np.arange(len(labels)), test)
  return train, test


# --- Decoding, resizing and channel conversion ---------------------------------------------------


def resize_image(image: tf.Tensor, size: Tuple[int, int], mode: str) -> tf.Tensor:
  """Resizes one uint8 [h, w, c] image to `size`; an image already that size is returned unchanged.

  Args:
    image: uint8 [h, w, c].
    size: (height, width) to produce.
    mode: 'crop' (scale to cover, cut the centre), 'pad' (scale to fit, black borders) or 'stretch'
      (scale each axis, changing the aspect ratio).

  Returns:
    uint8 [height, width, c].
  """
  target_h, target_w = size
  height, width = tf.shape(image)[0], tf.shape(image)[1]

  def resized():
    pixels = tf.cast(image, tf.float32)
    if mode == "stretch":
      pixels = tf.image.resize(pixels, size, antialias=True)
    else:
      scale_h = target_h / tf.cast(height, tf.float32)
      scale_w = target_w / tf.cast(width, tf.float32)
      scale = tf.maximum(scale_h, scale_w) if mode == "crop" else tf.minimum(scale_h, scale_w)
      scaled = [tf.maximum(1, tf.cast(tf.round(tf.cast(d, tf.float32) * scale), tf.int32))
                for d in (height, width)]
      pixels = tf.image.resize(pixels, scaled, antialias=True)
      pixels = tf.image.resize_with_crop_or_pad(pixels, target_h, target_w)
    return tf.cast(tf.clip_by_value(tf.round(pixels), 0, 255), tf.uint8)

  same_size = tf.logical_and(tf.equal(height, target_h), tf.equal(width, target_w))
  # Skipping the resize keeps images of the right size bit-exact.
  image = tf.cond(same_size, lambda: image, resized)
  return tf.ensure_shape(image, [target_h, target_w, image.shape[-1]])


def convert_channels(image: tf.Tensor, channels: int) -> tf.Tensor:
  """uint8 [..., c] with c in (1, 3, 4) -> [..., channels] with channels in (1, 3); alpha is dropped."""
  have = image.shape[-1]
  if have == 4:
    image, have = image[..., :3], 3
  if have == channels:
    return image
  if channels == 3:
    return tf.repeat(image, 3, axis=-1)
  gray = tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))
  return tf.cast(tf.clip_by_value(tf.round(gray), 0, 255), tf.uint8)


def _all_gray(images: np.ndarray) -> bool:
  """Whether every RGB pixel has R == G == B (then one channel loses nothing)."""
  for start in range(0, len(images), 4096):
    chunk = images[start:start + 4096]
    if not (np.array_equal(chunk[..., 0], chunk[..., 1]) and np.array_equal(chunk[..., 0], chunk[..., 2])):
      return False
  return True


def _materialise(dataset: tf.data.Dataset) -> List[np.ndarray]:
  """Runs a dataset of tuples to the end and concatenates each component into one array."""
  parts = None
  for batch in dataset.batch(DECODE_BATCH).prefetch(tf.data.AUTOTUNE).as_numpy_iterator():
    if parts is None:
      parts = [[] for _ in batch]
    for part, value in zip(parts, batch):
      part.append(value)
  return [np.concatenate(part) for part in parts] if parts else []


def _report_bad(bad: Sequence[Tuple[str, str]], policy: str, what: str) -> None:
  """Raises DataError for bad files under --bad_images=error; logs each one under skip."""
  if not bad:
    return
  if policy == "error":
    listed = "; ".join(f"{path}: {reason}" for path, reason in bad[:MAX_LISTED_FILES])
    more = f"; and {len(bad) - MAX_LISTED_FILES} more" if len(bad) > MAX_LISTED_FILES else ""
    raise DataError(f"{len(bad)} {what} cannot be used: {listed}{more}. Fix or remove them, or pass "
                    f"--bad_images=skip to leave them out with a warning")
  for path, reason in bad:
    logging.warning("Skipping %s: %s (--bad_images=skip)", path, reason)


def _check_classes(class_names: Sequence[str], where: str, allow_single_class: bool) -> None:
  if len(class_names) == 1 and not allow_single_class:
    raise DataError(f"{where} has a single class ({class_names[0]!r}); a conditional GAN needs two or more. "
                    f"Add one subdirectory of images per class, or pass --allow_single_class to train on "
                    f"all images as class 0")


# --- Image folders -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FolderListing:
  """The image files of a class-per-subdirectory folder, in a fixed (sorted) order."""

  paths: Tuple[str, ...]
  labels: np.ndarray
  class_names: Tuple[str, ...]
  bad: Tuple[Tuple[str, str], ...]


def _is_ignored(name: str) -> bool:
  return name.startswith(".") or name.lower() in IGNORED_NAMES


def _is_image(name: str) -> bool:
  return name.lower().endswith(IMAGE_EXTENSIONS)


def _link_problem(path: str) -> Optional[str]:
  """Why the symbolic link `path` cannot be read (broken, or a loop), or None (not a link, or a good one)."""
  if not os.path.islink(path):
    return None
  try:
    os.stat(path)
  except OSError as e:
    if e.errno == errno.ELOOP:
      return "a symbolic link loop (following it leads back to itself)"
    return f"a broken symbolic link (to {os.readlink(path)}, which does not exist)"
  return None


class _Reached:
  """Each real directory and image file of a folder, and the path it was first reached by.

  Symbolic links are followed, but never into a directory or to a file already reached, and never to a
  directory that holds the data folder itself: each would put images in the data set twice, under a
  second class (`kittens -> cats`, `all -> .`) or twice in one, or never end (a link to a parent).
  """

  def __init__(self, root: str):
    self.root = os.path.realpath(root)
    self.dirs = {self.root: root}
    self.files = {}

  def directory(self, path: str) -> Optional[str]:
    """Records directory `path`; returns why it must not be read, or None to read it."""
    real = os.path.realpath(path)
    if os.path.commonpath([real, self.root]) == real:
      return (f"a symbolic link to {real}, which holds the whole data folder: its images would be in the data "
              f"set twice")
    if real in self.dirs:
      return (f"the same directory as {self.dirs[real]} (through a symbolic link), which is read already: "
              f"its images would be in the data set twice")
    self.dirs[real] = path
    return None

  def file(self, path: str) -> Optional[str]:
    """Records image file `path`; returns why it must not be read, or None to read it."""
    real = os.path.realpath(path)
    if real in self.files:
      return (f"the same file as {self.files[real]} (through a symbolic link): one image would be in the data "
              f"set twice")
    self.files[real] = path
    return None


def _class_files(class_dir: str, reached: _Reached) -> Tuple[List[str], List[Tuple[str, str]]]:
  """Image files under `class_dir` (nested folders included) and the files there that cannot be used."""
  images, bad = [], []

  def unlistable(error: OSError) -> None:
    bad.append((error.filename, f"cannot be listed ({error.strerror})"))

  for directory, subdirs, files in os.walk(class_dir, onerror=unlistable, followlinks=True):
    kept = []
    for name in sorted(d for d in subdirs if not _is_ignored(d)):  # Sorted walk: a fixed file order.
      path = os.path.join(directory, name)
      problem = reached.directory(path)
      if problem:
        bad.append((path, problem))
      else:
        kept.append(name)
    subdirs[:] = kept
    for name in sorted(files):
      path = os.path.join(directory, name)
      if _is_ignored(name):
        continue
      problem = _link_problem(path)
      if problem is None and _is_image(name):
        problem = reached.file(path)
        if problem is None:
          images.append(path)
          continue
      bad.append((path, problem or f"not an image file (expected {', '.join(IMAGE_EXTENSIONS)})"))
  return images, bad


def list_folder(root: str, allow_single_class: bool = False) -> FolderListing:
  """Lists a folder of images: one subdirectory per class (sorted names), or images directly in it.

  Args:
    root: the --data_dir folder.
    allow_single_class: accept one class (one subdirectory, or images directly in `root`).

  Returns:
    The listing; `bad` names what cannot be used: non-image files in class folders, images outside them,
    broken or looping symbolic links, and directories or files reached a second time through a symbolic
    link (never read twice: a class folder that is another one's alias is left out).

  Raises:
    DataError: if `root` is missing, holds no images, has an empty class or more than MAX_CLASSES
      classes, or a single class without `allow_single_class`.
  """
  if not os.path.isdir(root):
    raise DataError(f"--data_dir: {root} is not a directory (--data_source=folder reads a folder with one "
                    f"subdirectory of images per class)")
  entries = sorted(e for e in os.listdir(root) if not _is_ignored(e))
  bad = []
  links = {e: _link_problem(os.path.join(root, e)) for e in entries}
  # A broken link at the top may be a class folder that is gone: worth telling, unlike a README.
  bad.extend((os.path.join(root, e), problem) for e, problem in links.items() if problem)
  entries = [e for e in entries if not links[e]]
  candidates = [e for e in entries if os.path.isdir(os.path.join(root, e))]
  loose = [e for e in entries if not os.path.isdir(os.path.join(root, e))]
  if len(candidates) > MAX_CLASSES:
    raise DataError(f"--data_dir: {root} has {len(candidates)} subdirectories, each a class, and a data set may "
                    f"have at most {MAX_CLASSES} classes; point --data_dir at the folder whose subdirectories "
                    f"are the classes")
  reached = _Reached(root)
  paths, labels = [], []
  if candidates:
    class_dirs = []
    for name in candidates:
      path = os.path.join(root, name)
      problem = reached.directory(path)
      if problem:
        bad.append((path, problem))
        continue
      images, unusable = _class_files(path, reached)
      bad.extend(unusable)
      if not images:
        raise DataError(f"--data_dir: class folder {path} holds no images "
                        f"({', '.join(IMAGE_EXTENSIONS)}); add images or remove the folder")
      paths.extend(images)
      labels.extend([len(class_dirs)] * len(images))
      class_dirs.append(name)
    class_names = tuple(class_dirs)
    # Top-level READMEs and licences are normal; a top-level image has no class, which is worth telling.
    bad.extend((os.path.join(root, e), "an image outside the class subdirectories (it has no class)")
               for e in loose if _is_image(e))
  else:
    class_names = (os.path.basename(os.path.normpath(root)) or "images",)
    for name in loose:
      path = os.path.join(root, name)
      problem = reached.file(path) if _is_image(name) else None
      if _is_image(name) and problem is None:
        paths.append(path)
      else:
        bad.append((path, problem or f"not an image file (expected {', '.join(IMAGE_EXTENSIONS)})"))
    labels = [0] * len(paths)
  if not paths:
    raise DataError(f"--data_dir: {root} holds no images ({', '.join(IMAGE_EXTENSIONS)}); "
                    f"--data_source=folder expects {root}/<class name>/<image files>")
  _check_classes(class_names, f"--data_dir: {root}", allow_single_class)
  return FolderListing(tuple(paths), np.asarray(labels, np.int32), class_names, tuple(bad))


def _decode_file(path: tf.Tensor) -> tf.Tensor:
  # Three channels for every file (gray is replicated, alpha dropped), so files of mixed kinds batch.
  return tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)


def _decode_error(path: str) -> Optional[str]:
  """Why one file does not decode, or None if it does (asked only about files the map dropped)."""
  try:
    _decode_file(tf.constant(path))
  except (tf.errors.OpError, ValueError) as e:
    message = getattr(e, "message", str(e)).strip().splitlines()[0]
    # Keep TensorFlow's reason, drop its op and device decorations.
    message = re.sub(r"\{\{[^}]*\}\}\s*|\s*\[Op:[^\]]*\].*$", "", message)
    return message or type(e).__name__
  return None


def _first_size(paths: Sequence[str]) -> Tuple[int, int]:
  """(height, width) of the first file that decodes, for --image_size=0."""
  for path in paths:
    try:
      shape = _decode_file(tf.constant(path)).shape
    except (tf.errors.OpError, ValueError):
      continue  # Reported with the other bad files by the decoding pass.
    return int(shape[0]), int(shape[1])
  raise DataError(f"none of the {len(paths)} images could be decoded (first: {paths[0]})")


def decode_folder(config: Config, listing: Optional[FolderListing] = None) -> DecodedSet:
  """Lists, decodes, resizes and converts every image of the --data_dir folder (not cached).

  Args:
    config: the run configuration.
    listing: the folder's `list_folder`, if made already.

  Raises:
    DataError: see `list_folder`; also for unusable or undecodable files under --bad_images=error.
  """
  root = config.data_dir
  listing = listing or list_folder(root, config.allow_single_class)
  _report_bad(listing.bad, config.bad_images, f"file(s) in {root}")
  if config.image_size:
    size = (config.image_size, config.image_size)
  else:
    size = _first_size(listing.paths)
    logging.info("--image_size=0: using the first image's size %dx%d for every image in %s", *size, root)
  channels = config.channels or 3  # 0 decides after decoding: 1 if every image turns out gray.

  def decode_one(path, index):
    image = _decode_file(path)
    original_size = tf.shape(image)[:2]
    image = convert_channels(resize_image(image, size, config.resize_mode), channels)
    return image, index, original_size

  indices = np.arange(len(listing.paths), dtype=np.int32)
  dataset = tf.data.Dataset.from_tensor_slices((list(listing.paths), indices))
  dataset = dataset.map(decode_one, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  # A file that fails to decode drops out here; its index, missing below, names it.
  dataset = dataset.ignore_errors()
  arrays = _materialise(dataset)
  if arrays:
    images, kept, original_sizes = arrays
  else:
    images = np.zeros((0,) + size + (channels,), np.uint8)
    kept, original_sizes = np.zeros([0], np.int32), np.zeros([0, 2], np.int32)
  dropped = np.setdiff1d(indices, kept)
  decode_bad = [(listing.paths[i], f"cannot be decoded ({_decode_error(listing.paths[i]) or 'unreadable'})")
                for i in dropped]
  _report_bad(decode_bad, config.bad_images, f"image file(s) in {root}")
  if not len(kept):
    raise DataError(f"--data_dir: no image in {root} could be decoded")
  labels = listing.labels[kept]
  missing = [name for label, name in enumerate(listing.class_names) if not np.any(labels == label)]
  if missing:
    raise DataError(f"--data_dir: class(es) {', '.join(missing)} in {root} have no decodable images left "
                    f"after skipping bad files")
  if config.channels == 0 and _all_gray(images):
    images = images[..., :1]
  resized = int(np.sum(np.any(original_sizes != np.asarray(size), axis=1)))
  logging.info("Decoded %d images of %d classes from %s to %s (%d resized, --resize_mode=%s)", len(kept),
               len(listing.class_names), root, images.shape[1:], resized, config.resize_mode)
  return DecodedSet(images, labels, listing.class_names, f"image folder {root}",
                    tuple(listing.paths[i] for i in kept), original_sizes,
                    tuple(listing.bad) + tuple(decode_bad))


# The last folder decoded in this process: training, evaluation and inspection of one run all read the
# same folder, and decoding is the expensive part. Keyed by every setting that changes the result and by
# each file's size and modification time, so an edited folder is decoded again.
_FOLDER_CACHE: Dict[tuple, DecodedSet] = {}


def _folder_key(config: Config, listing: FolderListing) -> tuple:
  stats = []
  for path in listing.paths:
    try:
      stat = os.stat(path)
      stats.append((path, stat.st_size, stat.st_mtime_ns))
    except OSError:  # Gone since the listing: decoding reports it.
      stats.append((path, None, None))
  return (config.data_dir, config.image_size, config.channels, config.resize_mode, config.bad_images,
          config.allow_single_class, listing.class_names, listing.bad, tuple(stats))


def _decode_folder_cached(config: Config) -> DecodedSet:
  listing = list_folder(config.data_dir, config.allow_single_class)  # Raises the errors that name the flag.
  key = _folder_key(config, listing)
  if key not in _FOLDER_CACHE:
    _FOLDER_CACHE.clear()  # One entry: a data set can be large.
    _FOLDER_CACHE[key] = decode_folder(config, listing)
  return _FOLDER_CACHE[key]


# --- NumPy files ---------------------------------------------------------------------------------


def read_npz(config: Config) -> DecodedSet:
  """Reads the --data_dir .npz: `images` uint8 [N, H, W] or [N, H, W, C], `labels` int [N].

  An optional `class_names` array of strings names the classes (and fixes their number); otherwise the
  classes are 0..max(label). Images are resized and converted only if --image_size / --channels ask.

  Raises:
    DataError: naming the file, for a missing or unreadable file, missing keys, wrong dtypes or shapes,
      images and labels of different lengths, or labels out of range.
  """
  path = config.data_dir
  if not os.path.isfile(path):
    raise DataError(f"--data_dir: {path} is not a file (--data_source=npz reads an .npz with 'images' "
                    f"uint8 [N, H, W(, C)] and 'labels' int [N])")
  try:
    with np.load(path, allow_pickle=False) as npz:
      arrays = {key: npz[key] for key in npz.files}
  except (OSError, ValueError) as e:
    raise DataError(f"--data_dir: {path} is not a readable .npz file ({e})") from e
  missing = [key for key in ("images", "labels") if key not in arrays]
  if missing:
    raise DataError(f"{path}: missing array(s) {', '.join(missing)}; it holds {', '.join(arrays) or 'none'}")
  images, labels = arrays["images"], arrays["labels"]
  if images.dtype != np.uint8:
    raise DataError(f"{path}: 'images' must be uint8 in [0, 255], got {images.dtype}")
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
    raise DataError(f"{path}: 'images' must be [N, H, W] or [N, H, W, C] with C 1, 3 or 4, got "
                    f"{arrays['images'].shape}")
  if labels.ndim == 2 and labels.shape[1] == 1:
    labels = labels[:, 0]  # Keras' cifar10 arrays come as [N, 1].
  if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
    raise DataError(f"{path}: 'labels' must be integers of shape [N], got {labels.dtype} {labels.shape}")
  if len(images) != len(labels):
    raise DataError(f"{path}: holds {len(images)} images but {len(labels)} labels; they must pair up")
  if not len(labels):
    raise DataError(f"{path}: holds no images")
  if "class_names" in arrays:
    if arrays["class_names"].size > MAX_CLASSES:
      raise DataError(f"{path}: 'class_names' names {arrays['class_names'].size} classes; a data set may have "
                      f"at most {MAX_CLASSES}")
    class_names = tuple(str(name) for name in arrays["class_names"].reshape(-1))
  else:
    class_names = _numbered_classes(labels, path)
  out_of_range = np.flatnonzero((labels < 0) | (labels >= len(class_names)))
  if len(out_of_range):
    first = int(out_of_range[0])
    raise DataError(f"{path}: label {int(labels[first])} at index {first} is out of range [0, "
                    f"{len(class_names)}) ({len(out_of_range)} such label(s))")
  labels = labels.astype(np.int32)
  _check_classes(class_names, f"--data_dir: {path}", config.allow_single_class)
  empty = [name for label, name in enumerate(class_names) if not np.any(labels == label)]
  if empty:
    logging.warning("%s: class(es) %s have no images", path, ", ".join(empty))
  original_sizes = np.tile(np.asarray(images.shape[1:3], np.int32), [len(images), 1])
  channels = config.channels or (1 if images.shape[-1] == 1 else 3)
  size = (config.image_size, config.image_size) if config.image_size else tuple(images.shape[1:3])
  if size != tuple(images.shape[1:3]) or channels != images.shape[-1]:
    dataset = tf.data.Dataset.from_tensor_slices(images).map(
        lambda image: (convert_channels(resize_image(image, size, config.resize_mode), channels),),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    images = _materialise(dataset)[0]
  return DecodedSet(images, labels, class_names, f"NumPy file {path}", (), original_sizes)


def _numbered_classes(labels: np.ndarray, path: str) -> Tuple[str, ...]:
  """The classes '0'..'K-1' of labels without class names, which must be exactly 0..K-1, K <= MAX_CLASSES.

  A label far above the others (a typo, a corrupt file) or gaps between the values (labels 0, 100, ...,
  900) would otherwise make classes nobody meant, or one name per value up to the largest.

  Raises:
    DataError: naming the file, the values and the way out.
  """
  negative = np.flatnonzero(labels < 0)
  if len(negative):
    first = int(negative[0])
    raise DataError(f"{path}: label {int(labels[first])} at index {first} is out of range: labels are class "
                    f"indices 0..K-1 ({len(negative)} negative label(s))")
  top = int(labels.max())
  if top >= MAX_CLASSES:
    first = int(np.argmax(labels))
    raise DataError(f"{path}: label {top} at index {first} would make {top + 1} classes, and a data set may have at "
                    f"most {MAX_CLASSES}; labels must be the class indices 0..K-1")
  values = np.unique(labels)
  if len(values) != top + 1:
    missing = np.setdiff1d(np.arange(top + 1), values)
    shown = ", ".join(str(int(v)) for v in missing[:MAX_LISTED_FILES])
    more = ", ..." if len(missing) > MAX_LISTED_FILES else ""
    raise DataError(
        f"{path}: labels must be the class indices 0..K-1, but its {len(values)} distinct label values run from "
        f"{int(values[0])} to {top}, so {len(missing)} of the classes 0..{top} would have no image ({shown}{more}); "
        f"renumber the labels 0..{len(values) - 1}, or add a 'class_names' array naming all {top + 1} classes")
  return tuple(str(label) for label in range(top + 1))


def size_summary(sizes: np.ndarray, limit: int = 5) -> List[Tuple[str, int]]:
  """The most common original sizes as ('HxW', count), most common first."""
  counts = collections.Counter(f"{h}x{w}" for h, w in np.asarray(sizes).tolist())
  return counts.most_common(limit)


# Both sources share the loader and the split; `decode` tells them apart by --data_source.
SOURCES = tuple(Source(name, kind="image", load=load, own_files=True, inspect=inspection_fields)
                for name in ("folder", "npz"))
