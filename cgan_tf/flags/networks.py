"""Networks: the generator and discriminator pair, their sizes, and how each takes the label."""

from absl import flags

from cgan_tf import config as config_lib
from cgan_tf import layers as cgan_layers
from cgan_tf import networks
from cgan_tf import rng
from cgan_tf.flags.help import described

_DEFAULTS = config_lib.Config()


flags.DEFINE_enum("network", _DEFAULTS.network, list(networks.NETWORKS), "Network pair from the registry in "
                  "cgan_tf/networks/ (mlp_points: 2-D points, for --dataset=circle).")
flags.DEFINE_integer("latent_dim", _DEFAULTS.latent_dim, "Size of the generator's noise vector.")
flags.DEFINE_integer("embedding_dim", _DEFAULTS.embedding_dim, "Size of the label embedding.")
flags.DEFINE_integer("g_filters", _DEFAULTS.g_filters, "cdcgan, resnet: channels of the generator's stages "
                     "(cdcgan's reference: 128; resnet: SNGAN used 256, 64 suits a CPU; the cost grows with "
                     "the square).")
flags.DEFINE_integer("d_filters", _DEFAULTS.d_filters, "cdcgan, resnet: channels of the discriminator's stages "
                     "(cdcgan's reference: 128; resnet: SNGAN used 128, 64 suits a CPU).")
flags.DEFINE_float("d_dropout", _DEFAULTS.d_dropout, "Dropout rate before the discriminator's logit.")
flags.DEFINE_bool("unconditional", _DEFAULTS.unconditional, "Train without labels (num_classes = 0): no label "
                  "input in either network, and an export whose signatures take no label.")
flags.DEFINE_enum("g_conditioning", _DEFAULTS.g_conditioning, list(networks.G_CONDITIONINGS),
                  "How the generator takes the label. " + described(networks.G_CONDITIONINGS))
flags.DEFINE_enum("d_conditioning", _DEFAULTS.d_conditioning, list(networks.D_CONDITIONINGS),
                  "How the discriminator takes the label. " + described(networks.D_CONDITIONINGS))
flags.DEFINE_bool("spectral_norm", _DEFAULTS.spectral_norm, "Spectral normalization of every discriminator "
                  "weight (Miyato et al. 2018).")
flags.DEFINE_integer("d_minibatch_std", _DEFAULTS.d_minibatch_std, "cdcgan, resnet: the minibatch standard "
                     "deviation of ProGAN (Karras et al. 2018) before D's last stage, over groups of this many "
                     "consecutive examples (StyleGAN: 4; 0: none). D sees how much a group's features vary, so a "
                     "generator that makes near-copies is told apart from data. The batch on each replica must "
                     "hold whole groups.")
flags.DEFINE_enum("image_conv", _DEFAULTS.image_conv, list(cgan_layers.IMAGE_CONVS),
                  "How the generator's image layer (cdcgan's 7x7 and resnet's 3x3 convolution to the image's "
                  "channels) is computed; same weights and function either way, so checkpoints move between "
                  "them (oneDNN runs a convolution to 1-4 channels at a few GFLOP/s, the depthwise form several "
                  "times faster, but slower under XLA). " + described(cgan_layers.IMAGE_CONVS))
flags.DEFINE_enum("noise", _DEFAULTS.noise, list(rng.NOISE_DISTRIBUTIONS), "Generator noise: standard normal, "
                  "or uniform in [-1, 1].")
