"""Checking a configuration before anything is built: every flag against the choices its owner registers.

`validate` checks what the flags alone decide; `check_architecture` checks what needs the data set's
shape and classes. Each error names the flag and what it allows. What a run directory's earlier
configuration allows a resumed run to change is `resume.py`'s table.
"""

import os

from cgan_tf import augment
from cgan_tf import data
from cgan_tf import distribute
from cgan_tf import gan
from cgan_tf import layers as cgan_layers
from cgan_tf import losses
from cgan_tf import networks
from cgan_tf import optimizers
from cgan_tf import rng
from cgan_tf import schedules
from cgan_tf import trained_run
from cgan_tf.config import Config, ConfigError
from cgan_tf.data import own_images
from cgan_tf.evaluation import metrics

def _check(condition: bool, flag: str, message: str) -> None:
  if not condition:
    raise ConfigError(f"--{flag}: {message}")


def _check_choice(config: Config, flag: str, choices) -> None:
  value = getattr(config, flag)
  _check(value in choices, flag, f"got {value!r}; allowed: {', '.join(choices)}")


def validate(config: Config) -> Config:
  """Checks every value that can be checked before any data or network is built.

  Args:
    config: the configuration to check.

  Returns:
    The same configuration, for chaining.

  Raises:
    ConfigError: naming the first flag whose value is invalid and what it allows.
  """
  _check_choice(config, "data_source", data.source_names())
  _check_choice(config, "resize_mode", own_images.RESIZE_MODES)
  _check_choice(config, "bad_images", own_images.BAD_IMAGE_POLICIES)
  _check(isinstance(config.image_size, int) and config.image_size >= 0, "image_size",
         f"must be a non-negative integer (0 keeps the data set's size), got {config.image_size!r}")
  _check(config.channels in (0, 1, 3), "channels",
         f"must be 0 (as the data), 1 or 3, got {config.channels!r}")
  _check(0.0 <= config.holdout_fraction < 1.0, "holdout_fraction",
         f"must be in [0, 1), got {config.holdout_fraction!r}")
  _check_choice(config, "strategy", distribute.STRATEGIES)
  _check_choice(config, "precision", distribute.PRECISIONS)
  _check_choice(config, "xla", distribute.XLA_MODES)
  _check_choice(config, "optimizer", tuple(optimizers.OPTIMIZERS))
  _check_choice(config, "update_scheme", gan.UPDATE_SCHEMES)
  _check_choice(config, "network", tuple(networks.NETWORKS))
  _check_choice(config, "loss", tuple(losses.LOSSES))
  _validate_gan_options(config)
  # inspect_data trains nothing, so an --output_dir for its report is enough.
  _check(bool(config.run_dir) or (config.mode == "inspect_data" and bool(config.output_dir))
         or config.mode in ("train_evaluator", "demo")
         or (config.mode == "eval" and config.eval_source not in ("checkpoint", "best")
             and bool(config.eval_report)), "run_dir",
         "is required (the directory for checkpoints, samples and logs; --mode=eval of a SavedModel "
         "--eval_source may give --eval_report instead)")
  _check(bool(config.dataset), "dataset", "is required, e.g. fashion_mnist")
  if data.SOURCES.get(config.data_source) and data.SOURCES[config.data_source].own_files:
    _validate_own_images(config)
  for name in ("latent_dim", "embedding_dim", "g_filters", "d_filters", "batch_size", "checkpoint_every", "keep_checkpoints",
               "sample_every", "samples_per_class", "log_every", "steps_per_execution", "num_images"):
    value = getattr(config, name)
    _check(isinstance(value, int) and value > 0, name, f"must be a positive integer, got {value!r}")
  for name in ("epochs", "train_steps", "train_images", "num_cpu_devices"):
    value = getattr(config, name)
    _check(isinstance(value, int) and value >= 0, name, f"must be a non-negative integer, got {value!r}")
  _check(config.epochs > 0 or config.train_steps > 0 or config.train_images > 0, "train_images",
         "one of --train_steps, --epochs or --train_images must be positive (the run's length)")
  _check(0.0 <= config.train_minutes < float("inf"), "train_minutes",
         f"must be a non-negative number of minutes (0: no time limit), got {config.train_minutes!r}")
  for name in ("g_learning_rate", "d_learning_rate"):
    value = getattr(config, name)
    _check(value > 0 and value == value and value < float("inf"), name,
           f"must be a positive finite number, got {value!r}")
  _check_choice(config, "lr_schedule", schedules.LR_SCHEDULES)
  for name in ("beta_1", "beta_2"):
    value = getattr(config, name)
    _check(0.0 <= value < 1.0, name, f"must be in [0, 1), got {value!r}")
  _check(0.0 <= config.d_dropout < 1.0, "d_dropout", f"must be in [0, 1), got {config.d_dropout!r}")
  _check(isinstance(config.d_minibatch_std, int) and config.d_minibatch_std >= 0, "d_minibatch_std",
         f"must be a group size of at least 2, or 0 for none, got {config.d_minibatch_std!r}")
  _check(config.d_minibatch_std != 1, "d_minibatch_std",
         "a group of 1 example has no spread; use a group size of at least 2, or 0 for none")
  if config.d_minibatch_std:
    _check(config.batch_size % config.d_minibatch_std == 0, "d_minibatch_std",
           f"the batch ({config.batch_size}) must hold whole groups of {config.d_minibatch_std}")
  _check_choice(config, "image_conv", cgan_layers.IMAGE_CONVS)
  _check(config.verbose in (0, 1, 2), "verbose", f"must be 0, 1 or 2, got {config.verbose!r}")
  for name in ("checkpoint_every", "sample_every", "log_every"):
    value = getattr(config, name)
    _check(value % config.steps_per_execution == 0, name,
           f"must be a multiple of --steps_per_execution={config.steps_per_execution}, got {value}")
  if config.train_steps:
    _check(config.train_steps % config.steps_per_execution == 0, "train_steps",
           f"must be a multiple of --steps_per_execution={config.steps_per_execution}, "
           f"got {config.train_steps}")
  if config.image_shape:
    _check(len(config.image_shape) == 3 and all(d > 0 for d in config.image_shape), "image_shape",
           f"must be three positive sizes (height, width, channels), got {config.image_shape!r}")
  _validate_evaluation(config)
  _validate_watching_and_sampling(config)
  if config.mode == "sample":
    _check(bool(config.output_dir), "output_dir", "is required with --mode=sample")
    _check(config.label >= -1, "label", f"must be a class index, or -1 for a grid of every class, "
           f"got {config.label}")
  if config.mode == "export":
    _check(bool(config.export_dir), "export_dir", "is required with --mode=export (TF Serving's model base "
           "directory; the export goes to <export_dir>/<model_name>/<version>)")
    _check(bool(config.model_name) and config.model_name not in (".", "..") and "/" not in config.model_name
           and "\\" not in config.model_name, "model_name",
           f"must be one directory name (TF Serving's --model_name), got {config.model_name!r}")
    _check(isinstance(config.export_version, int) and config.export_version >= 0, "export_version",
           f"must be a non-negative integer (0: the checkpoint's training step), "
           f"got {config.export_version!r}")
    _check_choice(config, "export_source", trained_run.EXPORT_SOURCES)
  if config.mode == "demo":
    _check(bool(config.export_dir), "export_dir", "is required with --mode=demo (an export: one version's "
           "directory, a model directory of versions, or --mode=export's --export_dir)")
    _check(isinstance(config.demo_port, int) and 0 <= config.demo_port <= 65535, "demo_port",
           f"must be a TCP port, 1 to 65535, or 0 for a free one, got {config.demo_port!r}")
  _check(isinstance(config.max_batch, int) and config.max_batch > 0, "max_batch",
         f"must be a positive integer (the largest batch one serving request may ask for), "
         f"got {config.max_batch!r}")
  return config


