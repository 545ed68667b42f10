"""Distribution and precision: tf.distribute strategy, replicas, mixed precision and XLA."""

from absl import flags

from cgan_tf import config as config_lib
from cgan_tf import distribute

_DEFAULTS = config_lib.Config()


flags.DEFINE_enum("strategy", _DEFAULTS.strategy, distribute.STRATEGIES,
                  "tf.distribute strategy. auto: mirrored over several GPUs (or --num_cpu_devices > 1), "
                  "else one device. multi_worker reads TF_CONFIG.")
flags.DEFINE_integer("num_cpu_devices", _DEFAULTS.num_cpu_devices, "Split the CPU into this many logical "
                     "devices (multi-replica training without GPUs).")
flags.DEFINE_enum("precision", _DEFAULTS.precision, distribute.PRECISIONS,
                  "auto: mixed_float16 on GPU, float32 on CPU. float64: for numerical checks (the replica "
                  "invariance tests).")
flags.DEFINE_enum("xla", _DEFAULTS.xla, distribute.XLA_MODES,
                  "auto: compile on GPU. on: compile the whole step on one replica, each replica's "
                  "gradient computation under several.")
flags.DEFINE_integer("steps_per_execution", _DEFAULTS.steps_per_execution, "Train steps per call into the "
                     "compiled function (fewer launches for small models).")
