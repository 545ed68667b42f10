"""Command line: every flag is defined (here and in cgan_tf/flags/), turned once into a validated `Config`,
then dispatched.

  python -m cgan_tf.main --flagfile=configs/fmnist.cfg        # from a checkout, or from anywhere
  python -m cgan_tf.main --preset=fmnist --run_dir=runs/fmnist
  python -m cgan_tf.main --flagfile=configs/fmnist.cfg --mode=sample --label=8 --output_dir=/tmp/bags
"""

import os
import sys

# TensorFlow reads its C++ log level once, when it is imported; so this runs before any module that
# imports it (the flag groups below do, for the registries' names).
from cgan_tf import tf_logging

if "tensorflow" not in sys.modules:  # Already imported (a test, a notebook): its levels are set.
  tf_logging.quiet_tensorflow(sys.argv)

import dataclasses  # noqa: E402  pylint: disable=wrong-import-position
from typing import Callable, List, Sequence  # noqa: E402  pylint: disable=wrong-import-position

from absl import app  # noqa: E402  pylint: disable=wrong-import-position
from absl import flags  # noqa: E402  pylint: disable=wrong-import-position
from absl import logging  # noqa: E402  pylint: disable=wrong-import-position

from cgan_tf import demo  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf import export  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf import flags as flag_groups  # noqa: E402,F401  pylint: disable=wrong-import-position
from cgan_tf import generate  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf import train  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf import validation  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf.checkpoints import CheckpointError, NonFiniteError  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf.config import Config, ConfigError  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf.data import DataError  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf.data import inspection  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf.preemption import TrainingStopped  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf.evaluation import report  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf.registry import Registry  # noqa: E402  pylint: disable=wrong-import-position


@dataclasses.dataclass(frozen=True)
class Mode:
  """What --mode=<name> does: its entry point (config -> result) and its line of --help."""

  run: Callable[[Config], object]
  help: str


MODES = Registry("mode", {
    "train": Mode(train.train, "train or resume the run in --run_dir"),
    "sample": Mode(generate.sample, "write images of --label (or a grid of every class) from the run's "
                   "latest checkpoint to --output_dir"),
    "export": Mode(export.export, "write the generator as a TF Serving SavedModel to --export_dir"),
    "inspect_data": Mode(inspection.inspect, "report the data set (images per class, shape, pixel "
                         "statistics) and write real_examples.png to --output_dir (or --run_dir)"),
    "train_evaluator": Mode(report.train_evaluator, "train and cache the evaluator classifier"),
    "eval": Mode(report.evaluate, "measure a checkpoint or an export"),
    "demo": Mode(demo.launch, "a local web page over the export in --export_dir, on 127.0.0.1:--demo_port"),
})
# Errors that mean: fix the command or the data (exit status 2), each with a message naming the cause.
USAGE_ERRORS = (ConfigError, DataError, CheckpointError, NonFiniteError)
# Exit statuses besides 0 and absl's 1 for flags it cannot parse.
EXIT_USAGE = 2  # Fix the command or the data, then rerun.
EXIT_WORKER_LOST = 3  # A multi-worker job lost a worker; rerun every worker as it is.
# Stopped by SIGTERM or SIGINT after checkpointing the step it was at; rerun as it is to resume exactly.
# Not 143 or 130, the statuses of a process the signal itself ended: a wrapper or scheduler can tell a
# run that saved its step from one that was killed before it could.
EXIT_STOPPED = 4

_DEFAULTS = Config()
# The presets ship inside the package (cgan_tf/configs links to the checkout's configs/), so an installed
# cgan_tf has them too.
PRESETS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
PRESETS_PREFIX = "configs/"


def preset_names() -> List[str]:
  """The packaged presets, e.g. ['circle', 'fmnist', ...]."""
  if not os.path.isdir(PRESETS_DIR):
    return []
  return sorted(name[:-len(".cfg")] for name in os.listdir(PRESETS_DIR) if name.endswith(".cfg"))


# The run: what to do, and where.
flags.DEFINE_enum("mode", _DEFAULTS.mode, list(MODES),
                  " ".join(f"{name}: {mode.help}." for name, mode in MODES.items()))
flags.DEFINE_string("run_dir", None, "Directory for checkpoints, samples, logs and config.json. Running "
                    "again with the same directory resumes.")
