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
