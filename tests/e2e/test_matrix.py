"""Every option meets every other: precision x replicas x XLA x network x loss family.

The full product (3 x 2 x 2 x 8 x 4 = 384 trainings) is too slow for CI, so the cells cover every *pair*
of factor levels (pairwise, or all-pairs, coverage): each precision meets each network, each loss family,
each replica count and each XLA mode at least once, and so on for every two factors. A layer that
assumes float32 under a mixed policy, or a penalty that breaks under two replicas, is a failing pair.

Each cell trains 2 steps (8 where a level says why it needs more) of a tiny configuration in a fresh
process (tests/helpers/matrix_run.py), then asserts:
the step ran, every loss is finite, every trainable variable of G and D moved (except those whose
gradient is exactly zero by construction: biases that batch normalization cancels, and under a hinge or
Wasserstein loss the biases that shift every logit alike), G's and D's outputs are float32, and the run's
export loads and serves. A new network, loss, penalty or precision joins by adding a level below.
"""

import itertools
import json
import math
import os
import subprocess
import sys
import time

import pytest

from tests.helpers.data import REPO_ROOT, make_idx_dataset

pytestmark = pytest.mark.slow

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
REPLICAS = (1, 2)
XLA = ("off", "on")
# How the generator's image layer is computed (--image_conv); only networks whose generator has one use it.
IMAGE_CONVS = ("standard", "depthwise")
IMAGE_CONV_NETWORKS = ("cdcgan_channel", "cdcgan_concat_mbstd", "cdcgan_cbn_projection", "cdcgan_projection",
                       "resnet", "unconditional")
# Network variants: every registered image network, every conditioning of the reference network, and the
# discriminator's minibatch standard deviation on both networks that have it.
NETWORKS = {
    "cdcgan_channel": dict(network="cdcgan", g_conditioning="channel", d_conditioning="channel"),
    "cdcgan_concat_mbstd": dict(network="cdcgan", g_conditioning="concat", d_conditioning="concat",
                                d_minibatch_std=4),
    "cdcgan_cbn_projection": dict(network="cdcgan", g_conditioning="cbn", d_conditioning="projection"),
    "cdcgan_projection": dict(network="cdcgan", g_conditioning="channel", d_conditioning="projection"),
    "keras_book": dict(network="keras_book", d_conditioning="auto"),
    "mlp": dict(network="mlp", d_conditioning="auto"),
    # TINY's widths apply. Eight steps: D sums its features over space, so each position passes on the
    # logit's whole weight and D's bias and first-layer gradients reach 15-30; scaled by mixed_float16's
    # initial loss scale 2^15 they overflow float16, and the first four or five updates of D are skipped
    # while the scale falls to 2^10-2^11 (as dynamic loss scaling is meant to). Two steps would leave D
    # untrained.
    "resnet": dict(network="resnet", train_steps=8, d_minibatch_std=4),
    "unconditional": dict(network="cdcgan", unconditional=True),
}
# Loss and penalty families; together they switch on every loss, penalty and training option.
FAMILIES = {
    # The mode-seeking penalty (_ms) in both update schemes. Eight steps: a freshly initialized G's images
    # hardly differ (distance ratio ~0.015), so the penalty's gradient is ~1/ratio^2 times larger than the
    # loss's; under mixed_float16's initial loss scale 2^15 it overflows float16, and G's first five or six
    # updates are skipped while the scale falls to 2^9-2^10. Two steps would leave G untrained.
    "nonsaturating_ema_diffaugment_ms": dict(loss="nonsaturating", ema_decay=0.9, ema_start=1, d_dropout=0.4,
                                             noise="uniform", diffaugment="color,translation,cutout",
                                             lr_schedule="cosine", mode_seeking=1.0, train_steps=8),
    "hinge_spectral_r1_simultaneous_ms": dict(loss="hinge", spectral_norm=True, r1_gamma=1.0, r1_every=2,
                                              update_scheme="simultaneous", mode_seeking=0.5, train_steps=8),
    "wasserstein_gp_dsteps": dict(loss="wasserstein", gp_weight=10.0, d_steps=2),
    "least_squares": dict(loss="least_squares"),
}
# Losses that weigh real and fake alike and are linear in the logit (hinge: inside its margin, as in a
# few steps from initialization): D's biases that only shift every logit get no gradient from them.
BALANCED_LINEAR_LOSSES = ("hinge", "wasserstein")
# Networks with batch normalization cannot compile per replica (its statistics are an all-reduce);
# --xla=on with several replicas is refused for them (tested in test_distribute.py).
BATCH_NORM_NETWORKS = ("cdcgan_cbn_projection", "keras_book", "resnet")
FACTORS = dict(precision=PRECISIONS, replicas=REPLICAS, xla=XLA, network=tuple(NETWORKS), family=tuple(FAMILIES),
               image_conv=IMAGE_CONVS)
