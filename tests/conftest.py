"""Shared fixtures. The CPU is split into 4 logical devices before TensorFlow starts, so strategy tests
get real replicas; one-device code still runs on the first."""

import logging as std_logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One thread for TensorFlow's ops in every process of the suite: the workers, the matrix's processes and the
# command lines the tests start all inherit it. The suite already runs a process per core and more beside
# them, so pools sized to every core in each of them only contend for the same cores; the tests' tiny ops
# gain nothing from splitting (docs/benchmarks.md, "The test suite": 1-3% less CPU time).
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

from absl import logging as absl_logging
import keras
import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_framework_config  # pylint: disable=g-direct-tensorflow-import

from cgan_tf import distribute
from cgan_tf.config import Config
from tests.helpers.collection import collect_less_often
from tests.helpers.data import make_idx_dataset
from tests.helpers.runs import QUIET, SMALL_NETWORKS, run_config

NUM_LOGICAL_CPUS = 4
# The combination matrix's cells (tests/e2e/test_matrix.py), by node id.
MATRIX_CELLS = "tests/e2e/test_matrix.py::test_cell_trains_and_serves"
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * NUM_LOGICAL_CPUS)
collect_less_often()


@pytest.fixture
def idx_dir(tmp_path):
  return make_idx_dataset(str(tmp_path / "idx"))


@pytest.fixture
def smoke_config(tmp_path, idx_dir):
  """A factory for tiny training configurations on the synthetic IDX set, in a fresh run directory."""

  def make(**overrides) -> Config:
    values = dict(run_dir=str(tmp_path / "run"), dataset="synthetic", data_source="idx", data_dir=idx_dir,
                  batch_size=32, train_steps=4, checkpoint_every=2, sample_every=2, log_every=1,
                  samples_per_class=3, verbose=0, seed=7, **QUIET, **SMALL_NETWORKS)
    values.update(overrides)
    return Config(**values)

  return make


@pytest.fixture
def policy():
  """Sets a global dtype policy for the test; `_no_leaked_dtype_policy` restores float32 afterwards."""
  return distribute.set_precision


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


class _Records(std_logging.Handler):
  def __init__(self):
    super().__init__()
    self.messages = []

  def emit(self, record):
    self.messages.append(record.getMessage())


@pytest.fixture
def absl_records():
  """The messages absl logs during the test (INFO and above), as a list that grows."""
  handler = _Records()
  logger = std_logging.getLogger("absl")
  verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.INFO)
  logger.addHandler(handler)
  yield handler.messages
  logger.removeHandler(handler)
  absl_logging.set_verbosity(verbosity)


@pytest.fixture(autouse=True)
def _no_leaked_op_determinism():
  """`--deterministic` turns TensorFlow's op determinism on for the whole process, and TF offers no public
  way back; a later test's unseeded random op (a served model's fresh noise) would then fail with "random
  ops must have a seed specified". Each test starts without it."""
  yield
  if tf_framework_config.is_op_determinism_enabled():
    tf_framework_config.disable_op_determinism()


@pytest.fixture(autouse=True)
def _no_leaked_dtype_policy():
  """A training sets the process-wide dtype policy to its precision and leaves it set; a later test that
  builds a layer without a dtype would compute in bfloat16 or float16 after a mixed-precision run (order
  dependent: only where pytest-xdist puts the two tests in one worker). Each test starts with float32."""
  yield
  if keras.config.dtype_policy().name != "float32":
    distribute.set_precision("float32")


def pytest_collection_modifyitems(session, config, items):
  """The combination matrix's cells go last: their processes train beside every other test, and the
  first cell's test waits for them only once the rest of the suite is done."""
  items.sort(key=lambda item: item.nodeid.startswith(MATRIX_CELLS))


# The matrix's processes are started once per session, by the process that runs no tests under
# pytest-xdist (its controller) or by the only process without it, as soon as the collection is known.
# Every process learns where they report from MATRIX_ROOT, set before the workers start.
MATRIX_ROOT = "CGAN_TF_TESTS_MATRIX_ROOT"
MATRIX_RUN = pytest.StashKey[object]()


def _matrix_cell_ids(nodeids) -> set:
  prefix = MATRIX_CELLS + "["
  return {nodeid[len(prefix):-1] for nodeid in nodeids if nodeid.startswith(prefix)}


def _start_matrix(config, nodeids) -> None:
  cell_ids = _matrix_cell_ids(nodeids)
  if MATRIX_RUN in config.stash or not cell_ids or config.option.collectonly:
    return
  from tests.e2e import test_matrix  # pylint: disable=g-import-not-at-top
  config.stash[MATRIX_RUN] = test_matrix.MatrixRun(os.environ[MATRIX_ROOT], cell_ids)


def pytest_configure(config):
  if not hasattr(config, "workerinput"):  # The controller, or the only process: the workers inherit it.
    import tempfile  # pylint: disable=g-import-not-at-top
    os.environ[MATRIX_ROOT] = os.path.join(tempfile.mkdtemp(prefix="cgan_tf_tests_"), "matrix")


def pytest_collection_finish(session):
  """Where the matrix's processes report; without pytest-xdist, starts them. A run that only lists the
  tests (--collect-only) starts nothing."""
  nodeids = [item.nodeid for item in session.items]
  if not _matrix_cell_ids(nodeids):
    return
  from tests.e2e import test_matrix  # pylint: disable=g-import-not-at-top
  test_matrix.ROOT = os.environ[MATRIX_ROOT]
  if not hasattr(session.config, "workerinput"):
    _start_matrix(session.config, nodeids)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
  """pytest-xdist's controller, as each worker reports its collection (the same in every worker): the
  first report starts the matrix's processes, before any test is handed out."""
  _start_matrix(node.config, ids)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
  """`-n auto`: a worker per core this process may run on (pytest-xdist counts physical cores where psutil
  is installed: one on a 2-vCPU machine). PYTEST_XDIST_AUTO_NUM_WORKERS still decides where it is set."""
  if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
    return None
  return len(os.sched_getaffinity(0))


def pytest_sessionfinish(session, exitstatus):
  import shutil  # pylint: disable=g-import-not-at-top
  run = session.config.stash.get(MATRIX_RUN, None)
  if run is not None:
    run.stop()
  if not hasattr(session.config, "workerinput"):
    shutil.rmtree(os.path.dirname(os.environ[MATRIX_ROOT]), ignore_errors=True)
