"""--mode=sample: images of a chosen class (or the grid of every class), or a path between two noise
vectors as PNGs and a GIF, from a run's latest checkpoint."""

import os

from absl import logging
import tensorflow as tf

from cgan_tf import checkpoints
from cgan_tf import config as config_lib
from cgan_tf import data as data_lib
from cgan_tf import distribute
from cgan_tf import networks
from cgan_tf import points_report
from cgan_tf import samples
from cgan_tf.config import Config, ConfigError


def load_run_config(config: Config) -> Config:
  """The configuration a run was trained with, carrying this invocation's mode and sampling flags."""
  saved = config_lib.load_saved(config.run_dir)
  if saved is None:
    raise ConfigError(f"--run_dir: {config.run_dir} holds no trained run (no config.json); train first")
  return saved.replace(mode=config.mode, run_dir=config.run_dir, label=config.label,
                       num_images=config.num_images, output_dir=config.output_dir,
                       interpolate=config.interpolate, truncation=config.truncation)


def load_generator(config: Config, directory: str = None):
  """Builds the run's generator in float32 and restores it from the newest readable checkpoint: the moving
  average of its weights when the run keeps one (--ema_decay), else the generator itself.

  Args:
    config: the run's configuration.
    directory: the checkpoint directory (default: the run's checkpoints/).

  Returns:
    (generator, checkpoint path).

  Raises:
    ConfigError: if the run directory holds no checkpoint.
  """
  distribute.set_precision("float32")
  generator, _ = networks.build_networks(config)
  directory = directory or checkpoints.checkpoint_dir(config.run_dir)
  # Restored under the name the training checkpoint gives the weights that sample.
  key = "ema_generator" if config.ema_decay else "generator"
  path = checkpoints.restore_newest(tf.train.Checkpoint(**{key: generator}), directory, partial=True)
  if path is None:
    raise ConfigError(f"--run_dir: {config.run_dir} holds no checkpoint in {directory}; train first")
  return generator, path


def weights_name(config: Config) -> str:
  """Which weights `load_generator` serves, for logs and the export's metadata."""
  return f"ema_generator (decay {config.ema_decay})" if config.ema_decay else "generator"


def sample(config: Config) -> list:
  """Writes PNGs for --label (or a grid of every class with --label=-1), or with --interpolate a path of
  images (PNGs, a strip and a GIF); returns the paths."""
  config = load_run_config(config)
  config_lib.check_architecture(config)
  generator, path = load_generator(config)
  spec = networks.get(config.network)
  if data_lib.kind_of(config) == "points":
    points_report.report(generator, data_lib.load(config, "test"), config.latent_dim, config.seed, config.noise,
                         config.output_dir, count=config.num_images)
    paths = [os.path.join(config.output_dir, name) for name in ("scatter.png", points_report.REPORT_FILE)]
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
