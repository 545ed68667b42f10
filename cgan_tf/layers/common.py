"""What every layer module shares: the Keras serialization package, and the dtype sums are kept in."""

import keras

# Every layer registers for Keras serialization under this package ("cgan_tf>SNConv2D"), so a saved
# generator loads back with safe_mode=True once `cgan_tf.layers` is imported.
PACKAGE = "cgan_tf"


def accumulation_dtype(x) -> str:
  """float32 for float32 and lower-precision tensors, float64 for float64: a sum or power iteration over
  many values keeps at least float32 accuracy under a mixed policy, and the full accuracy of a float64 run."""
  return "float64" if keras.backend.standardize_dtype(x.dtype) == "float64" else "float32"
