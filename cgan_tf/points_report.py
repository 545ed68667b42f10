"""How a GAN of points is shown (a scatter plot of real and generated points) and summarised (mean and
spread of x, y and the radius); the points themselves come from cgan_tf/data/points.py."""

import io
import os

import numpy as np
from PIL import Image, ImageDraw
import tensorflow as tf

from cgan_tf import files
from cgan_tf import rng
from cgan_tf import run_dir
from cgan_tf.data import PointData

PLOT_SIZE = 480
PLOT_EXTENT = 1.6  # The plot shows [-extent, extent] on both axes.


def generate(generator, count: int, latent_dim: int, seed: int, noise: str = "normal") -> np.ndarray:
  """`count` generated points, float32 [count, D], from seeded noise."""
  latents = rng.latent([count, latent_dim], tf.constant([seed, 0], tf.int64), noise)
  return np.asarray(generator(latents, training=False), np.float32)


def statistics(points: np.ndarray) -> dict:
  """Mean and standard deviation of x, y and the radius of 2-D points."""
  points = np.asarray(points, np.float64)
  radius = np.linalg.norm(points, axis=1)
  return {"mean_x": float(points[:, 0].mean()), "std_x": float(points[:, 0].std()),
          "mean_y": float(points[:, 1].mean()), "std_y": float(points[:, 1].std()),
          "mean_radius": float(radius.mean()), "std_radius": float(radius.std())}


def format_statistics(real: dict, generated: dict) -> str:
  lines = [f"{'statistic':<14}{'real':>10}{'generated':>12}"]
  for name in real:
    lines.append(f"{name:<14}{real[name]:>10.4f}{generated[name]:>12.4f}")
  return "\n".join(lines)


def scatter(real: np.ndarray, generated: np.ndarray) -> np.ndarray:
  """A scatter plot of real (grey) and generated (red) 2-D points with axes, as uint8 [H, W, 3]."""
  image = Image.new("RGB", (PLOT_SIZE, PLOT_SIZE), "white")
  draw = ImageDraw.Draw(image)
  scale = PLOT_SIZE / (2 * PLOT_EXTENT)

  def pixel(x, y):
    return (x + PLOT_EXTENT) * scale, (PLOT_EXTENT - y) * scale

  centre = pixel(0.0, 0.0)
  draw.line([(0, centre[1]), (PLOT_SIZE, centre[1])], fill=(200, 200, 200))
  draw.line([(centre[0], 0), (centre[0], PLOT_SIZE)], fill=(200, 200, 200))
  for value in (-1.0, 1.0):
    x, y = pixel(value, 0.0)
    draw.line([(x, y - 4), (x, y + 4)], fill=(120, 120, 120))
    x, y = pixel(0.0, value)
    draw.line([(x - 4, y), (x + 4, y)], fill=(120, 120, 120))
  for points, colour in ((real, (150, 150, 150)), (generated, (220, 30, 30))):
    for x, y in np.asarray(points)[:, :2]:
      px, py = pixel(float(x), float(y))
      draw.ellipse([px - 1.5, py - 1.5, px + 1.5, py + 1.5], fill=colour)
  draw.text((8, 6), "real", fill=(110, 110, 110))
  draw.text((8, 20), "generated", fill=(220, 30, 30))
  return np.asarray(image)


def render_progress(generator, real: np.ndarray, latent_dim: int, seed: int, noise: str,
                    count: int = 1000) -> np.ndarray:
  """The progress frame of a points GAN: a scatter plot of fixed noise's points over the real ones."""
  return scatter(real[:count], generate(generator, count, latent_dim, seed + 1234, noise))


def report(generator, data: PointData, latent_dim: int, seed: int, noise: str, output_dir: str,
           count: int = 2000) -> dict:
  """Prints and saves the final comparison: scatter.png and points_report.json (real vs generated)."""
  generated = generate(generator, count, latent_dim, seed + 4321, noise)
  real = data.points[:count]
  summary = {"real": statistics(real), "generated": statistics(generated), "count": count}
  tf.io.gfile.makedirs(output_dir)
  buffer = io.BytesIO()
  Image.fromarray(scatter(real, generated)).save(buffer, format="PNG")
  scatter_path = os.path.join(output_dir, run_dir.SCATTER_FILE)
  files.write_atomically(scatter_path, buffer.getvalue())
  files.write_json_atomically(os.path.join(output_dir, run_dir.POINTS_REPORT_FILE), summary, indent=2)
  print(f"{count} real vs {count} generated points (scatter plot: {scatter_path}):")
  print(format_statistics(summary["real"], summary["generated"]))
  return summary
