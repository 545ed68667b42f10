"""One writer per run directory: a training process holds an OS lock on the directory's lock file.

The lock is `flock` on `<run_dir>/train.lock` (`run_dir.LOCK_FILE`), taken before the process reads or
writes anything else there and held until training ends. The kernel releases it when the process dies,
however it dies, so a SIGKILLed trainer never leaves a stale lock for anyone to clean up. The holder
writes its pid, host and start time into the file, so a second trainer can say who is in the way.

Only training writes a run directory; the read-only modes (sample, eval, export) take no lock and read
only complete checkpoints (each checkpoint's index is written after its data, and restoring verifies
every tensor's checksum, falling back to an older checkpoint otherwise).
"""

import datetime
import errno
import fcntl
import json
import os
import platform
import sys

from absl import logging

from cgan_tf.config import ConfigError
from cgan_tf.run_dir import RunDir


class RunDirBusyError(ConfigError):
  """Another process is training in the run directory; the message names it."""


def holder_record() -> dict:
  """What the lock file says about this process."""
  started = datetime.datetime.now(datetime.timezone.utc).astimezone()
  # platform.node() is the host name socket.gethostname() gives, without a network module in the package.
  return dict(pid=os.getpid(), host=platform.node(), started=started.isoformat(timespec="seconds"),
              command=" ".join(sys.argv))


def describe_holder(text: str) -> str:
  """The lock file's record as words for a message: 'pid 1234 on host-a, started 2025-...'."""
  try:
    record = json.loads(text)
    return f"pid {record['pid']} on {record['host']}, started {record['started']}"
  except (ValueError, TypeError, KeyError):
    # Its holder truncates the file and then writes the record: a reader can meet it empty in between.
    return "a process whose record in the lock file is not written yet"


def _is_local(path: str) -> bool:
  return "://" not in path


class RunLock:
  """Holds the lock of `run_dir` inside a `with` block (the directory must exist).

  Raises (on entering):
    RunDirBusyError: another process holds it; names the directory, that process and the ways out.
    ConfigError: the lock file cannot be created (an unwritable directory).
  """

  def __init__(self, run_dir: str):
    self.run_dir = run_dir
    self.path = RunDir(run_dir).lock
    self.fd = None

  def __enter__(self) -> "RunLock":
    if not _is_local(self.path):
      logging.warning("--run_dir: %s is not on a local or network file system, so it cannot be locked; make sure "
                      "no other process trains in it", self.run_dir)
      return self
    try:
      fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
      raise ConfigError(f"--run_dir: {self.run_dir} is not writable ({e})") from e
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
        os.close(fd)
        # Some network file systems have no locks at all; training still works, unguarded.
        logging.warning("--run_dir: %s cannot be locked (%s); make sure no other process trains in it",
                        self.run_dir, e)
        return self
      holder = os.pread(fd, 4096, 0).decode("utf-8", "replace")
      os.close(fd)
      raise RunDirBusyError(
          f"--run_dir: {self.run_dir} is being trained by another process ({describe_holder(holder)}; "
          f"lock {self.path}); two trainers in one directory would interleave their checkpoints. Wait for "
          f"it to finish, or stop it (SIGTERM or Ctrl-C checkpoints the step it is at) and rerun, or use "
          f"another --run_dir") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(holder_record()) + "\n").encode("utf-8"), 0)
    self.fd = fd
    return self

  def __exit__(self, *exc_info) -> bool:
    if self.fd is not None:
      # Closing releases the lock; the file stays (see run_dir.LOCK_FILE).
      os.close(self.fd)
      self.fd = None
    return False
