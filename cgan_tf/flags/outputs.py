"""Outputs of a run: checkpoints, sample grids, TensorBoard logs, the console; --mode=sample."""

from absl import flags

from cgan_tf import config as config_lib

_DEFAULTS = config_lib.Config()


flags.DEFINE_integer("checkpoint_every", _DEFAULTS.checkpoint_every, "Save a checkpoint every N steps.")
flags.DEFINE_integer("keep_checkpoints", _DEFAULTS.keep_checkpoints, "Checkpoints to keep.")
flags.DEFINE_integer("sample_every", _DEFAULTS.sample_every, "Render the sample grid every N steps.")
flags.DEFINE_integer("samples_per_class", _DEFAULTS.samples_per_class, "Grid columns (noise vectors).")
flags.DEFINE_integer("log_every", _DEFAULTS.log_every, "Write TensorBoard scalars every N steps.")
flags.DEFINE_integer("verbose", _DEFAULTS.verbose, "Keras fit verbosity: 0 silent, 1 progress bar, 2 a "
                     "line per epoch.")
flags.DEFINE_integer("label", _DEFAULTS.label, "--mode=sample: the class to draw; -1 for a grid of all.")
flags.DEFINE_integer("num_images", _DEFAULTS.num_images, "--mode=sample: images to write.")
flags.DEFINE_string("output_dir", _DEFAULTS.output_dir, "--mode=sample: where to write PNGs. "
                    "--mode=inspect_data: where to write the report and real_examples.png.")
