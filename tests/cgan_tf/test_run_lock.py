"""cgan_tf/run_lock.py: one training process per run directory; the lock names its holder and dies with it."""

import json
import os
import platform
import signal
import subprocess
import sys

import pytest

from cgan_tf import run_lock
from cgan_tf.config import ConfigError
from cgan_tf.run_dir import RunDir
from tests.helpers.data import REPO_ROOT


def test_the_holder_is_named_and_the_lock_is_free_again_once_released(tmp_path):
  run_dir = str(tmp_path)
  with run_lock.RunLock(run_dir):
    with open(RunDir(run_dir).lock) as f:
      record = json.load(f)
    assert record["pid"] == os.getpid() and record["host"] == platform.node() and record["started"]
    # A second holder, even in this process (flock locks belong to each opened file), is turned away.
    with pytest.raises(run_lock.RunDirBusyError) as busy:
      run_lock.RunLock(run_dir).__enter__()
    assert str(busy.value) == (
        f"--run_dir: {run_dir} is being trained by another process (pid {os.getpid()} on {record['host']}, "
        f"started {record['started']}; lock {RunDir(run_dir).lock}); two trainers in one directory would "
        f"interleave their checkpoints. Wait for it to finish, or stop it (SIGTERM or Ctrl-C checkpoints the "
        f"step it is at) and rerun, or use another --run_dir")
    assert isinstance(busy.value, ConfigError)  # The command line exits 2 for it.
  with run_lock.RunLock(run_dir):  # Released: taken again at once.
    pass
  assert os.path.exists(RunDir(run_dir).lock)  # Never deleted (a deletion would race the next trainer).


def test_a_sigkilled_holder_leaves_no_stale_lock(tmp_path):
  run_dir = str(tmp_path)
  holder = subprocess.Popen([sys.executable, "-m", "tests.helpers.hold_run_lock", RunDir(run_dir).lock],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline() == "held\n"
    with pytest.raises(run_lock.RunDirBusyError, match=rf"another process \(pid {holder.pid} on elsewhere, "
                                                        rf"started today; "):
      with run_lock.RunLock(run_dir):
        pass
  finally:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
  with run_lock.RunLock(run_dir):  # The kernel released it with the process: no cleanup needed.
    with open(RunDir(run_dir).lock) as f:
      assert json.load(f)["pid"] == os.getpid()


def test_a_half_written_record_still_refuses(tmp_path):
  assert run_lock.describe_holder("") == "a process whose record in the lock file is not written yet"
  assert run_lock.describe_holder('{"pid": 3') == "a process whose record in the lock file is not written yet"


def test_an_unwritable_directory_is_named(tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("not a directory")
  with pytest.raises(ConfigError, match=r"^--run_dir: .*a_file is not writable"):
    with run_lock.RunLock(str(blocker)):
      pass
