"""Shared fixtures. The CPU is split into 4 logical devices before TensorFlow starts, so strategy tests
get real replicas; one-device code still runs on the first."""

import gzip
import json
import os
import socket
import struct
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_framework_config  # pylint: disable=g-direct-tensorflow-import

from cgan_tf.config import Config

NUM_LOGICAL_CPUS = 4
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * NUM_LOGICAL_CPUS)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def write_idx(path: str, array: np.ndarray, compress: bool = True) -> str:
  """Writes a uint8 array as an IDX file (MNIST format)."""
  magic = 0x0800 | array.ndim
  raw = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
  if compress:
    path += ".gz"
    with gzip.open(path, "wb") as f:
      f.write(raw)
  else:
    with open(path, "wb") as f:
      f.write(raw)
  return path


def make_idx_dataset(directory: str, num_train: int = 256, num_test: int = 128, num_classes: int = 10,
                     size: int = 28, seed: int = 0) -> str:
  """A small MNIST-format data set whose class k is a bright square at a class-specific place."""
  rng = np.random.default_rng(seed)
  os.makedirs(directory, exist_ok=True)
  for split, count in (("train", num_train), ("t10k", num_test)):
    labels = (np.arange(count) % num_classes).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(count, size, size), dtype=np.uint8)
    for i, label in enumerate(labels):
      row, col = divmod(int(label), 4)
      images[i, 2 + row * 6:6 + row * 6, 2 + col * 6:6 + col * 6] = 255
    write_idx(os.path.join(directory, f"{split}-images-idx3-ubyte"), images)
    write_idx(os.path.join(directory, f"{split}-labels-idx1-ubyte"), labels)
  return directory


@pytest.fixture
def idx_dir(tmp_path):
  return make_idx_dataset(str(tmp_path / "idx"))


@pytest.fixture
def smoke_config(tmp_path, idx_dir):
  """A factory for tiny training configurations on the synthetic IDX set, in a fresh run directory."""

  def make(**overrides) -> Config:
    values = dict(run_dir=str(tmp_path / "run"), dataset="synthetic", data_source="idx", data_dir=idx_dir,
                  batch_size=32, train_steps=4, checkpoint_every=2, sample_every=2, log_every=1,
                  samples_per_class=3, verbose=0, seed=7)
    values.update(overrides)
    return Config(**values)

  return make


@pytest.fixture
def policy():
  """Sets a global dtype policy for the test and restores float32 afterwards."""
  from cgan_tf import distribute  # pylint: disable=g-import-not-at-top
  yield distribute.set_precision
  distribute.set_precision("float32")


# --- Deterministic runs and their checkpoints (tests/test_checkpoints.py, tests/test_reliability.py) -------

# Keys of a training checkpoint that are bookkeeping, not training state.
BOOKKEEPING_KEYS = ("save_counter/.ATTRIBUTES/VARIABLE_VALUE", "_CHECKPOINTABLE_OBJECT_GRAPH")


def checkpoint_arrays(prefix: str) -> dict:
  """Every saved tensor of a training checkpoint by key, without the bookkeeping ones."""
  reader = tf.train.load_checkpoint(prefix)
  return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(prefix)
          if name not in BOOKKEEPING_KEYS}


def assert_same_checkpoint(prefix_a: str, prefix_b: str) -> None:
  a, b = checkpoint_arrays(prefix_a), checkpoint_arrays(prefix_b)
  assert sorted(a) == sorted(b)
  for name in a:  # --deterministic on CPU: bitwise equal, not merely close.
    np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def run_config(run_dir: str, idx_dir: str, **overrides) -> Config:
  """A small --deterministic run on the IDX set in `idx_dir`, checkpointing every 2 steps: two such runs
  that end at the same step end with bitwise equal checkpoints."""
  values = dict(run_dir=run_dir, dataset="synthetic", data_source="idx", data_dir=idx_dir, batch_size=16,
                train_steps=4, checkpoint_every=2, keep_checkpoints=3, sample_every=100, log_every=100,
                samples_per_class=1, verbose=0, seed=7, deterministic=True)
  values.update(overrides)
  return Config(**values)


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
  """A 4-step run (ckpt-2, ckpt-4) for tests to copy and then damage or resume, and a straight 6-step
  reference. Trained once for the session: every test copies or only reads them."""
  from cgan_tf import train  # pylint: disable=g-import-not-at-top
  base = tmp_path_factory.mktemp("runs")
  idx_dir = make_idx_dataset(str(base / "idx"))
  train.train(run_config(str(base / "four"), idx_dir, train_steps=4))
  train.train(run_config(str(base / "straight"), idx_dir, train_steps=6))
  return dict(base=base, idx_dir=idx_dir, four=str(base / "four"), straight=str(base / "straight"))


