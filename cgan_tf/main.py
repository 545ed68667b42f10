"""Command line: every flag is defined here, turned once into a validated `Config`, then dispatched.

  python -m cgan_tf.main --flagfile=configs/fmnist.cfg
  python -m cgan_tf.main --flagfile=configs/fmnist.cfg --mode=sample --label=8 --output_dir=/tmp/bags
"""

import dataclasses
import sys

from absl import app
from absl import flags
from absl import logging

from cgan_tf import config as config_lib
from cgan_tf.config import Config

_DEFAULTS = Config()

flags.DEFINE_enum("mode", _DEFAULTS.mode, config_lib.MODES,
                  "train: train or resume the run in --run_dir. sample: write images of --label (or a grid "
                  "of every class) from the run's latest checkpoint. export: write the generator as a TF "
                  "Serving SavedModel. inspect_data: report the data set (images per class, shape, pixel "
                  "statistics) and write real_examples.png to --output_dir (or --run_dir). train_evaluator: "
                  "train and cache the evaluator classifier. eval: measure a checkpoint or an export.")
flags.DEFINE_string("run_dir", None, "Directory for checkpoints, samples, logs and config.json. Running "
                    "again with the same directory resumes.")
# Data.
flags.DEFINE_string("dataset", _DEFAULTS.dataset, "A TFDS image classification set (fashion_mnist, mnist, "
                    "cifar10, ...), or circle: points on the unit circle (for --network=mlp_points).")
flags.DEFINE_enum("data_source", _DEFAULTS.data_source, config_lib.DATA_SOURCES,
                  "Where images come from. auto: a prepared TFDS copy if there is one, else the IDX files "
                  "in --data_dir (fashion_mnist, mnist), else a TFDS download. folder: your own images, "
                  "one subdirectory per class in --data_dir. npz: your own .npz file (--data_dir) with "
                  "'images' uint8 [N, H, W(, C)] and 'labels' int [N].")
flags.DEFINE_string("data_dir", _DEFAULTS.data_dir, "Directory of MNIST-format IDX files (plain or .gz); "
                    "with --data_source=folder the image folder, with npz the .npz file.")
flags.DEFINE_string("tfds_data_dir", _DEFAULTS.tfds_data_dir, "TFDS data directory (default: TFDS's own).")
# Your own images (--data_source=folder or npz).
flags.DEFINE_integer("image_size", _DEFAULTS.image_size, "folder/npz: resize every image to this many "
                     "pixels square (28, 32 and 64 work with every network). 0: the npz's own size, or the "
                     "first image's size for a folder.")
flags.DEFINE_integer("channels", _DEFAULTS.channels, "folder/npz: 1 (gray) or 3 (RGB), converting either "
                     "way. 0: as the data (a folder is 1 if every image is gray, else 3).")
flags.DEFINE_enum("resize_mode", _DEFAULTS.resize_mode, config_lib.RESIZE_MODES,
                  "folder/npz, images of another shape: crop (scale to cover, cut the centre), pad (scale "
                  "to fit, black borders) or stretch (change the aspect ratio).")
flags.DEFINE_float("holdout_fraction", _DEFAULTS.holdout_fraction, "folder/npz: fraction of each class "
                   "held out as the 'test' split for evaluation, chosen by --seed.")
flags.DEFINE_bool("allow_single_class", _DEFAULTS.allow_single_class, "folder/npz: train on a set with "
                  "one class (or a folder without subdirectories) as class 0.")
flags.DEFINE_enum("bad_images", _DEFAULTS.bad_images, config_lib.BAD_IMAGE_POLICIES,
                  "folder: what to do with files that are not images or do not decode: error (stop, "
                  "naming them) or skip (leave them out with a warning naming each).")
# Networks and losses.
flags.DEFINE_string("network", _DEFAULTS.network, "Network pair from the registry in cgan_tf/networks/: "
                    "cdcgan, keras_book, mlp, mlp_points (2-D points).")
flags.DEFINE_string("loss", _DEFAULTS.loss, "GAN loss from the registry in cgan_tf/losses.py: "
                    "nonsaturating, hinge, least_squares, wasserstein (with --gp_weight or --spectral_norm).")
