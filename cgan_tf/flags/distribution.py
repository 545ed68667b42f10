"""Distribution and precision: tf.distribute strategy, replicas, mixed precision and XLA."""

from absl import flags

from cgan_tf import config as config_lib
from cgan_tf import distribute
from cgan_tf.flags.help import described

_DEFAULTS = config_lib.Config()


flags.DEFINE_enum("strategy", _DEFAULTS.strategy, list(distribute.STRATEGIES),
                  "tf.distribute strategy. " + described(distribute.STRATEGIES))
flags.DEFINE_integer("num_cpu_devices", _DEFAULTS.num_cpu_devices, "Split the CPU into this many logical "
                     "devices (multi-replica training without GPUs).")
flags.DEFINE_enum("precision", _DEFAULTS.precision, list(distribute.PRECISIONS),
                  described(distribute.PRECISIONS) + " The run's log says which auto chose, and why.")
flags.DEFINE_enum("xla", _DEFAULTS.xla, list(distribute.XLA_MODES),
                  described(distribute.XLA_MODES) + " Under several replicas a network with batch "
                  "normalization is not compiled: auto then turns XLA off (logged), on is refused.")
flags.DEFINE_integer("steps_per_execution", _DEFAULTS.steps_per_execution, "Train steps per call into the "
                     "compiled function (fewer launches for small models: 20 on a GPU). A length given in --epochs or "
                     "--train_images is rounded up to whole calls; --train_steps, --checkpoint_every, "
                     "--sample_every, --log_every and --eval_every must be multiples of it.")