def ckpt(run_dir: str, step: int) -> str:
  return os.path.join(run_dir, "checkpoints", f"ckpt-{step}")


def overwrite(path, content=b"\x00garbage\xff" * 20):
  with open(path, "wb") as f:
    f.write(content)


# --- Two-worker jobs (tests/test_distribute.py, tests/test_reliability.py) --------------------------------

def free_ports(count: int) -> list:
  """`count` TCP ports on 127.0.0.1 that were free a moment ago, all different (each socket stays bound
  until every port is chosen)."""
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def start_workers(run_dir: str, idx_dir: str, train_steps: int, *, collective_timeout: int,
                  extra_flags=()) -> list:
  """Two `--strategy=multi_worker` processes of one job on the synthetic IDX set, worker 0 the chief.

  `collective_timeout` (seconds) bounds how long a worker waits for a dead or stopped peer;
  `extra_flags` are appended to the command line. Each process's stderr goes to a file beside
  `run_dir` (outside it, so the run directory holds only what the job wrote), named by its `log_path`:
  a pipe could fill and block the worker while a test polls instead of reading.
  """
  workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
  procs = []
  for index in range(2):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CGAN_TF_COLLECTIVE_TIMEOUT=str(collective_timeout),
               TF_CONFIG=json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
    cmd = [sys.executable, "-m", "cgan_tf.main", "--strategy=multi_worker", f"--run_dir={run_dir}",
           "--dataset=synthetic", "--data_source=idx", f"--data_dir={idx_dir}", "--batch_size=32",
           f"--train_steps={train_steps}", "--checkpoint_every=2", "--verbose=0", *extra_flags]
    log_path = f"{run_dir}.worker{index}.{time.monotonic_ns()}.log"
    with open(log_path, "w") as log:
      proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    proc.log_path = log_path
    procs.append(proc)
  return procs


def finish(procs, timeout: float = 300) -> list:
  """Waits for each process in turn; returns [(exit code, stderr)]. Any still running when this returns
  or raises (a timeout) is killed: no test leaves a worker behind."""
  outputs = []
  try:
    for proc in procs:
      proc.wait(timeout=timeout)
      with open(proc.log_path) as log:
        outputs.append((proc.returncode, log.read()))
  finally:
    for proc in procs:
      if proc.poll() is None:
        proc.kill()
  return outputs


@pytest.fixture(autouse=True)
def _no_leaked_op_determinism():
  """`--deterministic` turns TensorFlow's op determinism on for the whole process, and TF offers no public
  way back; a later test's unseeded random op (a served model's fresh noise) would then fail with "random
  ops must have a seed specified". Each test starts without it."""
  yield
  if tf_framework_config.is_op_determinism_enabled():
    tf_framework_config.disable_op_determinism()


def pytest_collection_modifyitems(session, config, items):
  """The combination matrix's cells go last: their processes train beside every other test, and the
  first cell's test waits for them only once the rest of the suite is done."""
  items.sort(key=lambda item: item.nodeid.startswith("tests/test_matrix.py::test_cell_trains_and_serves"))


def pytest_collection_finish(session):
  """Starts the combination matrix's training processes right after collection when any of its cells
  will run: they then train beside the rest of the suite instead of after it. A run that only lists
  the tests (--collect-only) runs none of them, so it starts nothing."""
  if session.config.option.collectonly:
    return
  if any(item.nodeid.startswith("tests/test_matrix.py::test_cell_trains_and_serves") for item in session.items):
    import tempfile  # pylint: disable=g-import-not-at-top
    import test_matrix  # pylint: disable=g-import-not-at-top
    test_matrix.STARTED = test_matrix.MatrixRun(tempfile.mkdtemp(prefix="cgan_tf_matrix_"))


def pytest_sessionfinish(session, exitstatus):
  import shutil  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  matrix = sys.modules.get("test_matrix")
  if matrix is not None and matrix.STARTED is not None:
    matrix.STARTED.stop()
    shutil.rmtree(matrix.STARTED.root, ignore_errors=True)
