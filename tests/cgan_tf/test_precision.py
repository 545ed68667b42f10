"""Mixed precision beyond "the step runs": loss scaling that all replicas agree on, penalties that do not
underflow in float16, dropout that is the same on 1 or N replicas, and what --strategy=tpu does without a
TPU. Runs that change precision on resume are tested with the rest of resuming, in
tests/cgan_tf/test_checkpoints.py."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import distribute
from cgan_tf import layers as cgan_layers
from cgan_tf import loss_scale
from cgan_tf import penalties
from cgan_tf.config import Config, ConfigError


# --- Loss scaling under several replicas ------------------------------------------------------------

def _two_replica_sgd(optimizer_factory):
  # The only in-process MirroredStrategy of the suite: TF 2.21 fails collectives when strategies over
  # different device sets share a process, so multi-replica training runs in subprocesses elsewhere.
  strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  with strategy.scope():
    variable = keras.Variable(np.ones(3, np.float32), name="w")
    optimizer = optimizer_factory(keras.optimizers.SGD(0.5))
    optimizer.build([variable])

  @tf.function
  def step(bad_replica):
    def replica_fn():
      replica = tf.distribute.get_replica_context().replica_id_in_sync_group
      gradient = tf.where(tf.equal(replica, bad_replica), tf.fill([3], np.inf), tf.fill([3], 1024.0))
      optimizer.apply([gradient], [variable])
    strategy.run(replica_fn)

  def local(value):
    return [t.numpy() for t in strategy.experimental_local_results(value)]

  return step, variable, optimizer, local


def test_one_replicas_overflow_skips_the_step_on_every_replica():
  step, variable, optimizer, local = _two_replica_sgd(lambda inner: loss_scale.wrap(inner, "mixed_float16"))
  scale = float(local(optimizer.dynamic_scale)[0])
  for bad_replica in (1, 0):  # Keras's own optimizer decides on replica 0's gradients alone.
    step(tf.constant(bad_replica))
    for weights in local(variable):
      np.testing.assert_array_equal(weights, np.ones(3, np.float32))
    scale /= 2
    assert {float(s) for s in local(optimizer.dynamic_scale)} == {scale}
  # With every replica finite the summed, unscaled gradient is applied on both replicas alike.
  step(tf.constant(-1))
  expected = 1.0 - 0.5 * 2 * 1024.0 / scale
  for weights in local(variable):
    np.testing.assert_allclose(weights, np.full(3, expected, np.float32), rtol=1e-6)


# --- Penalties under float16 and bfloat16 -----------------------------------------------------------

def _critic(seed):
  critic = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same"),
                             keras.layers.LeakyReLU(0.2), keras.layers.Flatten(),
                             keras.layers.Dense(1, dtype="float32")])
  return critic


def _penalty_pair(policy_name, weights, real, fake, alpha, scale):
  distribute.set_precision(policy_name)
  critic = _critic(0)
  critic.set_weights(weights)
  return (penalties.r1_penalty(critic, real, scale).numpy(),
          penalties.gradient_penalty(critic, real, fake, alpha, scale).numpy())


def test_penalties_under_mixed_precision_match_float32(policy):
  rng = np.random.default_rng(0)
  real = tf.constant(rng.normal(size=(4, 8, 8, 1)), tf.float32)
  fake = tf.constant(rng.normal(size=(4, 8, 8, 1)), tf.float32)
  alpha = tf.constant([0.1, 0.4, 0.7, 1.0])
  policy("float32")
  weights = _critic(0).get_weights()
  # A critic whose input gradients (~1e-9 per pixel) are below float16's smallest subnormal (6e-8):
  # unscaled, its backward pass in float16 loses them whatever the CPU's float16 arithmetic. (At ~1e-8
  # they were subnormal, and how much of them survived varied between CPUs and runs, 8-11%.)
  weights[-2] = weights[-2] * 1e-7
  r1_32, gp_32 = _penalty_pair("float32", weights, real, fake, alpha, 1.0)
  assert np.all(r1_32 > 0)
  r1_16, gp_16 = _penalty_pair("mixed_float16", weights, real, fake, alpha, 2.0 ** 15)
  np.testing.assert_allclose(r1_16, r1_32, rtol=2e-2)
  np.testing.assert_allclose(gp_16, gp_32, rtol=2e-2)
  # Without the loss scale the float16 penalty is visibly wrong: the test above can fail.
  r1_unscaled, _ = _penalty_pair("mixed_float16", weights, real, fake, alpha, 1.0)
  assert np.max(np.abs(r1_unscaled - r1_32) / r1_32) > 0.1
  # bfloat16 has float32's range: no scale needed, only its 8-bit mantissa's rounding.
  r1_bf16, gp_bf16 = _penalty_pair("mixed_bfloat16", weights, real, fake, alpha, 1.0)
  np.testing.assert_allclose(r1_bf16, r1_32, rtol=5e-2)
  np.testing.assert_allclose(gp_bf16, gp_32, rtol=5e-2)


# --- Dropout --------------------------------------------------------------------------------------

def test_batch_dropout_slices_one_global_mask():
  layer = cgan_layers.BatchDropout(0.5)
  inputs = tf.ones([8, 16])
  seed = tf.constant([3, 4], tf.int64)

  def masks(replicas):
    rows = []
    for replica in range(replicas):
      with cgan_layers.dropout_seed(seed, tf.constant(replica), 8):
        rows.append(layer(inputs[:8 // replicas], training=True).numpy())
    return rows

  whole = masks(1)[0]
  halves = masks(2)
  quarters = masks(4)
  np.testing.assert_array_equal(np.concatenate(halves), whole)
  np.testing.assert_array_equal(np.concatenate(quarters), whole)
  # Replicas drop different units, and kept units are scaled by 1 / (1 - rate).
  assert not np.array_equal(halves[0], halves[1])
  assert set(np.unique(whole)) == {0.0, 2.0}
  assert 0.3 < np.mean(whole == 0) < 0.7
  # Two calls under one context (real batch, fake batch) draw different masks.
  with cgan_layers.dropout_seed(seed, tf.constant(0), 8):
    first, second = layer(inputs, training=True).numpy(), layer(inputs, training=True).numpy()
  assert not np.array_equal(first, second)
  # Inference is the identity.
  np.testing.assert_array_equal(layer(inputs, training=False).numpy(), inputs.numpy())


# --- TPU ------------------------------------------------------------------------------------------

def test_tpu_strategy_without_a_tpu_is_refused_naming_the_flag():
  with pytest.raises(ConfigError, match="--strategy=tpu: no TPU found"):
    distribute.create_strategy(Config(strategy="tpu"))


def test_tpu_defaults_to_bfloat16():
  assert distribute.resolve_precision(Config(strategy="tpu", precision="auto")) == "mixed_bfloat16"
  assert distribute.resolve_precision(Config(strategy="tpu", precision="float32")) == "float32"
