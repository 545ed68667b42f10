"""Dropout whose masks do not depend on how many replicas share the batch, seeded per train step."""

import contextlib
import threading

import keras
from keras import layers
from keras import ops
import tensorflow as tf

from cgan_tf import rng
from cgan_tf.layers.common import PACKAGE

_DROPOUT_STATE = threading.local()


class _DropoutSeed:
  """The dropout masks of one network call site in a train step: the step's seed, and where this
  replica's rows sit in the global batch. Counts the dropout calls made under it, so each call (real
  batch, fake batch, penalty) draws its own mask."""

  def __init__(self, seed, replica_id, global_batch_size):
    self.seed = seed
    self.replica_id = replica_id
    self.global_batch_size = global_batch_size
    self.calls = 0

  def next_seed(self):
    self.calls += 1
    return rng.fold_in(self.seed, self.calls)


@contextlib.contextmanager
def dropout_seed(seed, replica_id, global_batch_size):
  """Makes every `BatchDropout` called inside draw its mask from `seed` for this replica's rows.

  The mask of example i of the global batch is then a pure function of (seed, i): one replica over the
  whole batch and N replicas over its slices drop the same units, and a resumed run drops what the
  uninterrupted one would have. Replica threads each hold their own context.

  Args:
    seed: a [2] stateless seed (the step's, folded with a stream).
    replica_id: int32 scalar tensor, this replica's index in its sync group.
    global_batch_size: rows of the global batch the replica's slice is cut from.
  """
  stack = getattr(_DROPOUT_STATE, "stack", None)
  if stack is None:
    stack = _DROPOUT_STATE.stack = []
  stack.append(_DropoutSeed(seed, replica_id, global_batch_size))
  try:
    yield
  finally:
    stack.pop()


def _current_dropout_seed():
  stack = getattr(_DROPOUT_STATE, "stack", None)
  return stack[-1] if stack else None


@keras.saving.register_keras_serializable(package=PACKAGE)
class BatchDropout(layers.Dropout):
  """Dropout whose mask is cut from a mask over the global batch, drawn from the train step's seed.

  Keras's Dropout draws from a seed generator whose state is mirrored, so under N replicas every replica
  drops the same units of its own examples: not what one device does over the whole batch. Inside a
  `dropout_seed` context this layer draws the global batch's mask statelessly and keeps its replica's
  rows; outside one (a network called directly, in training mode) it is Keras's Dropout.
  """

  def call(self, inputs, training=False):
    context = _current_dropout_seed()
    if not training or self.rate == 0 or context is None:
      return super().call(inputs, training=training)
    batch_size = tf.shape(inputs)[0]
    global_shape = tf.concat([[context.global_batch_size], tf.shape(inputs)[1:]], axis=0)
    start = tf.cast(context.replica_id, tf.int32) * batch_size
    keep = rng.uniform(global_shape, context.next_seed())[start:start + batch_size] >= self.rate
    kept = inputs / ops.cast(1.0 - self.rate, inputs.dtype)
    return tf.where(keep, kept, tf.zeros_like(inputs))


def dropout(rate, **kwargs):
  """Dropout that gives the same masks on one or several replicas (see `BatchDropout`)."""
  return BatchDropout(rate, **kwargs)