flags.DEFINE_integer("latent_dim", _DEFAULTS.latent_dim, "Size of the generator's noise vector.")
flags.DEFINE_integer("embedding_dim", _DEFAULTS.embedding_dim, "Size of the label embedding.")
flags.DEFINE_float("d_dropout", _DEFAULTS.d_dropout, "Dropout rate before the discriminator's logit.")
flags.DEFINE_integer("g_filters", _DEFAULTS.g_filters, "cdcgan: channels of the generator's stages (the "
                     "reference: 128; its cost grows with the square).")
flags.DEFINE_integer("d_filters", _DEFAULTS.d_filters, "cdcgan: channels of the discriminator's stages (the "
                     "reference: 128).")
flags.DEFINE_bool("unconditional", _DEFAULTS.unconditional, "Train without labels (num_classes = 0): no label "
                  "input in either network, and an export whose signatures take no label.")
flags.DEFINE_enum("g_conditioning", _DEFAULTS.g_conditioning, config_lib.G_CONDITIONINGS,
                  "How the generator takes the label. auto: the network's own. channel: Embedding -> Dense as an "
                  "extra feature map (cdcgan). concat: one-hot concatenated with the noise (keras_book, mlp). "
                  "cbn: conditional batch normalization, a scale and offset per class in every stage.")
flags.DEFINE_enum("d_conditioning", _DEFAULTS.d_conditioning, config_lib.D_CONDITIONINGS,
                  "How the discriminator takes the label. auto: the network's own. channel: Embedding -> "
                  "Dense(H*W) as an extra image channel (cdcgan). concat: one-hot -> Dense(H*W) channel (keras_book) "
                  "or one-hot concatenated with the features (mlp). projection: logit + <embed(y), features> "
                  "(Miyato & Koyama 2018).")
flags.DEFINE_bool("spectral_norm", _DEFAULTS.spectral_norm, "Spectral normalization of every discriminator "
                  "weight (Miyato et al. 2018).")
flags.DEFINE_enum("noise", _DEFAULTS.noise, config_lib.NOISE_DISTRIBUTIONS, "Generator noise: standard normal, "
                  "or uniform in [-1, 1].")
flags.DEFINE_float("gp_weight", _DEFAULTS.gp_weight, "WGAN-GP gradient penalty weight (e.g. 10 with "
                   "--loss=wasserstein --d_steps=5); 0 turns it off.")
flags.DEFINE_float("r1_gamma", _DEFAULTS.r1_gamma, "R1 penalty gamma / 2 * |grad D(real)|^2 (Mescheder et al. "
                   "2018); 0 turns it off.")
flags.DEFINE_integer("r1_every", _DEFAULTS.r1_every, "Lazy R1: apply it every N steps, weighted by N "
                     "(StyleGAN2 uses 16); 1 applies it every step.")
flags.DEFINE_string("diffaugment", _DEFAULTS.diffaugment, "DiffAugment policies applied alike to D's real and "
                    "fake inputs (Zhao et al. 2020): a comma-separated list of color, translation, cutout; empty "
                    "for none.")
flags.DEFINE_float("ema_decay", _DEFAULTS.ema_decay, "Exponential moving average of the generator's weights "
                   "(e.g. 0.999), used for samples, evaluation and export; 0 turns it off.")
# Optimisation.
flags.DEFINE_enum("optimizer", _DEFAULTS.optimizer, config_lib.OPTIMIZERS,
                  "Optimizer of both networks (each has its own instance and learning rate). beta_1/beta_2 "
                  "apply to adam; rmsprop and sgd use their Keras defaults otherwise.")
flags.DEFINE_enum("update_scheme", _DEFAULTS.update_scheme, config_lib.UPDATE_SCHEMES,
                  "alternating: D steps, then G steps on fresh noise through the updated D (the source "
                  "material's order). simultaneous: both from one forward pass (cheaper; the reference "
                  "cDCGAN collapsed with it on Fashion-MNIST).")
flags.DEFINE_integer("d_steps", _DEFAULTS.d_steps, "Discriminator updates per generator update, each on its "
                     "own batch of real data (a step then consumes d_steps batches).")
flags.DEFINE_integer("batch_size", _DEFAULTS.batch_size, "Global batch size (over all replicas).")
flags.DEFINE_integer("epochs", _DEFAULTS.epochs, "Passes over the training set (ignored if --train_steps).")
flags.DEFINE_integer("train_steps", _DEFAULTS.train_steps, "Total train steps; 0 means --epochs passes.")
flags.DEFINE_float("train_minutes", _DEFAULTS.train_minutes, "Stop after this many minutes of training in this "
                   "process (evaluation time not counted), with a checkpoint; 0: no time limit.")
