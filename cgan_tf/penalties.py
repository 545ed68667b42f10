"""Penalties as pure per-example functions: gradient penalties on the discriminator, and the mode-seeking
penalty on the generator.

The gradient penalties differentiate D's logit with respect to its input. D's examples do not interact (no
batch normalization in any registered discriminator), so the gradient of the summed logits gives each
example's own gradient. The training step adds `weight * penalty` to D's per-example loss (the mode-seeking
penalty to G's), which it averages over the global batch like the loss itself.

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


# MSGAN's constant: it keeps the penalty finite when a pair's two images are identical.
MODE_SEEKING_EPSILON = 1e-5


def mode_seeking_penalty(images, noise, epsilon=MODE_SEEKING_EPSILON):
  """The mode-seeking penalty (Mao et al. 2019, MSGAN) of pairs of generated samples of one label.

  Rows 2i and 2i + 1 are a pair: two noise vectors given the same label. A generator that maps them to
  the same image has collapsed that label's variety into one mode; the penalty is the inverse of the
  ratio of their distances, mean |G(z_a) - G(z_b)| / mean |z_a - z_b|, so G lowers it by spreading images
  of one label apart in proportion to their noise's distance.

  Args:
    images: generated samples [batch, ...], batch even, in pairs of one label.
    noise: the noise they came from, [batch, latent_dim].
    epsilon: added to the ratio, so identical images give 1 / epsilon, not infinity.

  Returns:
    [batch]: each row carries its pair's penalty 1 / (ratio + epsilon), so the mean over rows is the mean
    over pairs (float64 for float64 images, else float32).
  """
  dtype = tf.float64 if images.dtype == tf.float64 else tf.float32
  images, noise = tf.cast(images, dtype), tf.cast(noise, dtype)
  pairs = tf.reshape(images, [-1, 2, tf.reduce_prod(tf.shape(images)[1:])])
  noise_pairs = tf.reshape(noise, [-1, 2, tf.shape(noise)[-1]])
  image_distance = tf.reduce_mean(tf.abs(pairs[:, 0] - pairs[:, 1]), axis=-1)
  noise_distance = tf.reduce_mean(tf.abs(noise_pairs[:, 0] - noise_pairs[:, 1]), axis=-1)
  penalty = 1.0 / (image_distance / noise_distance + epsilon)
  return tf.repeat(penalty, 2)