# No measuring: a cell's precision is its own factor, and an evaluator would dwarf its two steps.
TINY = dict(batch_size=8, train_steps=2, checkpoint_every=2, sample_every=2, log_every=1, samples_per_class=1,
            g_filters=8, d_filters=8, latent_dim=16, embedding_dim=4, eval_every=0, keep_best=False)


def allowed(cell: dict) -> bool:
  if cell.get("image_conv") == "depthwise" and cell.get("network", IMAGE_CONV_NETWORKS[0]) not in IMAGE_CONV_NETWORKS:
    return False  # A network without the layer would run the standard form under this name.
  return not (cell.get("xla") == "on" and cell.get("replicas") == 2 and cell.get("network") in BATCH_NORM_NETWORKS)


def pairs_of(cell: dict) -> set:
  return {((a, cell[a]), (b, cell[b])) for a, b in itertools.combinations(FACTORS, 2) if a in cell and b in cell}


def all_pairs() -> set:
  """Every pair of levels of two factors that some allowed cell can hold."""
  pairs = set()
  for a, b in itertools.combinations(FACTORS, 2):
    for x, y in itertools.product(FACTORS[a], FACTORS[b]):
      if any(allowed(dict(zip(FACTORS, values))) for values in itertools.product(*(
          [x] if name == a else [y] if name == b else FACTORS[name] for name in FACTORS))):
        pairs.add(((a, x), (b, y)))
  return pairs


def pairwise_cells() -> list:
  """A deterministic greedy all-pairs design: one cell per (network, family), the other factors chosen
  to cover the most pairs not yet covered, then extra cells for any pair still missing."""
  uncovered = all_pairs()
  cells = []

  def best_completion(partial):
    free = [name for name in FACTORS if name not in partial]
    best, best_gain = None, -1
    for values in itertools.product(*(FACTORS[name] for name in free)):
      cell = dict(partial, **dict(zip(free, values)))
      gain = len(pairs_of(cell) & uncovered) if allowed(cell) else -1
      if gain > best_gain:
        best, best_gain = cell, gain
    return best

  for network, family in itertools.product(NETWORKS, FAMILIES):
    cell = best_completion(dict(network=network, family=family))
    cells.append(cell)
    uncovered -= pairs_of(cell)
  while uncovered:
    (a, x), (b, y) = min(uncovered)
    cell = best_completion({a: x, b: y})
    cells.append(cell)
    uncovered -= pairs_of(cell)
  return cells


def cell_id(cell: dict) -> str:
  return (f"{cell['network']}-{cell['family']}-{cell['precision']}-r{cell['replicas']}-xla_{cell['xla']}"
          f"-{cell['image_conv']}")


def cell_config(cell: dict, seed: int) -> dict:
  network, family = NETWORKS[cell["network"]], FAMILIES[cell["family"]]
  config = dict(TINY, seed=seed, precision=cell["precision"], xla=cell["xla"], image_conv=cell["image_conv"])
  config.update(network)
  config.update(family)
  # A network and a family that each need more steps get the longer of the two.
  config["train_steps"] = max(config["train_steps"], network.get("train_steps", 0), family.get("train_steps", 0))
  if cell["replicas"] > 1:
    config.update(strategy="mirrored", num_cpu_devices=cell["replicas"])
  else:
    config.update(strategy="one_device")
  return config


