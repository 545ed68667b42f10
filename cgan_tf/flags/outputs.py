"""Outputs of a run: checkpoints, sample grids, TensorBoard logs, the console; --mode=sample."""

from absl import flags

from cgan_tf import config as config_lib

_DEFAULTS = config_lib.Config()


flags.DEFINE_integer("checkpoint_every", _DEFAULTS.checkpoint_every, "Save a checkpoint every N steps.")
flags.DEFINE_integer("keep_checkpoints", _DEFAULTS.keep_checkpoints, "Checkpoints to keep.")
flags.DEFINE_integer("sample_every", _DEFAULTS.sample_every, "Render the sample grid every N steps.")
flags.DEFINE_integer("samples_per_class", _DEFAULTS.samples_per_class, "Grid columns (noise vectors).")
flags.DEFINE_integer("log_every", _DEFAULTS.log_every, "Write TensorBoard scalars every N steps.")
flags.DEFINE_integer("verbose", _DEFAULTS.verbose, "0: no progress lines or closing summary; 1 or 2: a "
                     "progress line every --progress_seconds and the closing summary.")
flags.DEFINE_float("progress_seconds", _DEFAULTS.progress_seconds, "Training: print a progress line (step of "
                   "total, elapsed and ETA, images/s, losses, the latest evaluation) every N seconds, as whole "
                   "lines that log messages cannot tear; 0: after every step. --verbose=0 prints none.")
flags.DEFINE_integer("label", _DEFAULTS.label, "--mode=sample: the class to draw; -1 for a grid of all.")
flags.DEFINE_integer("num_images", _DEFAULTS.num_images, "--mode=sample: images to write.")
flags.DEFINE_string("output_dir", _DEFAULTS.output_dir, "--mode=sample: where to write PNGs. "
                    "--mode=inspect_data: where to write the report and real_examples.png.")
flags.DEFINE_integer("interpolate", _DEFAULTS.interpolate, "--mode=sample: instead of independent images, N "
                     "images on a path between two noise vectors (spherical for normal noise, straight for "
                     "uniform), for --label or every class; writes each image, a strip and a GIF. 0: off.")
flags.DEFINE_float("truncation", _DEFAULTS.truncation, "--mode=sample and --mode=eval: the truncation trick; noise "
                   "components with |z| > psi are redrawn, trading variety for more typical images (e.g. 1.0, "
                   "0.5); --mode=eval measures the generator with noise so truncated (the real-data floor is "
                   "unchanged). 0: off.")
