"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied alike to D's real and fake inputs.

The same policy transforms real images in D's update and fake images in both updates, and gradients flow
through it into G, so D cannot tell real from fake by the augmentation and G is not taught to produce it.
Policies follow the reference implementation (images in [-1, 1]): color (brightness, saturation,
contrast), translation (by up to 1/8 of the size, zero fill) and cutout (a zeroed square of half the size).

Random parameters are stateless: each function takes its per-example parameters drawn for the whole
global batch from (seed, step) and sliced per replica by the caller, so N replicas augment exactly as one.
"""

from typing import Dict, Sequence

import tensorflow as tf

from cgan_tf import rng

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


POLICIES = ("color", "translation", "cutout")


def draw_parameters(policies: Sequence[str], seed, global_batch: int, image_shape) -> Dict[str, tf.Tensor]:
  """Every per-example parameter the policies need, for the whole global batch ([global_batch] each)."""
  height, width = int(image_shape[0]), int(image_shape[1])
  params = {}
  seeds = iter(rng.fold_in(seed, index) for index in range(16))
  if "color" in policies:
    for name in ("brightness", "saturation", "contrast"):
      params[name] = rng.uniform([global_batch], next(seeds))
  if "translation" in policies:
    shift_y, shift_x = int(height * TRANSLATION_RATIO + 0.5), int(width * TRANSLATION_RATIO + 0.5)
    params["shift_y"] = rng.uniform_int([global_batch], next(seeds), 2 * shift_y + 1) - shift_y
    params["shift_x"] = rng.uniform_int([global_batch], next(seeds), 2 * shift_x + 1) - shift_x
  if "cutout" in policies:
    size_y, size_x = int(height * CUTOUT_RATIO + 0.5), int(width * CUTOUT_RATIO + 0.5)
    # The reference draws the offset in [0, size + 1 - cut % 2): the square may reach past the border.
    params["centre_y"] = rng.uniform_int([global_batch], next(seeds), height + (1 - size_y % 2))
    params["centre_x"] = rng.uniform_int([global_batch], next(seeds), width + (1 - size_x % 2))
    params["size"] = tf.constant([size_y, size_x], tf.int32)
  return params


def slice_parameters(params: Dict[str, tf.Tensor], start, size) -> Dict[str, tf.Tensor]:
  """One replica's rows [start, start + size) of the per-example parameters."""
  return {name: (value if name == "size" else value[start:start + size]) for name, value in params.items()}


def apply(images, policies: Sequence[str], params: Dict[str, tf.Tensor]):
  """Applies `policies` in order with their (already sliced) per-example parameters."""
  for policy in policies:
    if policy == "color":
      images = color(images, params["brightness"], params["saturation"], params["contrast"])
    elif policy == "translation":
      images = translation(images, params["shift_y"], params["shift_x"])
    elif policy == "cutout":
      images = cutout(images, params["centre_y"], params["centre_x"], params["size"][0], params["size"][1])
    else:
      raise ValueError(f"unknown DiffAugment policy {policy!r}; known: {', '.join(POLICIES)}")
  return images
