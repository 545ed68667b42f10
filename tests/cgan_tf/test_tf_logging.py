"""TensorFlow's start-up messages are held back unless asked for; everything else on stderr passes."""

import os
import subprocess
import sys

import pytest

from cgan_tf import tf_logging
from tests.helpers.data import REPO_ROOT

BANNER = b"I0000 00:00:1796009211.438045   10373 port.cc:153] oneDNN custom operations are on."
CPU_GUARD = b"I0000 00:00:1796009211.335910    4644 cpu_feature_guard.cc:227] This TensorFlow binary is optimized"
CPU_GUARD_MORE = b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow."
CUDA_PROBE = b"E0000 00:00:1796009211.438045   10373 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR"
REMAPPER = b"E0000 00:00:1796009216.824116   10373 meta_optimizer.cc:967] remapper failed: INVALID_ARGUMENT"
NOTICE = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
FATAL = b"F0000 00:00:1796009216.824116   10373 op_kernel.cc:12] Check failed: 1 == 2"
OURS = [b"I1130 03:26:53.303822 139950498245504 train.py:162] Training on IDX files", b"error: --batch_size: 0",
        b"Traceback (most recent call last):", b"To enable the thing, pass --flag"]


def kept(lines, level):
  state = {}
  return [line for line in lines if tf_logging.keep_line(line, tf_logging._DROPPED[level].encode(), state)]


@pytest.mark.parametrize("level,expected", [
    ("quiet", OURS + [FATAL]),
    ("error", OURS + [CUDA_PROBE, REMAPPER, FATAL]),
    ("info", [NOTICE, BANNER, CPU_GUARD, CPU_GUARD_MORE, CUDA_PROBE, REMAPPER, FATAL] + OURS),
])
def test_only_tensorflow_records_below_the_level_are_dropped(level, expected):
  lines = [NOTICE, BANNER, CPU_GUARD, CPU_GUARD_MORE, CUDA_PROBE, REMAPPER, FATAL] + OURS
  assert sorted(kept(lines, level)) == sorted(expected)


@pytest.mark.parametrize("argv,environ,level", [
    ([], {}, "quiet"),
    ([], {"TF_CPP_MIN_LOG_LEVEL": "0"}, "info"),  # The user's own setting stands.
    ([], {"TF_CPP_MIN_LOG_LEVEL": "2"}, "error"),
    (["--tf_log_level=warning"], {"TF_CPP_MIN_LOG_LEVEL": "0"}, "warning"),  # The flag says it for this run.
    (["--tf_log_level", "info"], {}, "info"),
    (["--tf_log_level=loud"], {}, "quiet"),  # Left for absl to refuse, naming the choices.
])
def test_the_level_comes_from_the_flag_then_the_environment(argv, environ, level):
  assert tf_logging.resolve_level(["cgan_tf"] + argv, environ) == level


@pytest.mark.slow
def test_command_line_start_up_prints_no_tensorflow_records(tmp_path):
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT, os.environ.get("PYTHONPATH", "")]))
  env.pop("TF_CPP_MIN_LOG_LEVEL", None)
  result = subprocess.run([sys.executable, "-m", "cgan_tf.main", "--preset=smoke", "--only_check_args"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "0000 00:00:" not in result.stderr and "InitializeLog" not in result.stderr, result.stderr[-2000:]
  refused = subprocess.run([sys.executable, "-m", "cgan_tf.main", "--preset=smoke", "--batch_size=0"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
  assert refused.returncode == 2 and "error: --batch_size: must be a positive integer" in refused.stderr
