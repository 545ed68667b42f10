"""Deterministic tiny runs and their checkpoints: configurations, reading and comparing checkpoints, damage."""

import os

import numpy as np
import tensorflow as tf

from cgan_tf.config import Config

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


# What the tests' tiny runs turn off or pin: the default recipe measures itself every 1,000 steps (and at the
# end, with an evaluator trained on first use) and keeps the best generator; --precision=auto would train
# in bfloat16 on CPUs with its instructions, so a test's numbers would depend on the machine.
QUIET = dict(eval_every=0, keep_best=False, precision="float32")
# The networks' widths where a test's property does not depend on them: training, resuming and checkpointing
# behave alike at any width, and a convolution's cost grows with the square of its filters (the defaults are
# 64 filters and 100-dimensional noise), most of all under a float16 policy, which a CPU emulates.
SMALL_NETWORKS = dict(g_filters=16, d_filters=16, latent_dim=16, embedding_dim=8)
# The same widths as command-line flags, for the tests that start `python -m cgan_tf.main`.
SMALL_NETWORK_FLAGS = [f"--{name}={value}" for name, value in SMALL_NETWORKS.items()]


def run_config(run_dir: str, idx_dir: str, **overrides) -> Config:
  """A small --deterministic run on the IDX set in `idx_dir`, checkpointing every 2 steps: two such runs
  that end at the same step end with bitwise equal checkpoints."""
  values = dict(run_dir=run_dir, dataset="synthetic", data_source="idx", data_dir=idx_dir, batch_size=16,
                train_steps=4, checkpoint_every=2, keep_checkpoints=3, sample_every=100, log_every=100,
                samples_per_class=1, verbose=0, seed=7, deterministic=True, **QUIET, **SMALL_NETWORKS)
  values.update(overrides)
  return Config(**values)


def ckpt(run_dir: str, step: int) -> str:
  return os.path.join(run_dir, "checkpoints", f"ckpt-{step}")


def overwrite(path, content=b"\x00garbage\xff" * 20):
  with open(path, "wb") as f:
    f.write(content)
