"""The network registry: every generator and discriminator pair by name (--network).

Each network module defines its pair and the `NetworkSpec` it is registered with; this module imports
them and registers each, so the registry's order is the order below.

Every builder returns `(generator, discriminator)`:
  conditional (num_classes > 0):
    generator([noise, label]) -> sample, float [batch, *shape]
    discriminator([sample, label]) -> logit, float [batch, 1]
  unconditional (num_classes == 0): the same without the label input anywhere.
Labels are int32 of shape [batch]. A sample is an image in the network's output range (tanh: [-1, 1],
sigmoid: [0, 1]) or, for point networks, a vector. The last layers compute in float32 under a mixed
precision policy, so float16 never leaks into the losses (a trailing Reshape or Activation
without dtype="float32" would cast back to float16).
"""

from typing import Tuple

import keras

from cgan_tf.networks import dcgan
from cgan_tf.networks import keras_book
from cgan_tf.networks import mlp
from cgan_tf.networks import resnet
from cgan_tf.networks.common import NetworkSpec
from cgan_tf.registry import Registry

NETWORKS: Registry[NetworkSpec] = Registry("network", {
    "cdcgan": dcgan.SPEC,
    "keras_book": keras_book.SPEC,
    "mlp": mlp.SPEC,
    "mlp_points": mlp.POINTS_SPEC,
    "resnet": resnet.SPEC,
})


def get(name: str) -> NetworkSpec:
  """The registered network `name`.

  Raises:
    KeyError: if the network name is not registered (`registry.UnknownNameError`, naming those that are).
  """
  return NETWORKS[name]


def conditioning(config) -> Tuple[str, str]:
  """The (generator, discriminator) conditioning of `config`, with "auto" resolved by the network."""
  spec = get(config.network)
  g_conditioning = spec.g_conditionings[0] if config.g_conditioning == "auto" else config.g_conditioning
  d_conditioning = spec.d_conditionings[0] if config.d_conditioning == "auto" else config.d_conditioning
  return g_conditioning, d_conditioning


def build_networks(config) -> Tuple[keras.Model, keras.Model]:
  """Builds the generator and discriminator named by `config.network`.

  Args:
    config: a resolved `Config` (image_shape and num_classes filled in).

  Returns:
    (generator, discriminator) as Keras functional models, built under the current dtype policy.

  Raises:
    KeyError: if the network name is not registered.
  """
  return get(config.network).build(config, *conditioning(config))
