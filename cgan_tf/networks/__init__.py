"""Generator and discriminator networks, looked up by name in a registry.

Every builder takes the resolved configuration and returns `(generator, discriminator)`:
  conditional (num_classes > 0):
    generator([noise, label]) -> sample, float [batch, *shape]
    discriminator([sample, label]) -> logit, float [batch, 1]
  unconditional (num_classes == 0): the same without the label input anywhere.
Labels are int32 of shape [batch]. A sample is an image in the network's output range (tanh: [-1, 1],
sigmoid: [0, 1]) or, for point networks, a vector. The last layers compute in float32 under a mixed
precision policy, so float16 never leaks into the losses (a trailing Reshape or Activation
without dtype="float32" would cast back to float16).

Each network lives in its own module and registers itself; adding one is adding one function.
"""

import dataclasses
from typing import Callable, Dict, Tuple

import keras

# How each network can take the label (--g_conditioning, --d_conditioning); "auto": the network's own.
G_CONDITIONINGS = ("auto", "channel", "concat", "cbn")
D_CONDITIONINGS = ("auto", "channel", "concat", "projection")
OUTPUT_RANGES = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "linear": (None, None)}


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
  """A registered network pair.

  Attributes:
    build: config -> (generator, discriminator).
    size_divisor: image height and width must divide by it.
    description: one line for --helpfull and the README.
    data_kind: "image" or "points" (vectors, e.g. the 2-D circle).
    output: the generator's last activation ("tanh", "sigmoid" or "linear"); real data is scaled to it.
    g_conditionings: how the generator can take the label; the first is what "auto" means.
    d_conditionings: how the discriminator can take the label; the first is what "auto" means.
    spectral_norm: whether --spectral_norm is available.
    minibatch_std: whether --d_minibatch_std is available.
  """

  build: Callable[..., Tuple[keras.Model, keras.Model]]
  size_divisor: int
  description: str
  data_kind: str = "image"
  output: str = "tanh"
  g_conditionings: Tuple[str, ...] = ("channel",)
  d_conditionings: Tuple[str, ...] = ("channel",)
  spectral_norm: bool = True
  minibatch_std: bool = False

  @property
  def output_range(self):
    return OUTPUT_RANGES[self.output]


NETWORKS: Dict[str, NetworkSpec] = {}


def register(name: str, size_divisor: int, description: str, **options):
  """Decorator that adds a network builder to the registry under `name` (options: NetworkSpec fields)."""

  def wrap(build):
    if name in NETWORKS:
      raise ValueError(f"network {name!r} is registered twice")
    NETWORKS[name] = NetworkSpec(build, size_divisor, description, **options)
    return build

  return wrap


def get(name: str) -> NetworkSpec:
  """The registered network `name`.

  Raises:
    KeyError: if the network name is not registered.
  """
  if name not in NETWORKS:
    raise KeyError(f"unknown network {name!r}; registered: {', '.join(sorted(NETWORKS))}")
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
  return get(config.network).build(config)


def output_dtype():
  """The dtype of a network's last layers: float32 under a mixed policy (every layer after the
  last float32 one must be float32 too, or it casts back), else the
  policy's own (float64 stays float64 for the numerical checks)."""
  return "float32" if keras.config.dtype_policy().name.startswith("mixed") else None


# The smallest starting resolution the generator halves down to; below it a stage would lose the layout.
MIN_BASE_SIZE = 4


def _halvings(size: int) -> int:
  """How many times `size` halves exactly while staying at or above MIN_BASE_SIZE (28 -> 7: twice)."""
  count = 0
  while size % 2 == 0 and size // 2 >= MIN_BASE_SIZE:
    size //= 2
    count += 1
  return count


def upsampling_stages(height: int, width: int, min_stages: int = 2) -> int:
  """The number of stride-2 stages between the starting resolution and the image size.

  The generator starts as small as the size allows (28 -> 7x7 and 2 stages, the reference network;
  32 -> 4x4 and 3; 64 -> 4x4 and 4), so larger images get more stages rather than a huge first layer.

  Args:
    height: image height in pixels.
    width: image width in pixels.
    min_stages: the fewest stages the network is built with.

  Returns:
    The stage count; both sizes divide by 2**stages.

  Raises:
    ValueError: if height and width do not both divide by 2**min_stages.
  """
  factor = 2 ** min_stages
  if height % factor or width % factor or height <= 0 or width <= 0:
    raise ValueError(f"image size {height}x{width} cannot be made: height and width must be positive and "
                     f"divisible by {factor}")
  return max(min_stages, min(_halvings(height), _halvings(width)))


# The modules register their networks on import.
from cgan_tf.networks import dcgan  # noqa: E402,F401  pylint: disable=wrong-import-position
from cgan_tf.networks import keras_book  # noqa: E402,F401  pylint: disable=wrong-import-position
from cgan_tf.networks import mlp  # noqa: E402,F401  pylint: disable=wrong-import-position
from cgan_tf.networks import resnet  # noqa: E402,F401  pylint: disable=wrong-import-position
