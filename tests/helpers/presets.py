"""Reading a preset through the real flag definitions, as the command line does."""

import os

from absl import flags
from absl.testing import flagsaver

from cgan_tf import main
from tests.helpers.data import REPO_ROOT

FLAGS = flags.FLAGS


def parse_preset(preset, *overrides):
  with flagsaver.flagsaver():
    FLAGS.unparse_flags()
    FLAGS(["cgan_tf", f"--flagfile={os.path.join(REPO_ROOT, preset)}", *overrides])
    try:
      return main.config_from_flags()
    finally:
      FLAGS.unparse_flags()


def parse_command(*argv):
  """The validated `Config` a `python -m cgan_tf.main <argv>` command line gives, through the real flags."""
  with flagsaver.flagsaver():
    FLAGS.unparse_flags()
    FLAGS(["cgan_tf", *argv])
    try:
      return main.config_from_flags()
    finally:
      FLAGS.unparse_flags()
