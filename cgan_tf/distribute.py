"""The strategy factory, and the precision and XLA choices that depend on it and on the hardware."""

import contextlib
import json
import os
import tempfile
from typing import FrozenSet, Tuple

from absl import logging
import keras
import tensorflow as tf

from cgan_tf.config import Config, ConfigError
from cgan_tf.registry import Registry

STRATEGIES = Registry("strategy", {
    "auto": "MirroredStrategy over all GPUs when there are several (or over --num_cpu_devices > 1 logical "
            "CPU devices), else one device",
    "default": "TensorFlow's default strategy (no distribution)",
    "one_device": "OneDeviceStrategy on the first GPU, else the CPU",
    "mirrored": "MirroredStrategy over every GPU, or over --num_cpu_devices logical CPU devices",
    "multi_worker": "MultiWorkerMirroredStrategy over the machines TF_CONFIG names",
    "tpu": "TPUStrategy over the TPU this machine is attached to",
})
PRECISIONS = Registry("precision", {
    "auto": "mixed_float16 on a GPU, mixed_bfloat16 on a TPU and on a CPU with bfloat16 instructions "
            "(AVX-512 BF16 or AMX), else float32",
    "float32": "float32 throughout",
    "mixed_float16": "float16 compute, float32 weights, a loss scale per network",
    "mixed_bfloat16": "bfloat16 compute, float32 weights",
    "float64": "float64 throughout, for numerical checks",
})
XLA_MODES = Registry("XLA mode", {  # Each resolves to one of the plans below.
    "auto": "compile on a GPU, not on a CPU",
    "on": "compile the whole step on one replica, each replica's gradient computation under several",
    "off": "no XLA",
})
# CPU flags (as /proc/cpuinfo names them) of instructions that compute in bfloat16. oneDNN runs mixed
# bfloat16 faster than float32 only with them: without, each bfloat16 op is converted to float32 and back.
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
CPUINFO = "/proc/cpuinfo"
# XLA plans: compile the whole train step, only each replica's forward/backward pass, or nothing.
XLA_WHOLE_STEP = "whole_step"
XLA_PER_REPLICA = "per_replica"
XLA_OFF = "off"


def configure_cpu_devices(num_cpu_devices: int) -> None:
  """Splits the CPU into logical devices so MirroredStrategy has real replicas without GPUs.

  Must run before TensorFlow initialises its devices (before the first op); a process that already has
  at least that many logical CPU devices (e.g. a test session) keeps them.
  """
  if num_cpu_devices <= 1:
    return
  cpu = tf.config.list_physical_devices("CPU")[0]
  current = tf.config.get_logical_device_configuration(cpu) or []
  if len(current) >= num_cpu_devices:
    return
  try:
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * num_cpu_devices)
  except RuntimeError as e:
    raise ConfigError(f"--num_cpu_devices: TensorFlow was already initialised with "
                      f"{max(len(current), 1)} CPU device(s); cannot make {num_cpu_devices} in this "
                      f"process") from e


def create_strategy(config: Config) -> tf.distribute.Strategy:
  """Returns the tf.distribute strategy that `config.strategy` names.

  auto: MirroredStrategy over all GPUs when more than one is visible, or over the first
  --num_cpu_devices logical CPU devices when that is > 1; otherwise OneDeviceStrategy on the GPU or CPU.

  Raises:
    ConfigError: if the strategy cannot be built on this machine (e.g. multi_worker without TF_CONFIG).
  """
  name = config.strategy
  if name == "multi_worker":
    # Before anything lists devices: that initialises the runtime, and collective ops must be
    # configured before it ("Collective ops must be configured at program startup").
    if "TF_CONFIG" not in os.environ:
      raise ConfigError("--strategy=multi_worker: the TF_CONFIG environment variable is not set "
                        "(see README: 'Two workers on one machine')")
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=config_timeout_seconds())
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
  configure_cpu_devices(config.num_cpu_devices)
  gpus = tf.config.list_logical_devices("GPU")
  cpus = tf.config.list_logical_devices("CPU")
  if name == "auto":
    name = "mirrored" if len(gpus) > 1 or (not gpus and config.num_cpu_devices > 1) else "one_device"
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "one_device":
    return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else cpus[0].name)
  if name == "mirrored":
    devices = [d.name for d in (gpus or cpus[:max(config.num_cpu_devices, 1)])]
    return tf.distribute.MirroredStrategy(devices)
  if name == "tpu":
    return _tpu_strategy()
  raise ConfigError(f"--strategy: unknown strategy {config.strategy!r}")


def _tpu_strategy() -> tf.distribute.TPUStrategy:
  """TPUStrategy over the TPU this machine is attached to (Cloud TPU VM, or TPU_NAME set).

  Raises:
    ConfigError: when no TPU can be found or reached.
  """
  try:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
  except (ValueError, RuntimeError, tf.errors.OpError) as e:
    raise ConfigError(f"--strategy=tpu: no TPU found on this machine ({type(e).__name__}: "
                      f"{str(e).splitlines()[0] if str(e) else ''}); run on a TPU VM or set TPU_NAME, or use "
                      f"--strategy=auto") from e
  return tf.distribute.TPUStrategy(resolver)


