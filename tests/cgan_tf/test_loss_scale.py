"""cgan_tf/loss_scale.py: under several replicas an overflow on one replica skips the step on every replica."""

import keras
import numpy as np
import tensorflow as tf

from cgan_tf import loss_scale


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
