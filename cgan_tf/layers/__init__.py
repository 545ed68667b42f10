"""Layers the modern conditional-GAN options need, by job:

  normalization.py  spectral normalization (Miyato et al. 2018), batch normalization synchronized over
                    replicas, conditional batch normalization
  discriminator.py  the projection discriminator's logit, the minibatch standard deviation
  image_conv.py     the generator's image layer computed as oneDNN runs it fast (--image_conv)
  dropout.py        dropout whose masks do not depend on how many replicas share the batch
  common.py         the Keras serialization package, the dtype sums are kept in

Under a mixed precision policy a layer receives inputs in its compute dtype but owns float32 variables;
every layer here casts what it mixes to `self.compute_dtype` and builds its sub-layers under its own
dtype policy, so it works under float32, mixed_float16, mixed_bfloat16 and float64 alike.

Each is registered for Keras serialization, so a generator that uses one still saves to `.keras` and loads
back with `safe_mode=True` after `import cgan_tf.layers`. This package only hands their names on.
"""

from cgan_tf.layers.common import PACKAGE
from cgan_tf.layers.discriminator import MinibatchStdDev
from cgan_tf.layers.discriminator import ProjectionLogit
from cgan_tf.layers.discriminator import minibatch_std
from cgan_tf.layers.dropout import BatchDropout
from cgan_tf.layers.dropout import dropout
from cgan_tf.layers.dropout import dropout_seed
from cgan_tf.layers.image_conv import IMAGE_CONVS
from cgan_tf.layers.image_conv import NARROW_FILTERS
from cgan_tf.layers.image_conv import ImageConv2D
from cgan_tf.layers.image_conv import image_conv2d
from cgan_tf.layers.image_conv import narrow_conv2d
from cgan_tf.layers.image_conv import resolve_image_conv
from cgan_tf.layers.normalization import ConditionalBatchNorm
from cgan_tf.layers.normalization import SNConv2D
from cgan_tf.layers.normalization import SNDense
from cgan_tf.layers.normalization import SpectralNormMixin
from cgan_tf.layers.normalization import batch_normalization
from cgan_tf.layers.normalization import conditional_batch_normalization
from cgan_tf.layers.normalization import conv2d
from cgan_tf.layers.normalization import dense
from cgan_tf.layers.normalization import spectral_norm_layers
