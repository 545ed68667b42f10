"""Makes a run's gallery: the final class grid as a PNG and the grid over training as an animated GIF.

  python tools/make_gallery.py --run_dir=runs/fmnist                     # -> runs/fmnist/gallery/
  python tools/make_gallery.py --run_dir=runs/fmnist --output_dir=docs --scale=2 --max_frames=40

Reads the progress frames a run writes every --sample_every steps (<run_dir>/samples/grid_<step>.png: fixed
noise x every class, or a points run's scatter plot), so it works on any run, finished or not, and trains
nothing. Writes <output_dir>/final_grid.png (the newest frame) and <output_dir>/training.gif (evenly spaced
frames, each captioned with its step, the last one held).
"""

import argparse
import io
import os
import sys
from typing import List, Optional

import numpy as np
from PIL import Image, ImageDraw

if __package__ in (None, ""):  # Run as `python tools/<name>.py`: the repository root, for cgan_tf and tools.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cgan_tf import tf_logging  # pylint: disable=g-import-not-at-top

tf_logging.quiet_tensorflow([])  # TensorFlow's start-up banners, held back as the main program does.

import tensorflow as tf  # pylint: disable=g-import-not-at-top

from cgan_tf import samples  # pylint: disable=g-import-not-at-top
from cgan_tf.run_dir import RunDir  # pylint: disable=g-import-not-at-top
from tools import plot_metrics  # pylint: disable=g-import-not-at-top

FINAL_GRID = "final_grid.png"
ANIMATION = "training.gif"
CAPTION_HEIGHT = 16


class GalleryError(RuntimeError):
  """The run directory has no progress frames, or the arguments are invalid."""


def choose(items: list, most: int) -> list:
  """At most `most` evenly spaced items, always the first and the last."""
  if len(items) <= most:
    return list(items)
  indices = np.unique(np.round(np.linspace(0, len(items) - 1, most)).astype(int))
  return [items[index] for index in indices]


def read_image(path: str) -> np.ndarray:
  """uint8 [H, W, C] from a PNG (any file system tf.io.gfile reads)."""
  with tf.io.gfile.GFile(path, "rb") as f:
    image = np.asarray(Image.open(io.BytesIO(f.read())))
  return image[..., None] if image.ndim == 2 else image


def captioned(image: np.ndarray, caption: str) -> np.ndarray:
  """`image` with a white band below it holding `caption`."""
  height, width, channels = image.shape
  canvas = samples.to_pil(np.concatenate([image, np.full((CAPTION_HEIGHT, width, channels), 255, np.uint8)]))
  ImageDraw.Draw(canvas).text((4, height + 1), caption, fill=0 if channels == 1 else (0,) * channels,
                              font=plot_metrics.font(12))
  result = np.asarray(canvas)
  return result[..., None] if result.ndim == 2 else result


def scaled(image: np.ndarray, scale: int) -> np.ndarray:
  """Nearest-neighbour upscaling: small images stay crisp on a web page."""
  return image if scale == 1 else np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def make_gallery(run_dir: str, output_dir: Optional[str] = None, max_frames: int = 50, frame_ms: int = 200,
                 last_frame_ms: int = 2000, scale: int = 1) -> List[str]:
  """Writes the final grid and the training GIF of the run in `run_dir`; returns their paths.

  Raises:
    GalleryError: no frames in the run's samples/ directory, or invalid arguments.
  """
  if max_frames < 1 or frame_ms < 1 or last_frame_ms < 1 or scale < 1:
    raise GalleryError("--max_frames, --frame_ms, --last_frame_ms and --scale must be positive")
  frames = RunDir(run_dir).grids()
  if not frames:
    raise GalleryError(f"{RunDir(run_dir).samples} holds no grid_<step>.png frames; is {run_dir} a "
                       f"cgan_tf run directory that has trained (frames come every --sample_every steps)?")
  output_dir = output_dir or RunDir(run_dir).gallery
  tf.io.gfile.makedirs(output_dir)
  final_path = os.path.join(output_dir, FINAL_GRID)
  samples.write_png(scaled(read_image(frames[-1][1]), scale), final_path)
  chosen = choose(frames, max_frames)
  pictures = [scaled(captioned(read_image(path), f"step {step}"), scale) for step, path in chosen]
  if len({picture.shape for picture in pictures}) > 1:
    raise GalleryError(f"the frames in {RunDir(run_dir).samples} differ in size; was the run directory "
                       f"reused with other --samples_per_class?")
  animation_path = os.path.join(output_dir, ANIMATION)
  samples.write_gif(pictures, animation_path, frame_ms, last_frame_ms)
  return [final_path, animation_path]


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--run_dir", required=True, help="The run directory (--run_dir of the training run).")
  parser.add_argument("--output_dir", default=None, help="Where to write (default <run_dir>/gallery).")
  parser.add_argument("--max_frames", type=int, default=50, help="Most frames in the GIF, evenly spaced.")
  parser.add_argument("--frame_ms", type=int, default=200, help="How long each frame shows.")
  parser.add_argument("--last_frame_ms", type=int, default=2000, help="How long the last frame shows.")
  parser.add_argument("--scale", type=int, default=1, help="Enlarge both images this many times.")
  return parser.parse_args(argv)


def main(argv=None) -> List[str]:
  args = parse_args(argv)
  paths = make_gallery(args.run_dir, args.output_dir, args.max_frames, args.frame_ms, args.last_frame_ms,
                       args.scale)
  print("\n".join(paths))
  return paths


if __name__ == "__main__":
  try:
    main()
  except GalleryError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
