"""GAN losses as pure functions of the discriminator's logits, looked up by name.

Each loss returns *per-sample* values of shape [batch]; averaging is left to the training step, which
divides by the global batch so that gradients summed over replicas equal a one-replica gradient
(tf.distribute sums gradients over replicas; a per-replica mean would scale them by the replica count).
"""

import dataclasses
from typing import Callable

import tensorflow as tf

from cgan_tf.registry import Registry


@dataclasses.dataclass(frozen=True)
class GanLoss:
  """A discriminator loss and the generator loss that goes with it."""

  discriminator: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
  generator: Callable[[tf.Tensor], tf.Tensor]


LOSSES: Registry[GanLoss] = Registry("loss")


def _flat(logits: tf.Tensor) -> tf.Tensor:
  """Flattens logits to [batch]; half-precision logits are computed on in float32, float64 stays."""
  if logits.dtype in (tf.float16, tf.bfloat16):
    logits = tf.cast(logits, tf.float32)
  return tf.reshape(logits, [-1])


def nonsaturating_discriminator_loss(real_logits, fake_logits):
  """Binary cross-entropy with real = 1, fake = 0: softplus(-real) + softplus(fake)."""
  return tf.nn.softplus(-_flat(real_logits)) + tf.nn.softplus(_flat(fake_logits))


def nonsaturating_generator_loss(fake_logits):
  """The non-saturating generator loss -log(sigmoid(fake)) = softplus(-fake) (Goodfellow et al.)."""
  return tf.nn.softplus(-_flat(fake_logits))


def hinge_discriminator_loss(real_logits, fake_logits):
  """max(0, 1 - real) + max(0, 1 + fake) (Lim & Ye 2017; Miyato et al. 2018)."""
  return tf.nn.relu(1.0 - _flat(real_logits)) + tf.nn.relu(1.0 + _flat(fake_logits))


def hinge_generator_loss(fake_logits):
  return -_flat(fake_logits)


def least_squares_discriminator_loss(real_logits, fake_logits):
  """0.5 (real - 1)^2 + 0.5 fake^2 (Mao et al. 2017)."""
  return 0.5 * tf.square(_flat(real_logits) - 1.0) + 0.5 * tf.square(_flat(fake_logits))


def least_squares_generator_loss(fake_logits):
  return 0.5 * tf.square(_flat(fake_logits) - 1.0)


def wasserstein_discriminator_loss(real_logits, fake_logits):
  """The critic's fake - real (Arjovsky et al. 2017); needs a Lipschitz D: --gp_weight or --spectral_norm."""
  return _flat(fake_logits) - _flat(real_logits)


def wasserstein_generator_loss(fake_logits):
  return -_flat(fake_logits)


LOSSES.register("nonsaturating", GanLoss(nonsaturating_discriminator_loss, nonsaturating_generator_loss))
LOSSES.register("hinge", GanLoss(hinge_discriminator_loss, hinge_generator_loss))
LOSSES.register("least_squares", GanLoss(least_squares_discriminator_loss, least_squares_generator_loss))
LOSSES.register("wasserstein", GanLoss(wasserstein_discriminator_loss, wasserstein_generator_loss))


def get(name: str) -> GanLoss:
  """Returns the registered loss pair `name`.

  Raises:
    KeyError: if no loss of that name is registered, naming those that are.
  """
  return LOSSES[name]
