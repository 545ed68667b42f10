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
from typing import List, Sequence  # noqa: E402  pylint: disable=wrong-import-position

from absl import app  # noqa: E402  pylint: disable=wrong-import-position
from absl import flags  # noqa: E402  pylint: disable=wrong-import-position
from absl import logging  # noqa: E402  pylint: disable=wrong-import-position

from cgan_tf import config as config_lib  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf import flags as flag_groups  # noqa: E402,F401  pylint: disable=wrong-import-position
from cgan_tf.config import Config  # noqa: E402  pylint: disable=wrong-import-position

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
flags.DEFINE_enum("mode", _DEFAULTS.mode, config_lib.MODES,
                  "train: train or resume the run in --run_dir. sample: write images of --label (or a grid "
                  "of every class) from the run's latest checkpoint. export: write the generator as a TF "
                  "Serving SavedModel. inspect_data: report the data set (images per class, shape, pixel "
                  "statistics) and write real_examples.png to --output_dir (or --run_dir). train_evaluator: "
                  "train and cache the evaluator classifier. eval: measure a checkpoint or an export. demo: a "
                  "local web page over the export in --export_dir, on 127.0.0.1:--demo_port.")
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
    config.ConfigError: naming the first invalid flag.
  """
  values = {field.name: flag_values[field.name].value for field in dataclasses.fields(Config)
            if field.name in flag_values}
  values["run_dir"] = values.get("run_dir") or ""
  for name in _LIST_FIELDS:
    if isinstance(values.get(name), list):
      values[name] = ",".join(values[name])
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
    from cgan_tf.data import inspection
    return inspection.inspect(config)
  if config.mode == "demo":
    from cgan_tf import demo
    return demo.demo(config)
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
  """The console script `cgan_tf`, and `python -m cgan_tf.main`."""
  app.run(main, argv=resolve_presets(sys.argv))


if __name__ == "__main__":
  entry_point()