flags.DEFINE_enum("preset", None, preset_names(),
                  "A packaged preset, read as --flagfile=configs/<preset>.cfg is (flags after it override it); "
                  "works from any directory and from an installed package.")
flags.DEFINE_enum("tf_log_level", None, tf_logging.LEVELS,
                  "TensorFlow's own start-up and runtime messages: " + tf_logging.LEVELS_HELP + " Default: "
                  "$TF_CPP_MIN_LOG_LEVEL if you set it, else quiet. Read from the command line itself, "
                  "before TensorFlow starts (not from a flagfile).")

FLAGS = flags.FLAGS
# List-valued flags whose Config field is the comma-separated text (as config.json records it).
_LIST_FIELDS = ("diffaugment", "eval_metrics")


def resolve_presets(argv: Sequence[str]) -> List[str]:
  """Points preset references in `argv` at the packaged presets, before absl reads the flagfiles.

  `--flagfile=configs/NAME.cfg` that does not exist relative to the working directory becomes the
  packaged copy's path (a checkout's own configs/ wins when run from the checkout), and
  `--preset=NAME` is followed by `--flagfile=<packaged NAME.cfg>` at the same position, so flags after it
  override it. An unknown preset name is left for absl, which names the choices.

  Args:
    argv: the command line, program name first.

  Returns:
    The command line with those references resolved.
  """
  names = preset_names()
  resolved = [argv[0]] if argv else []
  args = list(argv[1:])
  i = 0
  while i < len(args):
    arg = args[i]
    for flag in ("flagfile", "preset"):
      value = None
      if arg.startswith(f"--{flag}="):
        value = arg[len(f"--{flag}="):]
      elif arg == f"--{flag}" and i + 1 < len(args):
        value = args[i + 1]
        i += 1
      if value is None:
        continue
      if flag == "flagfile":
        relative = os.path.normpath(value).replace(os.sep, "/")
        name = relative[len(PRESETS_PREFIX):-len(".cfg")] if relative.startswith(PRESETS_PREFIX) else ""
        if not os.path.exists(value) and name in names:
          value = os.path.join(PRESETS_DIR, name + ".cfg")
        resolved.append(f"--flagfile={value}")
      else:
        resolved.append(f"--preset={value}")
        if value in names:
          resolved.append(f"--flagfile={os.path.join(PRESETS_DIR, value + '.cfg')}")
      break
    else:
      resolved.append(arg)
    i += 1
  return resolved


def config_from_flags(flag_values=FLAGS) -> Config:
  """Turns parsed flags into a validated, frozen `Config`.

  Raises:
    ConfigError: naming the first invalid flag.
  """
  values = {field.name: flag_values[field.name].value for field in dataclasses.fields(Config)
            if field.name in flag_values}
  values["run_dir"] = values.get("run_dir") or ""
  for name in _LIST_FIELDS:
    if isinstance(values.get(name), list):
      values[name] = ",".join(values[name])
  return validation.validate(Config(**values))


def run(config: Config):
  """Dispatches to the mode's entry point.

  Raises:
    ConfigError: for a mode that is not registered.
  """
  if config.mode not in MODES:
    raise ConfigError(f"--mode: got {config.mode!r}; allowed: {', '.join(MODES)}")
  return MODES[config.mode].run(config)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  try:
    run(config_from_flags())
  except USAGE_ERRORS as e:
    logging.error("%s", e)
    print(f"error: {e}", file=sys.stderr)
    sys.exit(EXIT_USAGE)
  except train.WorkerLostError as e:
    logging.error("%s", e)
    print(f"error: {e}", file=sys.stderr)
    sys.exit(EXIT_WORKER_LOST)  # Unlike EXIT_USAGE, worth retrying as it is.
  except TrainingStopped as e:
    print(e, file=sys.stderr, flush=True)
    sys.exit(EXIT_STOPPED)
  except KeyboardInterrupt:
    # Ctrl-C in a mode that trains nothing: its files are written atomically, so nothing is left half done.
    print(f"Interrupted (SIGINT) during --mode={FLAGS.mode}; nothing was left half-written", file=sys.stderr)
    sys.exit(130)


def entry_point():
  """The console script `cgan_tf`, and `python -m cgan_tf.main`."""
  app.run(main, argv=resolve_presets(sys.argv))


if __name__ == "__main__":
  entry_point()
