"""Images from the generator: the fixed progress grid, interpolations, and PNG and GIF files."""

import io
import os

import numpy as np
from PIL import Image
import tensorflow as tf

from cgan_tf import data as data_lib
from cgan_tf import files
from cgan_tf import interpolation
from cgan_tf import networks
from cgan_tf import points_report
from cgan_tf import rng

GRID_SEED = 1234  # Added to the run's seed, so the grid's noise differs from the training noise.
UNCONDITIONAL_ROWS = 10  # An unconditional grid has no classes; it shows this many rows of fixed noise.


def to_uint8_tensor(images, output: str = "tanh") -> tf.Tensor:
  """Generator output in its range ([-1, 1] for tanh, [0, 1] for sigmoid) -> uint8 [0, 255], rounding half
  to even; in float32 whatever the output's dtype. In-graph (the export's serving functions) or eager."""
  images = tf.cast(images, tf.float32)
  scaled = images * 255.0 if output == "sigmoid" else (images + 1.0) * 127.5
  return tf.cast(tf.clip_by_value(tf.round(scaled), 0.0, 255.0), tf.uint8)


def to_uint8(images, output: str = "tanh") -> np.ndarray:
  """`to_uint8_tensor` as a numpy array, for images written or measured on the host."""
  return to_uint8_tensor(images, output).numpy()


def grid_inputs(num_classes: int, samples_per_class: int, latent_dim: int, seed: int, noise: str = "normal",
                truncation: float = 0.0):
  """The fixed grid: the same `samples_per_class` noise vectors paired with every class.

  Returns:
    (noise float32 [num_classes * samples_per_class, latent_dim], labels int32 [same]), class-major,
    so row c of the grid is class c and column i always has the same noise. Unconditional
    (num_classes = 0): UNCONDITIONAL_ROWS rows of distinct fixed noise, and labels None.
  """
  seed_tensor = tf.constant([seed + GRID_SEED, 0], tf.int64)
  if not num_classes:
    return rng.truncated_latent([UNCONDITIONAL_ROWS * samples_per_class, latent_dim], seed_tensor, noise,
                                truncation), None
  latents = rng.truncated_latent([samples_per_class, latent_dim], seed_tensor, noise, truncation)
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
  files.write_atomically(path, buffer.getvalue())


def write_gif(frames, path: str, frame_ms: int = 100, last_frame_ms: int = None) -> None:
  """Writes uint8 [H, W, C] frames (all one shape) as a looping animated GIF, atomically.

  Args:
    frames: a sequence of uint8 [H, W, C] arrays, C in (1, 3, 4).
    path: the .gif file.
    frame_ms: how long each frame shows.
    last_frame_ms: how long the last frame shows (default `frame_ms`), e.g. to hold a final result.
  """
  images = [to_pil(frame) for frame in frames]
  if not images:
    raise ValueError(f"no frames for {path}")
  durations = [frame_ms] * len(images)
  durations[-1] = last_frame_ms or frame_ms
  buffer = io.BytesIO()
  # disposal=1 keeps each frame whole; optimize=False keeps Pillow from merging frames that look alike.
  images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0,
                 disposal=1, optimize=False)
  files.write_atomically(path, buffer.getvalue())


def render_grid(generator, num_classes: int, samples_per_class: int, latent_dim: int, seed: int,
                output: str = "tanh", noise: str = "normal", truncation: float = 0.0) -> np.ndarray:
  """Renders the fixed grid with `generator`; returns uint8 [H', W', C], one row per class."""
  latents, labels = grid_inputs(num_classes, samples_per_class, latent_dim, seed, noise, truncation)
  images = generator([latents, labels] if num_classes else latents, training=False)
  return tile(to_uint8(images, output), num_classes or UNCONDITIONAL_ROWS, samples_per_class)


def progress_renderer(config, data):
  """The function (GAN model -> uint8 frame) that draws a run's progress: the fixed grid of images, or a
  scatter plot of generated over real points. It draws with the sampling generator (the EMA if any)."""
  if data_lib.kind_of(config) == "points":
    return lambda model: points_report.render_progress(model.sampling_generator, data.points, config.latent_dim,
                                                config.seed, config.noise)
  output = networks.get(config.network).output
  return lambda model: render_grid(model.sampling_generator, config.num_classes, config.samples_per_class,
                                   config.latent_dim, config.seed, output, config.noise)


