"""Data in: the data types, and the registry of sources that read them (--data_source).

  types.py        ImageData, PointData, the Source a reader registers with, DataError
  sources.py      the registry, and what the package asks it (load, kind_of, source_names, ...)
  idx.py          MNIST-format IDX files (Fashion-MNIST's Debian package, any --data_dir)
  tfds.py         TensorFlow Datasets image classification sets
  own_images.py   your own images: a folder of class subdirectories, or an .npz file
  points.py       built-in sets of points (the 2-D circle)
  pipeline.py     the resumable, replica-split tf.data training pipeline
  inspection.py   --mode=inspect_data

This package only hands the names of types.py and sources.py on.
"""

from cgan_tf.data.sources import AUTO
from cgan_tf.data.sources import SOURCES
from cgan_tf.data.sources import builtin_datasets
from cgan_tf.data.sources import kind_of
from cgan_tf.data.sources import load
from cgan_tf.data.sources import resolve
from cgan_tf.data.sources import source_name
from cgan_tf.data.sources import source_names
from cgan_tf.data.types import KINDS
from cgan_tf.data.types import Data
from cgan_tf.data.types import DataError
from cgan_tf.data.types import ImageData
from cgan_tf.data.types import PointData
from cgan_tf.data.types import Source
