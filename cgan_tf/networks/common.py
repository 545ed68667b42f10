"""What every network module shares: the spec a network pair is registered with, the conditioning
choices, the dtype of the last layers under mixed precision, and how networks size themselves from the image.
"""

import dataclasses
from typing import Callable, Tuple

import keras

from cgan_tf.registry import Registry

# How each network can take the label (--g_conditioning, --d_conditioning); "auto": the network's own.
G_CONDITIONINGS = Registry("generator conditioning", {
    "auto": "the network's own",
    "channel": "Embedding -> Dense as an extra feature map (cdcgan)",
    "concat": "one-hot concatenated with the noise (keras_book, mlp)",
    "cbn": "conditional batch normalization, a scale and offset per class in every stage",
})
D_CONDITIONINGS = Registry("discriminator conditioning", {
    "auto": "the network's own",
    "channel": "Embedding -> Dense(H*W) as an extra image channel (cdcgan)",
    "concat": "one-hot -> Dense(H*W) channel (keras_book) or one-hot concatenated with the features (mlp)",
    "projection": "logit + <embed(y), features> (Miyato & Koyama 2018)",
})
OUTPUT_RANGES = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "linear": (None, None)}


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
  """A registered network pair.

  Attributes:
    build: (config, g_conditioning, d_conditioning) -> (generator, discriminator), the conditionings
      resolved ("auto" replaced by the network's own).
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