def _validate_gan_options(config: Config) -> None:
  """The conditioning, regularization and update options (the modern GAN techniques)."""
  _check_choice(config, "noise", rng.NOISE_DISTRIBUTIONS)
  _check_choice(config, "g_conditioning", networks.G_CONDITIONINGS)
  _check_choice(config, "d_conditioning", networks.D_CONDITIONINGS)
  _check(isinstance(config.d_steps, int) and config.d_steps >= 1, "d_steps",
         f"must be a positive integer (discriminator updates per generator update), got {config.d_steps!r}")
  _check(config.update_scheme == "alternating" or config.d_steps == 1, "d_steps",
         f"--update_scheme=simultaneous updates D once per step; got --d_steps={config.d_steps} (use "
         f"--update_scheme=alternating)")
  for name in ("gp_weight", "r1_gamma"):
    value = getattr(config, name)
    _check(0.0 <= value < float("inf"), name, f"must be a non-negative finite number (0: off), got {value!r}")
  _check(0.0 <= config.mode_seeking < float("inf"), "mode_seeking",
         f"must be a non-negative finite weight (0: off; e.g. 1.0), got {config.mode_seeking!r}")
  _check(not config.mode_seeking or config.batch_size % 2 == 0, "mode_seeking",
         f"draws the generator's batch in pairs of one label; the batch ({config.batch_size}) must be even")
  _check(isinstance(config.r1_every, int) and config.r1_every >= 1, "r1_every",
         f"must be a positive integer (1: R1 every step; k: lazy R1 every k steps), got {config.r1_every!r}")
  _check(0.0 <= config.ema_decay < 1.0, "ema_decay",
         f"must be in [0, 1) (0: no moving average; e.g. 0.999), got {config.ema_decay!r}")
  _check(isinstance(config.ema_start, int) and config.ema_start >= 0, "ema_start",
         f"must be a non-negative integer (the step the moving average starts averaging at), "
         f"got {config.ema_start!r}")
  _check(config.ema_start == 0 or config.ema_decay > 0, "ema_start",
         f"starts the generator's moving average, which needs --ema_decay > 0 (e.g. 0.999); got "
         f"--ema_start={config.ema_start} with --ema_decay={config.ema_decay}")
  policies = config.diffaugment_policies
  _check(all(name in augment.POLICIES for name in policies) and len(set(policies)) == len(policies),
         "diffaugment", f"got {config.diffaugment!r}; allowed: a comma-separated list of distinct "
         f"{', '.join(augment.POLICIES)}, or empty for none")
  _check(config.loss != "wasserstein" or config.gp_weight > 0 or config.spectral_norm, "loss",
         "wasserstein needs a Lipschitz discriminator: add --gp_weight=10 (WGAN-GP) or --spectral_norm")


