"""The exported generator as the demo page uses it: called only through its serving signatures.

Every image comes from the SavedModel's `serving_seeded` or `serving_latent`, and every fact about the
model from its `metadata` signature, so the page shows what TF Serving would serve. The page's inputs
arrive as text; `parse_*` turns them into values or an `InputError` whose message the page shows.

What each view sends (seed s, class k):
  one class       serving_seeded(label=[k] * count, seed=[s, k]): the images of
                  `--mode=sample --label=k --seed=s`; with truncation psi > 0, the package's seeded
                  truncated noise `rng.truncated_latent([count, latent_dim], [s, k], noise, psi)` (drawn
                  here, in TensorFlow, as --mode=sample does) goes through serving_latent instead, because
                  no signature takes a truncation. With psi = 0 that noise is serving_seeded's own.
  every class     row k is the one-class view of class k for the same seed and truncation.
  interpolation   the ends are the first noise vector of seed a and of seed b (the first image of each
                  seed's one-class view); `interpolation.path` joins them (spherical for normal noise,
                  straight for uniform, as tools/serving_client.py does) and serving_latent draws each point.
An unconditional generator has one "class", and its signatures take a count instead of labels.
"""

import json
import math
from typing import List, Tuple

import numpy as np
import tensorflow as tf

from cgan_tf import export
from cgan_tf import interpolation
from cgan_tf import rng
from cgan_tf.config import ConfigError

REQUIRED_SIGNATURES = (export.SERVING_SEEDED, export.SERVING_LATENT, export.METADATA)
INT64_MAX = (1 << 63) - 1
# Stands for the class of an unconditional generator: its seeded noise is drawn on [s, 0], as --mode=sample's.
UNCONDITIONAL = -1


class InputError(ValueError):
  """A value typed on the page cannot be sent to the model; the message says what is allowed."""


def resolve_version_dir(path: str, model_name: str = "") -> str:
  """The SavedModel to show for --export_dir `path` (`export.find_saved_model`)."""
  return export.find_saved_model(path, "export_dir", model_name)


def parse_integer(text, name: str, low: int, high: int, meaning: str = "") -> int:
  """`text` (as typed, or a number) as an integer in [low, high].

  Raises:
    InputError: naming `name` when it is not a whole number or is out of range.
  """
  value = text.strip() if isinstance(text, str) else text
  if isinstance(value, float) and value.is_integer():
    value = int(value)
  if isinstance(value, str):
    try:
      value = int(value)
    except ValueError:
      value = None
  if not isinstance(value, int) or isinstance(value, bool):
    raise InputError(f"{name} must be a whole number, got {text!r}")
  if not low <= value <= high:
    raise InputError(f"{name} must be between {low} and {high}{meaning}, got {value}")
  return value


def parse_truncation(value) -> float:
  """The truncation bound psi: 0 (off) or a positive finite number."""
  try:
    psi = float(value)
  except (TypeError, ValueError):
    raise InputError(f"truncation must be a number (0: off), got {value!r}") from None
  if not (math.isfinite(psi) and psi >= 0):
    raise InputError(f"truncation must be 0 (off) or a positive bound psi, got {value!r}")
  return psi


def _assertion(message: str) -> str:
  """The reason in an InvalidArgumentError from the export's in-graph checks, e.g. "label values must be
  class indices in [0, 10); got 12" from "...assertion failed: [label values ... got] [12]..."."""
  for line in message.splitlines():
    if line.startswith("assertion failed:"):
      reason = line[len("assertion failed:"):].strip()
      if reason.startswith("[") and reason.endswith("]"):
        reason = reason[1:-1].replace("] [", " ")
      return reason
  return message.strip().splitlines()[0] if message.strip() else "InvalidArgument"


