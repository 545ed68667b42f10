"""Training one configuration on several replica counts in fresh processes, and comparing the weights."""

import subprocess
import sys
import tempfile

import numpy as np

from tests.helpers.data import REPO_ROOT

# SGD, not Adam: Adam's update hardly depends on the gradient's scale, so it would hide a loss that is not
# divided by the replica count. Dropout on (the network's default 0.4): its masks are cut from one mask
# over the global batch, so they must not depend on the replica count either. float64: in
# float32, summation-order noise (oneDNN's kernels, XLA's fusions), amplified by LeakyReLU kinks over 10
# sequential GAN updates, moved single variables by up to 2% of their training movement from run to run;
# in float64 the same comparisons agree to 1e-15 (replicas) and 1e-9 (XLA), so a tolerance of 1e-6 leaves
# no room for luck.
# 16 filters instead of the reference's 128: the property does not depend on the width, the cost does.
# The minibatch standard deviation over groups of 4: a replica's 8-32 examples must form the same groups as
# one replica's batch does. The mode-seeking penalty likewise: its pairs of one label must be the same pairs,
# and its mean over pairs the global one, on any number of replicas.
INVARIANCE = dict(precision="float64", optimizer="sgd", g_learning_rate=0.05, d_learning_rate=0.05, d_dropout=0.4,
                  d_minibatch_std=4, mode_seeking=0.5, g_filters=16, d_filters=16, train_steps=5, batch_size=32,
                  checkpoint_every=5, sample_every=5, log_every=5, eval_every=0, keep_best=False)


def run_in_processes(configs: dict) -> dict:
  """Trains each of `configs` ({name: Config}) in a fresh Python process (see tests/helpers/distributed_run.py), all
  side by side, and loads their dumps. Tracing a step is single-threaded Python, so the processes share the
  cores far better than they would run one after another."""
  processes = {}
  for name, config in configs.items():
    out = config.run_dir + "_dump.npz"
    log = tempfile.TemporaryFile("w+")
    process = subprocess.Popen([sys.executable, "-m", "tests.helpers.distributed_run", config.to_json(), out],
                               cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    processes[name] = (process, log, out)
  dumps = {}
  try:
    for name, (process, log, out) in processes.items():
      returncode = process.wait(timeout=600)
      log.seek(0)
      assert returncode == 0, f"{name}: {log.read()[-3000:]}"
      with np.load(out) as dump:
        dumps[name] = {key: dump[key] for key in dump.files}
  finally:
    for process, log, _ in processes.values():
      if process.poll() is None:
        process.kill()
        process.wait()
      log.close()
  return dumps


def weights(dump):
  return {k: v for k, v in dump.items() if k[0] in "gd" and k[1:].isdigit()}


def initial(dump):
  return {key[len("init_"):]: value for key, value in dump.items() if key.startswith("init_")}


def assert_same_training(reference, other, initial_weights, tolerance=1e-6):
  """Each variable's distance from the reference, relative to how far training moved it.

  A gradient off by the replica count gave ratios of 0.4-1.4 (the loss mutated to a per-replica mean), and
  so did noise that differed between XLA and plain kernels; float64 rounding stays below 1e-9. A variable
  that training cannot move (a bias right before batch normalization has a zero gradient) moves by rounding
  alone, 1e-17 to 1e-13 as the gradient through the normalization is small or large (the mode-seeking
  penalty's is large), so it has no scale of its own: the other run must leave it unmoved too, within 1e-9.
  """
  assert reference.keys() == other.keys() == initial_weights.keys() and len(reference) > 10
  ratios, unmovable = {}, {}
  for key in reference:
    moved = float(np.linalg.norm(reference[key] - initial_weights[key]))
    difference = float(np.linalg.norm(other[key] - reference[key]))
    if moved > 1e-9:
      ratios[key] = difference / moved
    else:
      unmovable[key] = difference
  assert ratios, "training moved no variable"
  worst = max(ratios, key=ratios.get)
  assert ratios[worst] < tolerance, f"{worst}: {ratios[worst]:.4g}; all: {ratios}"
  moved_there = {key: difference for key, difference in unmovable.items() if difference > 1e-9}
  assert not moved_there, f"unmoved in the reference, moved in the other run: {moved_there}"