def generate_class(generator, label: int, count: int, latent_dim: int, seed: int, output: str = "tanh",
                   noise: str = "normal", truncation: float = 0.0) -> np.ndarray:
  """`count` uint8 images of class `label` (label -1: an unconditional generator) from seeded noise."""
  latents = rng.truncated_latent([count, latent_dim], tf.constant([seed, max(label, 0)], tf.int64), noise,
                                 truncation)
  if label < 0:
    return to_uint8(generator(latents, training=False), output)
  labels = tf.fill([count], tf.constant(label, tf.int32))
  return to_uint8(generator([latents, labels], training=False), output)


def write_class_samples(generator, label: int, count: int, latent_dim: int, seed: int, output_dir: str,
                        output: str = "tanh", noise: str = "normal", truncation: float = 0.0) -> list:
  """Writes `count` PNGs of class `label` (-1: unconditional) and a grid of them; returns the paths."""
  tf.io.gfile.makedirs(output_dir)
  images = generate_class(generator, label, count, latent_dim, seed, output, noise, truncation)
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


def interpolation_frames(generator, labels, steps: int, latent_dim: int, seed: int, output: str = "tanh",
                         noise: str = "normal", truncation: float = 0.0) -> np.ndarray:
  """Images along a path between two seeded noise vectors, the same path for every label.

  The path is spherical for normal noise and straight for uniform noise (`interpolation.path`); the
  truncation bound applies to its two ends.

  Args:
    generator: the run's generator.
    labels: the classes to draw at every point, or None for an unconditional generator (one image each).
    steps: points on the path, both ends included.
    latent_dim, seed, output, noise, truncation: as for `generate_class`.

  Returns:
    uint8 [steps, rows, H, W, C]: at each point, one image per label (rows = len(labels), or 1).
  """
  seed_tensor = tf.constant([seed, GRID_SEED], tf.int64)
  ends = rng.truncated_latent([2, latent_dim], seed_tensor, noise, truncation).numpy()
  latents = interpolation.path(ends[0], ends[1], steps, noise)  # [steps, latent_dim]
  rows = len(labels) if labels is not None else 1
  latents = np.repeat(latents, rows, axis=0)  # Point-major: all rows of point 0, then of point 1, ...
  if labels is None:
    images = generator(tf.constant(latents), training=False)
  else:
    tiled = np.tile(np.asarray(labels, np.int32), steps)
    images = generator([tf.constant(latents), tf.constant(tiled)], training=False)
  images = to_uint8(images, output)
  return images.reshape((steps, rows) + images.shape[1:])


def write_interpolation(frames: np.ndarray, output_dir: str, prefix: str, frame_ms: int = 100) -> list:
  """Writes an interpolation: one PNG per point, a strip of every point, and a GIF that goes there and back.

  Args:
    frames: uint8 [steps, rows, H, W, C] from `interpolation_frames`.
    output_dir: where the files go.
    prefix: the files' name prefix, e.g. class3_interpolation.

  Returns:
    The paths written: <prefix>_<i>.png for each point, <prefix>.png (rows x points), <prefix>.gif.
  """
  tf.io.gfile.makedirs(output_dir)
  steps, rows = frames.shape[:2]
  # One frame per point: the rows (classes) side by side.
  pictures = [tile(frame, 1, rows) for frame in frames]
  paths = []
  for index, picture in enumerate(pictures):
    path = os.path.join(output_dir, f"{prefix}_{index:04d}.png")
    write_png(picture, path)
    paths.append(path)
  strip = tile(frames.transpose((1, 0, 2, 3, 4)).reshape((rows * steps,) + frames.shape[2:]), rows, steps)
  strip_path = os.path.join(output_dir, f"{prefix}.png")
  write_png(strip, strip_path)
  # Forward then back without repeating the ends, so the loop has no jump and no stutter.
  gif_path = os.path.join(output_dir, f"{prefix}.gif")
  write_gif(pictures + pictures[-2:0:-1], gif_path, frame_ms)
  return paths + [strip_path, gif_path]
