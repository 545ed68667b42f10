"""TensorFlow's own messages: quiet unless asked for, set up before TensorFlow is imported.

A plain start on a CPU machine prints a dozen lines that are not about the run: the oneDNN and CPU-feature
banners, CUDA probes that fail on a machine without a GPU, grappler's "remapper failed" for fused ops it
cannot rewrite, TFDS's notes on its cache. None of them changes what the run does; real failures still
reach the user as Python exceptions, with cgan_tf's own message.

TensorFlow 2.21's C++ side logs through Abseil without ever initialising it, so its records go straight to
file descriptor 2 and TF_CPP_MIN_LOG_LEVEL does not hold them back. They are recognisable (severity letter,
then the uninitialised logger's "0000 00:00:" date), so stderr is passed through a filter that drops those
below the chosen level and forwards everything else unchanged. The cost: if the process dies abruptly
(SIGKILL, a segfault, a C++ check failure), the last lines may not get through, so when chasing such a
crash use --tf_log_level=info, which leaves stderr alone.
"""

import atexit
import logging
import os
import re
import sys
import threading
from typing import Optional, Sequence

from absl import logging as absl_logging

LEVELS = ("quiet", "error", "warning", "info")
LEVELS_HELP = ("quiet: none of them; error: TensorFlow's C++ errors too (failed CUDA probes, grappler's "
               "'remapper failed'); warning: and its warnings; info: everything (the oneDNN and CPU-feature "
               "banners).")
ENV = "TF_CPP_MIN_LOG_LEVEL"
_CPP_LEVELS = {"quiet": "3", "error": "2", "warning": "1", "info": "0"}
# The C++ severities each level drops (FATAL is never dropped).
_DROPPED = {"quiet": "IWE", "error": "IW", "warning": "I", "info": ""}
_PYTHON_LEVELS = {"quiet": logging.ERROR, "error": logging.ERROR, "warning": logging.WARNING,
                  "info": logging.NOTSET}
_FLAG = "--tf_log_level"
# A C++ record from an uninitialised Abseil logger: "I0000 00:00:1796009211.438045   10373 port.cc:153] ...".
_CPP_RECORD = re.compile(rb"^([IWEF])0000 00:00:\d+\.\d+ +\d+ [\w.\-]+:\d+\] ")
_UNINITIALISED_NOTICE = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# cpu_feature_guard's record continues on a second line.
_CONTINUATION = b"To enable the following instructions:"


def level_from_argv(argv: Sequence[str]) -> Optional[str]:
  """The last --tf_log_level=LEVEL (or --tf_log_level LEVEL) on the command line, or None."""
  level = None
  for i, arg in enumerate(argv):
    if arg.startswith(_FLAG + "="):
      level = arg[len(_FLAG) + 1:]
    elif arg == _FLAG and i + 1 < len(argv):
      level = argv[i + 1]
  return level


def resolve_level(argv: Sequence[str], environ=os.environ) -> str:
  """--tf_log_level on the command line, else the user's own TF_CPP_MIN_LOG_LEVEL, else quiet."""
  level = level_from_argv(argv)
  if level in LEVELS:
    return level
  by_value = {value: name for name, value in _CPP_LEVELS.items()}
  return by_value.get(environ.get(ENV, "").strip(), "quiet")


def quiet_tensorflow(argv: Sequence[str]) -> str:
  """Holds back TensorFlow's messages below the level from `resolve_level`. Call before importing TF.

  Args:
    argv: the command line (absl has not parsed it yet; an invalid level is left for absl to refuse).

  Returns:
    The level in effect, one of LEVELS.
  """
  level = resolve_level(argv)
  os.environ[ENV] = _CPP_LEVELS[level]
  logging.getLogger("tensorflow").setLevel(_PYTHON_LEVELS[level])
  if level != "info":
    # absl's own logger object (creating "absl" here first would make it a plain Logger, which reports
    # every record as coming from the logging module).
    absl_logging.get_absl_logger().addFilter(_LibraryFilter(_PYTHON_LEVELS[level]))
    _filter_stderr(_DROPPED[level].encode())
  return level


def keep_line(line: bytes, dropped: bytes, state: dict) -> bool:
  """Whether one line of stderr passes: False for TensorFlow C++ records of a dropped severity.

  Args:
    line: the line, without its newline.
    dropped: the severity letters to drop, e.g. b"IW".
    state: carried from line to line (whether the last line was a dropped record that continues).
  """
  continues, state["continues"] = state.get("continues", False), False
  if continues and line.startswith(_CONTINUATION):
    return False
  if line.startswith(_UNINITIALISED_NOTICE):
    return not dropped
  match = _CPP_RECORD.match(line)
  if match and match.group(1) in dropped:
    state["continues"] = b"cpu_feature_guard" in line
    return False
  return True


def _filter_stderr(dropped: bytes) -> None:
  """Routes file descriptor 2 through a thread that drops TensorFlow's C++ records of `dropped` severity."""
  try:
    sys.stderr.flush()
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
  except OSError:
    return  # No usable stderr (a daemon): nothing to keep quiet.

  def forward():
    state, pending = {}, b""
    while True:
      chunk = os.read(read_end, 65536)
      if not chunk:
        break
      lines = (pending + chunk).split(b"\n")
      pending = lines.pop()
      out = b"".join(line + b"\n" for line in lines if keep_line(line, dropped, state))
      # A partial line that cannot be a record is passed on now (a prompt, a progress display).
      if pending and pending[:1] not in (b"I", b"W", b"E", b"F", b"T"):
        out, pending = out + pending, b""
      if out:
        os.write(original, out)
    if pending and keep_line(pending, dropped, state):
      os.write(original, pending)

  thread = threading.Thread(target=forward, name="tf_stderr_filter", daemon=True)
  thread.start()

  def restore():
    try:
      sys.stderr.flush()
    except (OSError, ValueError):
      pass
    os.dup2(original, 2)  # Closes the pipe's write end, so the thread reads the rest and stops.
    thread.join(timeout=2)

  atexit.register(restore)


class _LibraryFilter(logging.Filter):
  """Drops the libraries' absl log records below a level (TFDS's cache notes, TensorFlow's checkpoint
  timings); cgan_tf's own records all pass."""

  _PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

  def __init__(self, level: int):
    super().__init__()
    self.level = level

  def filter(self, record: logging.LogRecord) -> bool:
    return record.levelno >= self.level or record.pathname.startswith(self._PACKAGE_DIR)
