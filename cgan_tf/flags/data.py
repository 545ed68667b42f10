"""Data: which data set, where its files are, and how your own images are read."""

from absl import flags

from cgan_tf import config as config_lib
from cgan_tf import data as data_lib
from cgan_tf.data import own_images
from cgan_tf.flags.help import described

_DEFAULTS = config_lib.Config()


flags.DEFINE_string("dataset", _DEFAULTS.dataset, "A TFDS image classification set (fashion_mnist, mnist, "
                    "cifar10, ...), or circle: points on the unit circle (for --network=mlp_points).")
flags.DEFINE_enum("data_source", _DEFAULTS.data_source, data_lib.source_names(),
                  "Where images come from. auto: a prepared TFDS copy if there is one, else the data set's "
                  "own IDX files (--data_dir, or Fashion-MNIST's Debian package), else a TFDS download. "
                  "folder: your own images, one subdirectory per class in --data_dir. npz: your own .npz file "
                  "(--data_dir) with "
                  "'images' uint8 [N, H, W(, C)] and 'labels' int [N]. points: a built-in set of points (circle).")
flags.DEFINE_string("data_dir", _DEFAULTS.data_dir, "Directory of MNIST-format IDX files (plain or .gz) of "
                    "--dataset; empty: its system copy (fashion_mnist: /usr/share/datasets/fashion-mnist). "
                    "Files holding another set than --dataset are refused. With --data_source=folder the "
                    "image folder, with npz the .npz file.")
flags.DEFINE_string("tfds_data_dir", _DEFAULTS.tfds_data_dir, "TFDS data directory (default: TFDS's own).")
flags.DEFINE_integer("image_size", _DEFAULTS.image_size, "folder/npz: resize every image to this many "
                     "pixels square (28, 32 and 64 work with every network). 0: the npz's own size, or the "
                     "first image's size for a folder.")
flags.DEFINE_integer("channels", _DEFAULTS.channels, "folder/npz: 1 (gray) or 3 (RGB), converting either "
                     "way. 0: as the data (a folder is 1 if every image is gray, else 3).")
flags.DEFINE_enum("resize_mode", _DEFAULTS.resize_mode, list(own_images.RESIZE_MODES),
                  "folder/npz, images of another shape. " + described(own_images.RESIZE_MODES))
flags.DEFINE_float("holdout_fraction", _DEFAULTS.holdout_fraction, "folder/npz: fraction of each class "
                   "held out as the 'test' split for evaluation, chosen by --seed.")
flags.DEFINE_bool("allow_single_class", _DEFAULTS.allow_single_class, "folder/npz: train on a set with "
                  "one class (or a folder without subdirectories) as class 0.")
flags.DEFINE_enum("bad_images", _DEFAULTS.bad_images, list(own_images.BAD_IMAGE_POLICIES),
                  "folder: what to do with files that are not images or do not decode. "
                  + described(own_images.BAD_IMAGE_POLICIES))