flags.DEFINE_float("g_learning_rate", _DEFAULTS.g_learning_rate, "Generator learning rate.")
flags.DEFINE_float("d_learning_rate", _DEFAULTS.d_learning_rate, "Discriminator learning rate (a higher one "
                   "than G's is the two time-scale update rule, TTUR).")
flags.DEFINE_float("beta_1", _DEFAULTS.beta_1, "Adam beta_1 of both optimizers.")
flags.DEFINE_float("beta_2", _DEFAULTS.beta_2, "Adam beta_2 of both optimizers.")
flags.DEFINE_integer("seed", _DEFAULTS.seed, "Seed of weights, data order and the noise stream.")
flags.DEFINE_bool("deterministic", _DEFAULTS.deterministic, "Enable TF op determinism (bitwise "
                  "reproducible runs on CPU, slower).")
# Scale.
flags.DEFINE_enum("strategy", _DEFAULTS.strategy, config_lib.STRATEGIES,
                  "tf.distribute strategy. auto: mirrored over several GPUs (or --num_cpu_devices > 1), "
                  "else one device. multi_worker reads TF_CONFIG.")
flags.DEFINE_integer("num_cpu_devices", _DEFAULTS.num_cpu_devices, "Split the CPU into this many logical "
                     "devices (multi-replica training without GPUs).")
flags.DEFINE_enum("precision", _DEFAULTS.precision, config_lib.PRECISIONS,
                  "auto: mixed_float16 on GPU, float32 on CPU. float64: for numerical checks (the replica "
                  "invariance tests).")
flags.DEFINE_enum("xla", _DEFAULTS.xla, config_lib.XLA_MODES,
                  "auto: compile on GPU. on: compile the whole step on one replica, each replica's "
                  "gradient computation under several.")
flags.DEFINE_integer("steps_per_execution", _DEFAULTS.steps_per_execution, "Train steps per call into the "
                     "compiled function (fewer launches for small models).")
# Bookkeeping.
flags.DEFINE_integer("checkpoint_every", _DEFAULTS.checkpoint_every, "Save a checkpoint every N steps.")
flags.DEFINE_integer("keep_checkpoints", _DEFAULTS.keep_checkpoints, "Checkpoints to keep.")
flags.DEFINE_integer("sample_every", _DEFAULTS.sample_every, "Render the sample grid every N steps.")
flags.DEFINE_integer("samples_per_class", _DEFAULTS.samples_per_class, "Grid columns (noise vectors).")
flags.DEFINE_integer("log_every", _DEFAULTS.log_every, "Write TensorBoard scalars every N steps.")
flags.DEFINE_integer("verbose", _DEFAULTS.verbose, "Keras fit verbosity: 0 silent, 1 progress bar, 2 a "
                     "line per epoch.")
# Sample mode.
flags.DEFINE_integer("label", _DEFAULTS.label, "--mode=sample: the class to draw; -1 for a grid of all.")
flags.DEFINE_integer("num_images", _DEFAULTS.num_images, "--mode=sample: images to write.")
flags.DEFINE_string("output_dir", _DEFAULTS.output_dir, "--mode=sample: where to write PNGs. "
                    "--mode=inspect_data: where to write the report and real_examples.png.")
# Export mode.
flags.DEFINE_string("export_dir", _DEFAULTS.export_dir, "--mode=export: TF Serving's model base directory; "
                    "the SavedModel goes to <export_dir>/<model_name>/<version>/.")
flags.DEFINE_string("model_name", _DEFAULTS.model_name, "--mode=export: the model's name (TF Serving's "
                    "--model_name and the directory under --export_dir).")
flags.DEFINE_integer("export_version", _DEFAULTS.export_version, "--mode=export: the version number; 0 "
                     "uses the checkpoint's training step. An existing version is never overwritten.")
flags.DEFINE_bool("export_next_free_version", _DEFAULTS.export_next_free_version, "--mode=export: if the "
                  "version exists, use the number above every existing version instead of failing.")
flags.DEFINE_integer("max_batch", _DEFAULTS.max_batch, "--mode=export: the most images one serving request "
                     "may ask for; larger requests fail with InvalidArgument.")
# Measuring (cgan_tf/evaluation).
flags.DEFINE_string("evaluator_dir", _DEFAULTS.evaluator_dir, "Cache of evaluator classifiers, one "
                    "subdirectory per data set; --mode=train_evaluator writes it, evaluation trains one on "
                    "demand if missing.")
