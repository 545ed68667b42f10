"""Writing files so that a reader, or a crash, never meets half of one: a temporary name, then a rename."""

import contextlib
import json
import os
import uuid

import tensorflow as tf


def temporary_path(path: str) -> str:
  """A hidden name beside `path`, unique to this call, so concurrent writers never share one."""
  directory, name = os.path.split(path)
  return os.path.join(directory, f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}-{name}")


@contextlib.contextmanager
def atomic_path(path: str):
  """Yields a temporary path to write (a file, or a directory such as a .keras model) that is renamed to
  `path` when the block ends without an error, replacing what was there.

  Rename is atomic within one file system (GCS and other object stores copy instead), so readers see the
  old file or the new one, never a part.
  """
  tmp = temporary_path(path)
  yield tmp
  tf.io.gfile.rename(tmp, path, overwrite=True)


def write_atomically(path: str, data) -> None:
  """Writes `data` (str or bytes) to `path` atomically.

  Args:
    path: the file to (re)write; its directory must exist.
    data: the whole content; bytes are written as they are, str as text.
  """
  with atomic_path(path) as tmp:
    with tf.io.gfile.GFile(tmp, "wb" if isinstance(data, bytes) else "w") as f:
      f.write(data)


def write_json_atomically(path: str, value, **dump_options) -> None:
  """Writes `value` as JSON to `path` atomically; `dump_options` go to `json.dumps` (e.g. indent=2)."""
  write_atomically(path, json.dumps(value, **dump_options))


def repair_jsonl(path: str):
  """Mends a JSON-lines file whose last line a kill cut short, before anything is appended to it.

  Each record is appended as one write ending in a newline, so only the last line can be cut. A cut line
  that still parses (only its newline is missing) gets its newline; one that does not is dropped, or the
  next record would be appended to it and make that line unreadable.

  Args:
    path: the file; one that does not exist is left alone.

  Returns:
    None when the file was whole (or absent); else what was done, for a warning naming the file.
  """
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path, "rb") as f:
    data = f.read()
  if not data or data.endswith(b"\n"):
    return None
  whole, tail = data[:data.rfind(b"\n") + 1], data[data.rfind(b"\n") + 1:]
  try:
    complete = isinstance(json.loads(tail.decode("utf-8")), dict)
  except (UnicodeDecodeError, ValueError):
    complete = False
  if complete:
    write_atomically(path, data + b"\n")
    return "its last record lacked the newline (an interrupted write); added it"
  write_atomically(path, whole)
  shown = tail[:60].decode("utf-8", "replace")
  return (f"dropped its last line, cut short by an interrupted write ({len(tail)} bytes: "
          f"{shown!r}{'...' if len(tail) > 60 else ''})")