CELLS = pairwise_cells()
# Processes started with the suite: tracing a train step is single-threaded Python, so two share 2 cores well.
SHARDS = 2


def expected_cost(cell: dict) -> int:
  """A rank of a cell's training time: compiling (twice over two replicas) and eight steps take longest."""
  config = cell_config(cell, seed=0)
  return 2 * (cell["xla"] == "on") + (cell["replicas"] > 1) + (config["train_steps"] > TINY["train_steps"])


class MatrixRun:
  """The matrix's processes, started as soon as the suite is collected (tests/conftest.py) so that they
  train while the rest of the suite runs. Each process takes the next cell no process has claimed yet
  (the costliest first, so that the processes end together); a reader with nothing else to run adds
  one more. Under pytest-xdist one process (the controller) starts them and any worker reads their
  reports from `root`: `MatrixRun.read(root)` waits for the processes by their pid files, so it needs no
  handle on them."""

  def __init__(self, root: str, cell_ids=None):
    """Starts the processes for the cells named in `cell_ids` (all cells when None) under `root`."""
    self.root = root
    os.makedirs(os.path.join(root, "claims"), exist_ok=True)
    data_dir = make_idx_dataset(os.path.join(root, "idx"))
    chosen = [(index, cell) for index, cell in enumerate(CELLS) if cell_ids is None or cell_id(cell) in cell_ids]
    chosen.sort(key=lambda pair: -expected_cost(pair[1]))  # Stable: equal costs keep the design's order.
    with open(os.path.join(root, "plan.json"), "w") as f:
      json.dump(dict(data_dir=data_dir, root=root,
                     cells=[dict(id=cell_id(cell), config=cell_config(cell, seed=index)) for index, cell in chosen]), f)
    self.processes = [self.start_process(root, str(shard)) for shard in range(SHARDS)]

  @staticmethod
  def start_process(root: str, name: str) -> subprocess.Popen:
    """A process that trains unclaimed cells of `root`'s plan, reporting to report-`name`.json."""
    log = open(os.path.join(root, f"log-{name}.txt"), "w")
    process = subprocess.Popen([sys.executable, "-m", "tests.helpers.matrix_run", os.path.join(root, "plan.json"),
                                os.path.join(root, f"report-{name}.json"), os.path.join(root, "claims")],
                               cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    with open(os.path.join(root, f"pid-{name}.tmp"), "w") as f:
      f.write(str(process.pid))
    os.replace(os.path.join(root, f"pid-{name}.tmp"), os.path.join(root, f"pid-{name}"))
    return process

  @staticmethod
  def read(root: str, timeout: float = 1800) -> dict:
    """The cells' reports under `root`, once every process there has ended (or `timeout` seconds passed).
    While cells are still unclaimed the reader, which has nothing else to run, starts one more process."""
    deadline = time.monotonic() + timeout
    for shard in range(SHARDS):
      while not os.path.exists(os.path.join(root, f"pid-{shard}")) and time.monotonic() < deadline:
        time.sleep(0.5)
    with open(os.path.join(root, "plan.json")) as f:
      planned = {cell["id"] for cell in json.load(f)["cells"]}
    helper = None
    if planned - set(os.listdir(os.path.join(root, "claims"))):
      helper = MatrixRun.start_process(root, f"reader-{os.getpid()}")
    try:
      for name in sorted(os.listdir(root)):
        if name.startswith("pid-") and not name.endswith(".tmp"):
          with open(os.path.join(root, name)) as f:
            pid = int(f.read())
          while _alive(pid) and time.monotonic() < deadline:
            time.sleep(1)
    finally:
      if helper is not None:
        if helper.poll() is None:
          helper.kill()
        helper.wait()
    report = {}
    for name in sorted(os.listdir(root)):
      if name.startswith("report-") and name.endswith(".json"):
        with open(os.path.join(root, name)) as f:
          report.update(json.load(f))
    return report

  def stop(self) -> None:
    """Kills any process still running: at the session's end every cell's test has read its report, so one
    still running belongs to a suite cut short."""
    for process in self.processes:
      if process.poll() is None:
        process.kill()
      process.wait()


def _alive(pid: int) -> bool:
  """Whether process `pid` still runs (a zombie child of another process counts as ended)."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0] != "Z"
  except FileNotFoundError:
    return False


# Set by tests/conftest.py when the suite's collection holds matrix cells: where their processes report.
ROOT = None


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
  if ROOT is None:  # This module's cells were not collected with the suite (e.g. run by node id alone).
    run = MatrixRun(str(tmp_path_factory.mktemp("matrix")))
    return MatrixRun.read(run.root)
  return MatrixRun.read(ROOT)


def test_cells_cover_every_pair_of_factor_levels():
  covered = set().union(*(pairs_of(cell) for cell in CELLS))
  assert covered == all_pairs()
  assert all(allowed(cell) for cell in CELLS)
  # Every precision meets every network and every loss family.
  for precision in PRECISIONS:
    assert {cell["network"] for cell in CELLS if cell["precision"] == precision} == set(NETWORKS)
    assert {cell["family"] for cell in CELLS if cell["precision"] == precision} == set(FAMILIES)
  assert len({cell_id(cell) for cell in CELLS}) == len(CELLS)


@pytest.mark.parametrize("cell", CELLS, ids=cell_id)
def test_cell_trains_and_serves(matrix, cell):
  facts = matrix.get(cell_id(cell))
  assert facts is not None, "the cell did not run (its process died; see the matrix logs)"
  assert facts["ok"], facts.get("error")
  assert facts["step"] == cell_config(cell, seed=0)["train_steps"]
  assert facts["replicas"] == cell["replicas"]
  assert facts["policy"] == cell["precision"]
  assert facts["jit_compile"] == (cell["xla"] == "on" and cell["replicas"] == 1)
  assert facts["losses"] and all(math.isfinite(value) for value in facts["losses"].values()), facts["losses"]
  # float16 losses are scaled per network; the layers compute in the policy's dtype, the weights stay float32.
  assert facts["loss_scaled"] == [cell["precision"] == "mixed_float16"] * 2
  compute = {"float32": "float32", "mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}[cell["precision"]]
  assert compute in facts["layer_compute_dtypes"]
  assert facts["variable_dtypes"] == ["float32"]
  assert facts["same_variables"] and facts["variables"] > 2
  assert facts["non_finite"] == []
  # What may stay put, and why: biases that batch normalization cancels, and under a balanced linear
  # loss the biases that shift every logit alike. Their gradient is exactly zero; anything else unmoved
  # was left out of training.
  may_stay = set(facts["biases_before_normalization"])
  if FAMILIES[cell["family"]]["loss"] in BALANCED_LINEAR_LOSSES:
    may_stay |= set(facts["biases_affine_to_logit"])
  assert set(facts["unmoved"]) <= may_stay, f"not trained: {sorted(set(facts['unmoved']) - may_stay)}"
  assert not facts["biases_before_normalization"] or cell["network"] in BATCH_NORM_NETWORKS
  assert facts["g_output_dtype"] == "float32" and facts["d_output_dtype"] == "float32"
  if cell["network"] in IMAGE_CONV_NETWORKS:  # The formulation asked for is the one that trained.
    assert facts["image_layer"] == {"standard": "Conv2D", "depthwise": "ImageConv2D"}[cell["image_conv"]]
  if FAMILIES[cell["family"]].get("ema_decay"):
    assert facts["ema_moved"]
  classes = 0 if NETWORKS[cell["network"]].get("unconditional") else 10
  assert facts["served_classes"] == classes
  assert facts["served_shape"] == [classes or 3, 28, 28, 1]
  assert facts["served_dtype"] == "uint8" and facts["served_spread"] > 0