def config_timeout_seconds() -> float:
  """Bound on collective ops, so a dead worker fails the job instead of hanging it forever."""
  return float(os.environ.get("CGAN_TF_COLLECTIVE_TIMEOUT", "300"))


def cpu_flags(cpuinfo: str = CPUINFO) -> FrozenSet[str]:
  """The CPU's feature flags as the kernel lists them (empty where there is no /proc/cpuinfo)."""
  try:
    with open(cpuinfo) as f:
      for line in f:
        if line.startswith("flags"):
          return frozenset(line.split(":", 1)[1].split())
  except OSError:
    pass
  return frozenset()


def cpu_name(cpuinfo: str = CPUINFO) -> str:
  """The CPU's model name, for logs and benchmark headers ("unknown CPU" where it cannot be read)."""
  try:
    with open(cpuinfo) as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return "unknown CPU"


def choose_precision(config: Config, cpuinfo: str = CPUINFO) -> Tuple[str, str]:
  """The precision to train in, and why, for `config.precision` on this machine.

  auto: mixed_bfloat16 under --strategy=tpu (TPUs' matrix units compute in bfloat16); mixed_float16 when a
  GPU is visible; on a CPU, mixed_bfloat16 only where the CPU has bfloat16 instructions (AVX-512 BF16 or
  AMX), float32 elsewhere, where bfloat16 runs several times slower.

  Returns:
    (precision, reason): one of PRECISIONS other than auto, and a phrase for the log.
  """
  if config.precision != "auto":
    return config.precision, f"--precision={config.precision}"
  if config.strategy == "tpu":
    return "mixed_bfloat16", "auto on a TPU"
  if tf.config.list_logical_devices("GPU"):
    return "mixed_float16", "auto on a GPU"
  found = sorted(set(BFLOAT16_CPU_FLAGS) & cpu_flags(cpuinfo))
  if found:
    return "mixed_bfloat16", f"auto on a CPU with bfloat16 instructions ({', '.join(found)})"
  return "float32", (f"auto on a CPU without bfloat16 instructions (none of {', '.join(BFLOAT16_CPU_FLAGS)}), "
                     f"where bfloat16 would be slower")


def resolve_precision(config: Config, cpuinfo: str = CPUINFO) -> str:
  """The precision `choose_precision` picks, without its reason."""
  return choose_precision(config, cpuinfo)[0]


def set_precision(policy: str) -> None:
  """Sets Keras's process-wide dtype policy, under which networks are built (training does this once)."""
  keras.mixed_precision.set_dtype_policy(policy)


@contextlib.contextmanager
def precision_scope(policy: str):
  """Builds under `policy` inside the block and restores the process's policy after it."""
  previous = keras.mixed_precision.dtype_policy()
  set_precision(policy)
  try:
    yield
  finally:
    keras.mixed_precision.set_dtype_policy(previous)


def resolve_xla(config: Config, strategy: tf.distribute.Strategy) -> str:
  """Chooses how to use XLA for this strategy and says why in the log.

  Keras refuses to compile a whole step under tf.distribute (and XLA under MirroredStrategy fails to
  reach the other devices' variables), so under several replicas only each replica's gradient computation is compiled; the cross-replica gradient reduction
  and the optimizer updates stay outside XLA.

  Raises:
    ConfigError: for --xla=on where XLA cannot be used (TPU strategies compile by themselves).
  """
  replicas = strategy.num_replicas_in_sync
  on_gpu = bool(tf.config.list_logical_devices("GPU"))
  if config.xla == "off":
    plan = XLA_OFF
  elif config.xla == "on":
    if isinstance(strategy, tf.distribute.TPUStrategy):
      raise ConfigError("--xla=on: TPUStrategy always compiles with XLA; use --xla=auto")
    plan = XLA_WHOLE_STEP if replicas == 1 and not _is_multi_worker(strategy) else XLA_PER_REPLICA
  else:  # auto: XLA pays off on GPUs; on CPUs its compile time rarely comes back.
    if not on_gpu:
      plan = XLA_OFF
    else:
      plan = XLA_WHOLE_STEP if replicas == 1 and not _is_multi_worker(strategy) else XLA_PER_REPLICA
  logging.info("XLA: --xla=%s with %d replica(s) on %s -> %s", config.xla, replicas,
               "GPU" if on_gpu else "CPU", plan)
  return plan


def _is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
  return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """True for the one worker that writes checkpoints, samples, summaries and exports."""
  if not _is_multi_worker(strategy):
    return True
  resolver = strategy.cluster_resolver
  task_type, task_id = resolver.task_type, resolver.task_id
  if task_type == "chief" or task_type is None:
    return True
  cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
  return task_type == "worker" and task_id == 0 and "chief" not in cluster


def writable_dir(strategy: tf.distribute.Strategy, run_dir: str) -> str:
  """run_dir on the chief; a throwaway directory on other workers (TF's multi-worker guide)."""
  if is_chief(strategy):
    return run_dir
  return tempfile.mkdtemp(prefix="cgan_tf_worker_")
