"""cgan_tf/layers/dropout.py: one global dropout mask, sliced per replica, the same on 1 or N replicas."""

import numpy as np
import tensorflow as tf

from cgan_tf import layers as cgan_layers


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