flags.DEFINE_integer("evaluator_epochs", _DEFAULTS.evaluator_epochs, "Epochs of the evaluator classifier "
                     "on the real train split.")
flags.DEFINE_integer("eval_every", _DEFAULTS.eval_every, "During training: measure the generator every N "
                     "steps (TensorBoard eval/*, <run_dir>/metrics.jsonl); 0 turns it off.")
flags.DEFINE_integer("eval_samples", _DEFAULTS.eval_samples, "Images per measurement, equal per class "
                     "(generated, and real train images for the floor).")
flags.DEFINE_string("eval_metrics", _DEFAULTS.eval_metrics, "Comma-separated metrics from the registry in "
                    "cgan_tf/evaluation/metrics.py: conditional_accuracy, frechet, intra_frechet, kid, cas.")
flags.DEFINE_integer("eval_seed", _DEFAULTS.eval_seed, "Seed of the evaluation noise and subsets (the same "
                     "seed gives the same report).")
flags.DEFINE_string("eval_source", _DEFAULTS.eval_source, "--mode=eval: 'checkpoint' (the run's newest), "
                    "'best' (kept by --keep_best), or the directory of an exported SavedModel.")
flags.DEFINE_string("eval_report", _DEFAULTS.eval_report, "--mode=eval: where to write the JSON report "
                    "(default <run_dir>/eval_report.json).")
flags.DEFINE_integer("cas_epochs", _DEFAULTS.cas_epochs, "Epochs of the fresh classifier trained on "
                     "generated images for the classification accuracy score.")
flags.DEFINE_bool("keep_best", _DEFAULTS.keep_best, "With --eval_every: keep the generator checkpoint with "
                  "the lowest Fréchet distance in <run_dir>/best.")
# Watching a run, and what --mode=sample draws.
flags.DEFINE_float("progress_seconds", _DEFAULTS.progress_seconds, "Training: print a progress line (step of "
                   "total, elapsed and ETA, images/s, losses, the latest evaluation) every N seconds, as whole "
                   "lines that log messages cannot tear; 0: after every step. --verbose=0 prints none.")
flags.DEFINE_integer("interpolate", _DEFAULTS.interpolate, "--mode=sample: instead of independent images, N "
                     "images on a path between two noise vectors (spherical for normal noise, straight for "
                     "uniform), for --label or every class; writes each image, a strip and a GIF. 0: off.")
flags.DEFINE_float("truncation", _DEFAULTS.truncation, "--mode=sample: the truncation trick; noise components "
                   "with |z| > psi are redrawn, trading variety for more typical images (e.g. 1.0, 0.5). "
                   "0: off.")

FLAGS = flags.FLAGS


def config_from_flags(flag_values=FLAGS) -> Config:
  """Turns parsed flags into a validated, frozen `Config`.

  Raises:
    config.ConfigError: naming the first invalid flag.
  """
  values = {field.name: flag_values[field.name].value for field in dataclasses.fields(Config)
            if field.name in flag_values}
  values["run_dir"] = values.get("run_dir") or ""
  return config_lib.validate(Config(**values))


def run(config: Config):
  """Dispatches to the mode's entry point."""
  if config.mode == "train":
    from cgan_tf import train
    return train.train(config)
  if config.mode == "sample":
    from cgan_tf import generate
    return generate.sample(config)
  if config.mode == "export":
    from cgan_tf import export
    return export.export(config)
  if config.mode == "inspect_data":
    from cgan_tf import inspect_data
    return inspect_data.inspect(config)
  if config.mode in ("train_evaluator", "eval"):
    from cgan_tf.evaluation import report
    return report.train_evaluator(config) if config.mode == "train_evaluator" else report.evaluate(config)
  raise config_lib.ConfigError(f"--mode: {config.mode!r} is not implemented yet")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  from cgan_tf.data import DataError
  from cgan_tf.checkpoints import CheckpointError, NonFiniteError
  from cgan_tf.train import WorkerLostError
  try:
    run(config_from_flags())
  except (config_lib.ConfigError, DataError, CheckpointError, NonFiniteError) as e:
    logging.error("%s", e)
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  except WorkerLostError as e:
    logging.error("%s", e)
    print(f"error: {e}", file=sys.stderr)
    sys.exit(3)  # Unlike 2 (fix the command or the data), worth retrying as it is.


def entry_point():
  """The console script `cgan_tf`."""
  app.run(main)


if __name__ == "__main__":
  entry_point()
