"""Dynamic loss scaling for float16 training, with one decision for all replicas.

Under mixed_float16 each network's loss is multiplied by its optimizer's loss scale before the
gradients are taken, so small gradients do not underflow float16; the optimizer divides them back and
skips a step whose gradients are not finite, halving the scale. Keras 3.15's `LossScaleOptimizer`
decides "finite" on each replica's own gradients before they are summed (on the merge-call path it
takes replica 0's verdict for everyone): an overflow on replica 1 is then summed into every replica's
update. `ReplicaAgreedLossScaleOptimizer` all-reduces the verdict, so every replica skips or applies
together. bfloat16 has float32's exponent range and needs no loss scaling.
"""

import keras
import tensorflow as tf

# The precision whose optimizers scale their losses.
SCALED_PRECISION = "mixed_float16"


class ReplicaAgreedLossScaleOptimizer(keras.optimizers.LossScaleOptimizer):
  """A `LossScaleOptimizer` whose finite/non-finite decision is the same on every replica: a step is
  applied only if the gradients of all replicas are finite (equivalently, their sum is)."""

  def check_finite(self, grads):
    finite = super().check_finite(grads)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
      return finite
    # tf.distribute reduces by SUM or MEAN only: count the replicas that saw a non-finite gradient.
    non_finite_replicas = context.all_reduce(tf.distribute.ReduceOp.SUM,
                                             tf.cast(tf.logical_not(finite), tf.float32))
    return tf.equal(non_finite_replicas, 0.0)


def wrap(optimizer: keras.optimizers.Optimizer, precision: str) -> keras.optimizers.Optimizer:
  """`optimizer`, wrapped in a replica-agreed loss-scale optimizer under mixed_float16.

  Each network gets its own scale: a GAN's two losses overflow at different times, and Keras's
  `compile(auto_scale_loss=True)` would wrap only one optimizer.
  """
  if precision == SCALED_PRECISION:
    return ReplicaAgreedLossScaleOptimizer(optimizer)
  return optimizer


def is_scaled(optimizer) -> bool:
  return isinstance(optimizer, keras.optimizers.LossScaleOptimizer)


def inner(optimizer):
  """The optimizer that updates the weights: the wrapped one of a loss-scale optimizer."""
  return optimizer.inner_optimizer if is_scaled(optimizer) else optimizer


def scale(optimizer):
  """The current loss scale of `optimizer` (1.0 without loss scaling)."""
  return optimizer.dynamic_scale if is_scaled(optimizer) else 1.0
