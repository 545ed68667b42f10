"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied alike to D's real and fake inputs.

The same policy transforms real images in D's update and fake images in both updates, and gradients flow
through it into G, so D cannot tell real from fake by the augmentation and G is not taught to produce it.
Policies follow the reference implementation (images in [-1, 1]): color (brightness, saturation,
contrast), translation (by up to 1/8 of the size, zero fill) and cutout (a zeroed square of half the size).

Random parameters are stateless: each function takes its per-example parameters drawn for the whole
global batch from (seed, step) and sliced per replica by the caller, so N replicas augment exactly as one.
"""

import dataclasses
from typing import Callable, Dict, Sequence

import tensorflow as tf

from cgan_tf import rng
from cgan_tf.registry import Registry

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def color(images, brightness, saturation, contrast):
  """Brightness shift in [-0.5, 0.5), saturation x [0, 2), contrast x [0.5, 1.5); parameters in [0, 1)."""
  brightness, saturation, contrast = (tf.reshape(tf.cast(p, images.dtype), [-1, 1, 1, 1])
                                      for p in (brightness, saturation, contrast))
  images = images + (brightness - 0.5)
  mean = tf.reduce_mean(images, axis=3, keepdims=True)
  images = (images - mean) * (saturation * 2.0) + mean
  mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
  return (images - mean) * (contrast + 0.5) + mean


def translation(images, shift_y, shift_x):
  """Shifts each image by (shift_y, shift_x) whole pixels (int [batch]), filling with zeros."""
  shape = tf.shape(images)
  batch, height, width = shape[0], shape[1], shape[2]
  rows = tf.clip_by_value(tf.range(height)[None, :] + shift_y[:, None] + 1, 0, height + 1)  # [b, H]
  columns = tf.clip_by_value(tf.range(width)[None, :] + shift_x[:, None] + 1, 0, width + 1)  # [b, W]
  padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])
  batch_index = tf.broadcast_to(tf.range(batch)[:, None, None], tf.stack([batch, height, width]))
  row_index = tf.broadcast_to(rows[:, :, None], tf.stack([batch, height, width]))
  column_index = tf.broadcast_to(columns[:, None, :], tf.stack([batch, height, width]))
  return tf.gather_nd(padded, tf.stack([batch_index, row_index, column_index], axis=-1))


def cutout(images, centre_y, centre_x, size_y, size_x):
  """Zeroes a size_y x size_x square centred at (centre_y, centre_x) (int [batch]) in each image."""
  shape = tf.shape(images)
  rows = tf.range(shape[1])[None, :, None]
  columns = tf.range(shape[2])[None, None, :]
  inside = tf.logical_and(
      tf.logical_and(rows >= (centre_y - size_y // 2)[:, None, None], rows < (centre_y - size_y // 2 + size_y)[:, None, None]),
      tf.logical_and(columns >= (centre_x - size_x // 2)[:, None, None],
                     columns < (centre_x - size_x // 2 + size_x)[:, None, None]))
  return images * tf.cast(tf.logical_not(inside), images.dtype)[..., None]


def _draw_color(seeds, global_batch: int, height: int, width: int) -> Dict[str, tf.Tensor]:
  del height, width
  return {name: rng.uniform([global_batch], next(seeds)) for name in ("brightness", "saturation", "contrast")}


def _draw_translation(seeds, global_batch: int, height: int, width: int) -> Dict[str, tf.Tensor]:
  shift_y, shift_x = int(height * TRANSLATION_RATIO + 0.5), int(width * TRANSLATION_RATIO + 0.5)
  return {"shift_y": rng.uniform_int([global_batch], next(seeds), 2 * shift_y + 1) - shift_y,
          "shift_x": rng.uniform_int([global_batch], next(seeds), 2 * shift_x + 1) - shift_x}


def _draw_cutout(seeds, global_batch: int, height: int, width: int) -> Dict[str, tf.Tensor]:
  size_y, size_x = int(height * CUTOUT_RATIO + 0.5), int(width * CUTOUT_RATIO + 0.5)
  # The reference draws the offset in [0, size + 1 - cut % 2): the square may reach past the border.
  return {"centre_y": rng.uniform_int([global_batch], next(seeds), height + (1 - size_y % 2)),
          "centre_x": rng.uniform_int([global_batch], next(seeds), width + (1 - size_x % 2)),
          "size": tf.constant([size_y, size_x], tf.int32)}


@dataclasses.dataclass(frozen=True)
class Policy:
  """A DiffAugment policy: how its per-example parameters are drawn, and how they transform images.

  Attributes:
    draw: (seeds, global_batch, height, width) -> {name: [global_batch] parameters}; takes its seeds from
      the shared iterator `seeds`, so the policies' draws follow registration order.
    apply: (images, params) -> images.
  """

  draw: Callable[..., Dict[str, tf.Tensor]]
  apply: Callable[..., tf.Tensor]


# --diffaugment; drawn, and applied, in this order.
POLICIES: Registry[Policy] = Registry("DiffAugment policy", {
    "color": Policy(_draw_color, lambda images, p: color(images, p["brightness"], p["saturation"], p["contrast"])),
    "translation": Policy(_draw_translation, lambda images, p: translation(images, p["shift_y"], p["shift_x"])),
    "cutout": Policy(_draw_cutout, lambda images, p: cutout(images, p["centre_y"], p["centre_x"], p["size"][0],
                                                            p["size"][1])),
})


def draw_parameters(policies: Sequence[str], seed, global_batch: int, image_shape) -> Dict[str, tf.Tensor]:
  """Every per-example parameter the policies need, for the whole global batch ([global_batch] each)."""
  height, width = int(image_shape[0]), int(image_shape[1])
  params = {}
  seeds = iter(rng.fold_in(seed, index) for index in range(16))
  for name, policy in POLICIES.items():
    if name in policies:
      params.update(policy.draw(seeds, global_batch, height, width))
  return params


def slice_parameters(params: Dict[str, tf.Tensor], start, size) -> Dict[str, tf.Tensor]:
  """One replica's rows [start, start + size) of the per-example parameters."""
  return {name: (value if name == "size" else value[start:start + size]) for name, value in params.items()}


def apply(images, policies: Sequence[str], params: Dict[str, tf.Tensor]):
  """Applies `policies` in order with their (already sliced) per-example parameters.

  Raises:
    ValueError: for an unknown policy (`registry.UnknownNameError`).
  """
  for name in policies:
    images = POLICIES[name].apply(images, params)
  return images