def _validate_own_images(config: Config) -> None:
  """--data_source=folder or npz: the files are the user's, so the name must be theirs too."""
  what = "image folder" if config.data_source == "folder" else ".npz file"
  _check(bool(config.data_dir), "data_dir",
         f"is required with --data_source={config.data_source} (the {what})")
  # The name keys the run's records and the evaluator cache: a built-in name would pass the user's images
  # off as that data set (and its cached evaluator) with nothing to tell them apart.
  builtin = data.builtin_datasets()
  suggestion = os.path.splitext(os.path.basename(os.path.normpath(config.data_dir)))[0] or "mine"
  _check(config.dataset not in builtin, "dataset",
         f"{config.dataset!r} is a built-in data set, but --data_source={config.data_source} reads your own "
         f"images from {config.data_dir}; give them their own name, e.g. --dataset={suggestion}")


def _validate_watching_and_sampling(config: Config) -> None:
  """The progress line and the --mode=sample options."""
  _check(0.0 <= config.progress_seconds < float("inf"), "progress_seconds",
         f"must be a non-negative number of seconds (0: a line after every step), got {config.progress_seconds!r}")
  _check(isinstance(config.interpolate, int) and (config.interpolate == 0 or config.interpolate >= 2),
         "interpolate", f"must be 0 (no interpolation) or the number of images on the path, at least 2, "
         f"got {config.interpolate!r}")
  _check(0.0 <= config.truncation < float("inf"), "truncation",
         f"must be a positive bound psi (noise components with |z| > psi are redrawn; e.g. 1.0 for normal "
         f"noise, smaller for more typical and less varied images) or 0 for none, got {config.truncation!r}")


