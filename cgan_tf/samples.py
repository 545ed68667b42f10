"""Images from the generator: the fixed progress grid, and PNG files."""

import io
import os

import numpy as np
from PIL import Image
import tensorflow as tf

from cgan_tf import rng

GRID_SEED = 1234  # Added to the run's seed, so the grid's noise differs from the training noise.
UNCONDITIONAL_ROWS = 10  # An unconditional grid has no classes; it shows this many rows of fixed noise.


def to_uint8(images, output: str = "tanh") -> np.ndarray:
  """Generator output in its range ([-1, 1] for tanh, [0, 1] for sigmoid) -> uint8 [0, 255]."""
  images = np.asarray(images, dtype=np.float32)
  scaled = images * 255.0 if output == "sigmoid" else (images + 1.0) * 127.5
  return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def grid_inputs(num_classes: int, samples_per_class: int, latent_dim: int, seed: int, noise: str = "normal"):
  """The fixed grid: the same `samples_per_class` noise vectors paired with every class.

  Returns:
    (noise float32 [num_classes * samples_per_class, latent_dim], labels int32 [same]), class-major,
    so row c of the grid is class c and column i always has the same noise. Unconditional
    (num_classes = 0): UNCONDITIONAL_ROWS rows of distinct fixed noise, and labels None.
  """
  seed_tensor = tf.constant([seed + GRID_SEED, 0], tf.int64)
  if not num_classes:
    return rng.latent([UNCONDITIONAL_ROWS * samples_per_class, latent_dim], seed_tensor, noise), None
  latents = rng.latent([samples_per_class, latent_dim], seed_tensor, noise)
  latents = tf.tile(latents, [num_classes, 1])
  labels = tf.repeat(tf.range(num_classes, dtype=tf.int32), samples_per_class)
  return latents, labels


def tile(images: np.ndarray, rows: int, columns: int, padding: int = 2) -> np.ndarray:
  """Tiles uint8 images [rows * columns, H, W, C] row-major into one [H', W', C] image."""
  count, height, width, channels = images.shape
  if count != rows * columns:
    raise ValueError(f"cannot tile {count} images as {rows}x{columns}")
  canvas = np.full((rows * (height + padding) + padding, columns * (width + padding) + padding, channels),
                   255, dtype=np.uint8)
  for index, image in enumerate(images):
    row, column = divmod(index, columns)
    top, left = padding + row * (height + padding), padding + column * (width + padding)
    canvas[top:top + height, left:left + width] = image
  return canvas


def to_pil(image: np.ndarray) -> Image.Image:
  """uint8 [H, W, C] with C in (1, 3, 4) -> a Pillow image."""
  if image.shape[-1] == 1:
    return Image.fromarray(image[..., 0], mode="L")
  return Image.fromarray(image, mode="RGB" if image.shape[-1] == 3 else "RGBA")


def write_png(image: np.ndarray, path: str) -> None:
  """Writes one uint8 [H, W, C] image atomically (temp file, then rename)."""
  buffer = io.BytesIO()
  to_pil(image).save(buffer, format="PNG")
  tmp = path + ".tmp"
  with tf.io.gfile.GFile(tmp, "wb") as f:
    f.write(buffer.getvalue())
  tf.io.gfile.rename(tmp, path, overwrite=True)


def render_grid(generator, num_classes: int, samples_per_class: int, latent_dim: int, seed: int,
                output: str = "tanh", noise: str = "normal") -> np.ndarray:
  """Renders the fixed grid with `generator`; returns uint8 [H', W', C], one row per class."""
  latents, labels = grid_inputs(num_classes, samples_per_class, latent_dim, seed, noise)
  images = generator([latents, labels] if num_classes else latents, training=False)
  return tile(to_uint8(images, output), num_classes or UNCONDITIONAL_ROWS, samples_per_class)


def progress_renderer(config, data):
  """The function (GAN model -> uint8 frame) that draws a run's progress: the fixed grid of images, or a
  scatter plot of generated over real points. It draws with the sampling generator (the EMA if any)."""
  from cgan_tf import networks
  from cgan_tf import points

  if isinstance(data, points.PointData):
    return lambda model: points.render_progress(model.sampling_generator, data.points, config.latent_dim,
                                                config.seed, config.noise)
  output = networks.get(config.network).output
  return lambda model: render_grid(model.sampling_generator, config.num_classes, config.samples_per_class,
                                   config.latent_dim, config.seed, output, config.noise)


def generate_class(generator, label: int, count: int, latent_dim: int, seed: int, output: str = "tanh",
                   noise: str = "normal") -> np.ndarray:
  """`count` uint8 images of class `label` (label -1: an unconditional generator) from seeded noise."""
  latents = rng.latent([count, latent_dim], tf.constant([seed, max(label, 0)], tf.int64), noise)
  if label < 0:
    return to_uint8(generator(latents, training=False), output)
  labels = tf.fill([count], tf.constant(label, tf.int32))
  return to_uint8(generator([latents, labels], training=False), output)


def write_class_samples(generator, label: int, count: int, latent_dim: int, seed: int, output_dir: str,
                        output: str = "tanh", noise: str = "normal") -> list:
  """Writes `count` PNGs of class `label` (-1: unconditional) and a grid of them; returns the paths."""
  tf.io.gfile.makedirs(output_dir)
  images = generate_class(generator, label, count, latent_dim, seed, output, noise)
  prefix = f"class{label}" if label >= 0 else "sample"
  paths = []
  for index, image in enumerate(images):
    path = os.path.join(output_dir, f"{prefix}_{index:04d}.png")
    write_png(image, path)
    paths.append(path)
  columns = int(np.ceil(np.sqrt(count)))
  rows = int(np.ceil(count / columns))
  padded = np.concatenate([images, np.full((rows * columns - count,) + images.shape[1:], 255,
                                           np.uint8)])
  grid_path = os.path.join(output_dir, f"{prefix}_grid.png")
  write_png(tile(padded, rows, columns), grid_path)
  return paths + [grid_path]
