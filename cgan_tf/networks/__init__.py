"""Generator and discriminator networks, looked up by name in a registry (`registry.py`); one module per
pair (dcgan.py, keras_book.py, mlp.py, resnet.py), their shared blocks (blocks.py) and sizing
(common.py). This package only hands their names on."""

from cgan_tf.networks.common import D_CONDITIONINGS
from cgan_tf.networks.common import G_CONDITIONINGS
from cgan_tf.networks.common import MIN_BASE_SIZE
from cgan_tf.networks.common import OUTPUT_RANGES
from cgan_tf.networks.common import NetworkSpec
from cgan_tf.networks.common import output_dtype
from cgan_tf.networks.common import upsampling_stages
from cgan_tf.networks.registry import NETWORKS
from cgan_tf.networks.registry import build_networks
from cgan_tf.networks.registry import conditioning
from cgan_tf.networks.registry import get