class ServedGenerator:
  """One exported version, loaded with tf.saved_model.load and called through its signatures.

  Args:
    version_dir: a directory holding saved_model.pb (`resolve_version_dir`).

  Raises:
    ConfigError: naming --export_dir when the SavedModel cannot be loaded or lacks a signature the page uses.
  """

  def __init__(self, version_dir: str):
    self.version_dir = version_dir
    try:
      self.loaded = tf.saved_model.load(version_dir)
    except (tf.errors.OpError, OSError, ValueError) as e:
      raise ConfigError(f"--export_dir: {version_dir} holds no loadable SavedModel ({e})") from e
    missing = [name for name in REQUIRED_SIGNATURES if name not in self.loaded.signatures]
    if missing:
      raise ConfigError(f"--export_dir: {version_dir} is not a cgan_tf export: it has no "
                        f"{', '.join(missing)} signature (it has {', '.join(self.loaded.signatures) or 'none'})")
    outputs = export.read_metadata(self.loaded)
    self.description = json.loads(outputs["metadata_json"].decode())
    self.latent_dim = int(outputs["latent_dim"])
    self.max_batch = int(outputs["max_batch"])
    self.noise = outputs["noise"].decode()
    self.training_step = int(outputs["training_step"])
    self.num_classes = int(outputs["num_classes"])
    self.class_names = [name.decode() for name in outputs["class_names"]] if self.num_classes else []
    self.image_shape = [int(size) for size in outputs["image_shape"]]
    self.conditional = self.num_classes > 0

  # --- Reading the page's inputs ---------------------------------------------------------------------

  def parse_class(self, value) -> int:
    """A class name or index (as chosen or typed) -> the index; UNCONDITIONAL for a model without labels."""
    if not self.conditional:
      return UNCONDITIONAL
    if isinstance(value, float) and value.is_integer():
      value = int(value)
    text = str(value).strip() if value is not None else ""
    # The page lists classes as "8: Bag"; a typed "8: Bag", "Bag", "bag" or "8" all name class 8.
    number, colon, name = text.partition(":")
    if colon and number.strip().isdigit():
      text = number.strip()
    by_name = {name.lower(): index for index, name in enumerate(self.class_names)}
    if text.lower() in by_name:
      return by_name[text.lower()]
    try:
      index = int(text)
    except ValueError:
      raise InputError(f"class must be one of this model's {self.num_classes} class names or an index in "
                       f"[0, {self.num_classes}), got {value!r}") from None
    if not 0 <= index < self.num_classes:
      raise InputError(f"class {index} is out of range: this model has {self.num_classes} classes, "
                       f"0 to {self.num_classes - 1}")
    return index

  def parse_seed(self, value) -> int:
    return parse_integer(value, "seed", 0, INT64_MAX)

  def parse_count(self, value, name: str = "count", low: int = 1) -> int:
    return parse_integer(value, name, low, self.max_batch, " (the export's max_batch)")

  def class_label(self, label: int) -> str:
    return self.class_names[label] if label >= 0 else "unconditional"

  # --- Calling the signatures --------------------------------------------------------------------------

  def _call(self, name: str, **inputs) -> Tuple[np.ndarray, List[bytes]]:
    try:
      outputs = self.loaded.signatures[name](**inputs)
    except tf.errors.InvalidArgumentError as e:
      raise InputError(f"the model refused the request: {_assertion(e.message)}") from e
    return outputs["images"].numpy(), list(outputs["images_png_bytes"].numpy())

  def _seeded(self, label: int, count: int, seed: int):
    seed_tensor = tf.constant([seed, max(label, 0)], tf.int64)
    if self.conditional:
      return self._call(export.SERVING_SEEDED, label=tf.fill([count], tf.constant(label, tf.int32)),
                        seed=seed_tensor)
    return self._call(export.SERVING_SEEDED, count=tf.constant(count, tf.int32), seed=seed_tensor)

  def latent(self, label: int, noise: np.ndarray):
    """serving_latent: (uint8 images [n, H, W, C], PNG bytes [n]) of `label` for float32 noise [n, Z]."""
    noise = tf.constant(noise, tf.float32)
    if self.conditional:
      labels = tf.fill([int(noise.shape[0])], tf.constant(label, tf.int32))
      return self._call(export.SERVING_LATENT, label=labels, noise=noise)
    return self._call(export.SERVING_LATENT, noise=noise)

  def seeded_noise(self, label: int, count: int, seed: int, truncation: float) -> np.ndarray:
    """float32 [count, Z]: the noise serving_seeded draws for (label, seed), truncated at psi when > 0."""
    return rng.truncated_latent([count, self.latent_dim], tf.constant([seed, max(label, 0)], tf.int64),
                                self.noise, truncation).numpy()

  def class_images(self, label: int, count: int, seed: int, truncation: float = 0.0):
    """`count` images of class `label` for `seed`: (uint8 [count, H, W, C], PNG bytes [count])."""
    if not truncation:
      return self._seeded(label, count, seed)
    return self.latent(label, self.seeded_noise(label, count, seed, truncation))

  def class_grid(self, columns: int, seed: int, truncation: float = 0.0):
    """Every class for one seed: (uint8 [rows, columns, H, W, C], PNG bytes [rows][columns]), row k = class k."""
    rows = [self.class_images(label, columns, seed, truncation)
            for label in (range(self.num_classes) if self.conditional else [UNCONDITIONAL])]
    return np.stack([images for images, _ in rows]), [pngs for _, pngs in rows]

  def interpolation(self, label: int, start_seed: int, end_seed: int, steps: int, truncation: float = 0.0):
    """`steps` images of `label` on the path between the first noise vectors of two seeds.

    Returns:
      (uint8 [steps, H, W, C], PNG bytes [steps]); the first and last are the first image of each seed's
      `class_images`.
    """
    start = self.seeded_noise(label, 1, start_seed, truncation)[0]
    end = self.seeded_noise(label, 1, end_seed, truncation)[0]
    return self.latent(label, interpolation.path(start, end, steps, self.noise))


def tiled_shape(count: int) -> Tuple[int, int]:
  """(rows, columns) of a near-square grid for `count` images, as --mode=sample's <class>_grid.png."""
  columns = int(math.ceil(math.sqrt(count)))
  return int(math.ceil(count / columns)), columns


def png_names(label: int, count: int, prefix: str = "") -> List[str]:
  """Download names, as tools/serving_client.py writes them: class<k>_<i>.png, or sample_<i>.png."""
  stem = prefix or (f"class{label}" if label >= 0 else "sample")
  return [f"{stem}_{index:04d}.png" for index in range(count)]

