"""cgan_tf/run_dir.py: a run directory's config.json that cannot be read is named with its path and the way out."""

import os
import re

import pytest

from cgan_tf.config import Config, ConfigError
from cgan_tf.run_dir import RunDir


def test_a_new_directory_holds_no_configuration_and_a_saved_one_reads_back(tmp_path):
  layout = RunDir(str(tmp_path))
  assert layout.saved_config() is None
  config = Config(run_dir=str(tmp_path), image_shape=(28, 28, 1), num_classes=10)
  layout.save_config(config)
  assert layout.saved_config() == config


@pytest.mark.parametrize("content,reason", [
    (b"\xff\xfe{\x00", r"\('utf-8' codec can't decode byte 0xff"),
    (b'{"batch_size": 12', r"\(Expecting"),
    (b"[]", r"\(a configuration is a JSON object of fields, got list \[\]\)"),
    (b'"hello"', r"\(a configuration is a JSON object of fields, got str \"hello\"\)"),
    (b"12", r"\(a configuration is a JSON object of fields, got int 12\)"),
    (b'{"no_such_field": 1}', r"\(unknown configuration keys: no_such_field\)"),
], ids=["not UTF-8", "cut short", "a list", "a string", "a number", "an unknown key"])
def test_an_unreadable_config_names_the_file_the_problem_and_the_way_out(tmp_path, content, reason):
  layout = RunDir(str(tmp_path))
  with open(layout.config, "wb") as f:
    f.write(content)
  with pytest.raises(ConfigError) as refused:
    layout.saved_config()
  message = str(refused.value)
  assert message.startswith(f"--run_dir: {layout.config} is not a valid cgan_tf configuration ")
  assert re.search(reason, message), message
  assert message.endswith(f"restore it from a copy, or delete it to let the next run write it again (the "
                          f"checkpoints in {layout.checkpoints} stay)")
  assert "\n" not in message


def test_a_config_that_is_a_directory_is_named(tmp_path):
  layout = RunDir(str(tmp_path))
  os.makedirs(layout.config)
  with pytest.raises(ConfigError, match=r"^--run_dir: .*config.json is a directory, not the run's configuration "
                                        r"file; restore it from a copy, or delete it"):
    layout.saved_config()
