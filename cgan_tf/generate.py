"""--mode=sample: images of a chosen class (or the grid of every class), or a path between two noise
vectors as PNGs and a GIF, from a run's latest checkpoint."""

import os

from absl import logging
import tensorflow as tf

from cgan_tf import data as data_lib
from cgan_tf import networks
from cgan_tf import points_report
from cgan_tf import run_dir
from cgan_tf import samples
from cgan_tf import trained_run
from cgan_tf import validation
from cgan_tf.config import Config


def sample(config: Config) -> list:
  """Writes PNGs for --label (or a grid of every class with --label=-1), or with --interpolate a path of
  images (PNGs, a strip and a GIF); returns the paths."""
  config = trained_run.load_run_config(config, trained_run.SAMPLE_FIELDS)
  validation.check_architecture(config)
  generator, path = trained_run.load_generator(config, "newest")
  spec = networks.get(config.network)
  if data_lib.kind_of(config) == "points":
    points_report.report(generator, data_lib.load(config, "test"), config.latent_dim, config.seed, config.noise,
                         config.output_dir, count=config.num_images)
    paths = [os.path.join(config.output_dir, name) for name in (run_dir.SCATTER_FILE, run_dir.POINTS_REPORT_FILE)]
  elif config.interpolate:
    if not config.num_classes:
      labels, prefix = None, "interpolation"
    elif config.label >= 0:
      labels, prefix = [config.label], f"class{config.label}_interpolation"
    else:
      labels, prefix = list(range(config.num_classes)), "classes_interpolation"
    frames = samples.interpolation_frames(generator, labels, config.interpolate, config.latent_dim, config.seed,
                                          spec.output, config.noise, config.truncation)
    paths = samples.write_interpolation(frames, config.output_dir, prefix)
  elif config.label >= 0 or not config.num_classes:
    paths = samples.write_class_samples(generator, config.label if config.num_classes else -1, config.num_images,
                                        config.latent_dim, config.seed, config.output_dir, spec.output,
                                        config.noise, config.truncation)
  else:
    tf.io.gfile.makedirs(config.output_dir)
    grid = samples.render_grid(generator, config.num_classes, config.samples_per_class,
                               config.latent_dim, config.seed, spec.output, config.noise, config.truncation)
    paths = [os.path.join(config.output_dir, "grid.png")]
    samples.write_png(grid, paths[0])
  logging.info("Wrote %d file(s) to %s from %s", len(paths), config.output_dir, path)
  return paths
