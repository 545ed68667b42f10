"""Gradient penalties on the discriminator, as pure per-example functions.

Both differentiate D's logit with respect to its input. D's examples do not interact (no batch
normalization in any registered discriminator), so the gradient of the summed logits gives each example's
own gradient. The training step adds `weight * penalty` to D's per-example loss, which it averages over
the global batch like the loss itself.

Under float16 the inner gradient is taken of the logits times a loss scale and divided back in float32,
as the optimizers do with the loss: without it, gradients below float16's smallest value (6e-8) become
zero and the penalty silently vanishes.
"""

import tensorflow as tf


def _squared_input_gradient_norms(critic, inputs, scale=1.0):
  """||d critic(x) / dx||^2 for each example of `inputs`, float32 [batch].

  `scale` multiplies the summed logits before differentiation and divides the gradient after it.
  """
  # A fresh tensor in the current graph: inside a tf.cond branch `inputs` is a captured outer tensor, and
  # watching that would leave the gradient None.
  inputs = tf.identity(inputs)
  with tf.GradientTape() as tape:
    tape.watch(inputs)
    total = tf.reduce_sum(tf.cast(critic(inputs), tf.float32)) * tf.cast(scale, tf.float32)
  gradients = tf.cast(tape.gradient(total, inputs), tf.float32) / tf.cast(scale, tf.float32)
  return tf.reduce_sum(tf.square(gradients), axis=tf.range(1, tf.rank(gradients)))


def interpolate(real, fake, alpha):
  """alpha * real + (1 - alpha) * fake, alpha [batch] in [0, 1] per example."""
  alpha = tf.reshape(tf.cast(alpha, real.dtype), tf.concat([[-1], tf.ones([tf.rank(real) - 1], tf.int32)], 0))
  return alpha * real + (1.0 - alpha) * fake


def gradient_penalty(critic, real, fake, alpha, scale=1.0):
  """WGAN-GP (Gulrajani et al. 2017): (||grad D(x_hat)|| - 1)^2 at x_hat between real and fake.

  Args:
    critic: x -> logits [batch, 1] (the label, if any, bound in).
    real: real inputs [batch, ...].
    fake: generated inputs of the same shape.
    alpha: uniform [batch] in [0, 1], one per example.
    scale: the loss scale of D's optimizer under float16 (1 otherwise).

  Returns:
    float32 [batch].
  """
  squared = _squared_input_gradient_norms(critic, interpolate(real, tf.stop_gradient(fake), alpha), scale)
  return tf.square(tf.sqrt(squared + 1e-12) - 1.0)


def r1_penalty(critic, real, scale=1.0):
  """R1 (Mescheder et al. 2018): ||grad D(x)||^2 at real inputs; weighted by gamma / 2 by the caller.

  `scale`: as for `gradient_penalty`.

  Returns:
    float32 [batch].
  """
  return _squared_input_gradient_norms(critic, real, scale)