def _validate_evaluation(config: Config) -> None:
  """The measuring flags (cgan_tf/evaluation)."""
  for name in ("evaluator_epochs", "eval_samples", "train_eval_samples", "cas_epochs"):
    value = getattr(config, name)
    _check(isinstance(value, int) and value > 0, name, f"must be a positive integer, got {value!r}")
  _check(isinstance(config.eval_every, int) and config.eval_every >= 0, "eval_every",
         f"must be a non-negative integer (0: no evaluation during training), got {config.eval_every!r}")
  _check(config.eval_every % config.steps_per_execution == 0, "eval_every",
         f"must be a multiple of --steps_per_execution={config.steps_per_execution}, got {config.eval_every}")
  names = [name for name in config.eval_metrics.split(",") if name]
  _check(bool(names) and all(name in metrics.METRICS for name in names), "eval_metrics",
         f"got {config.eval_metrics!r}; allowed: a comma-separated list of {', '.join(metrics.METRICS)}")
  _check(bool(config.eval_source), "eval_source",
         "must be 'checkpoint', 'best' or the path of an exported SavedModel")
  _check(not config.keep_best or config.eval_every > 0, "keep_best", "needs --eval_every > 0")
  _check(not config.keep_best or "frechet" in names, "keep_best",
         "keeps the checkpoint with the lowest Fréchet distance, so --eval_metrics must include frechet")


def check_architecture(config: Config) -> None:
  """Checks the resolved shapes and options against the chosen network (after the data set filled them in)."""
  spec = networks.get(config.network)
  shape = tuple(config.image_shape)
  if spec.data_kind == "points":
    _check(len(shape) == 1 and shape[0] > 0, "network",
           f"{config.network!r} generates points and needs a points data set (e.g. --dataset=circle), got "
           f"examples of shape {shape}")
    _check(not config.diffaugment_policies, "diffaugment", "augments images; points data has none")
    _check(config.eval_every == 0 and config.mode not in ("eval", "train_evaluator"), "eval_every",
           "measures images with a classifier; a points GAN is summarised by its scatter plot and statistics")
  else:
    _check(len(shape) == 3, "network",
           f"{config.network!r} generates images and needs an image data set, got examples of shape {shape}")
    height, width, channels = shape
    _check(channels in (1, 3, 4), "image_shape", f"channels must be 1, 3 or 4, got {channels}")
    factor = spec.size_divisor
    _check(height % factor == 0 and width % factor == 0, "image_shape",
           f"network {config.network!r} needs height and width divisible by {factor}, got {height}x{width}")
  _check(config.num_classes >= 1 or config.unconditional or spec.data_kind == "points", "num_classes",
         f"must be at least 1, got {config.num_classes} (use --unconditional for a GAN without labels)")
  if config.num_classes:
    for flag, allowed in (("g_conditioning", spec.g_conditionings), ("d_conditioning", spec.d_conditionings)):
      value = getattr(config, flag)
      _check(value == "auto" or value in allowed, flag,
             f"network {config.network!r} supports {', '.join(('auto',) + allowed)}, got {value!r}")
  _check(not config.spectral_norm or spec.spectral_norm, "spectral_norm",
         f"network {config.network!r} does not support spectral normalization")
  _check(not config.d_minibatch_std or spec.minibatch_std, "d_minibatch_std",
         f"network {config.network!r} has no minibatch standard deviation layer (cdcgan and resnet do)")
  if config.mode == "sample" and spec.data_kind == "points":
    _check(not config.interpolate and not config.truncation, "interpolate" if config.interpolate else
           "truncation", f"draws images; network {config.network!r} generates points")
  if config.mode == "sample" and config.label >= 0:
    _check(config.num_classes > 0, "label", "this run is unconditional; use --label=-1 for a grid")
    _check(config.label < config.num_classes, "label",
           f"must be in [0, {config.num_classes}) for data set {config.dataset!r}, got {config.label}")
