"""The generator's image layer as oneDNN computes it fast: a convolution to few channels as a depthwise one.

oneDNN pads a convolution's output channels to a block of 16-64, so a convolution to the image's 1-4
channels runs at a few GFLOP/s on CPUs; `ImageConv2D` computes the same function with the same weights as
a depthwise convolution summed over channels. "auto" picks it where oneDNN runs the layer.
"""

import weakref

import keras
from keras import layers
from keras import ops
import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops  # pylint: disable=g-direct-tensorflow-import

from cgan_tf.layers.common import PACKAGE
from cgan_tf.registry import Registry

# How a generator's image layer (a stride-1 convolution to the image's 1 or 3 channels) is computed:
# "auto" is "depthwise" where oneDNN runs the layer (the CPU without XLA), else "standard": XLA compiles its
# own convolutions, in which the depthwise form measured several times slower, and so do GPUs and TPUs.
IMAGE_CONVS = Registry("image convolution", {
    "auto": "depthwise unless --xla=on or TensorFlow sees a GPU or TPU",
    "standard": "Conv2D",
    "depthwise": "a depthwise convolution summed over channels, with the transposed convolution's gradients",
})
# Output channels up to which the depthwise formulation is used; wider convolutions block well as they are.
NARROW_FILTERS = 4


def narrow_conv2d(inputs, kernel):
  """A stride-1, "same", odd-sized convolution to few output channels, computed as oneDNN handles well.

  oneDNN blocks a convolution's output channels by 16 to 64, so a 7x7 convolution from 64 channels to 1
  does the arithmetic of 64 output channels and runs at a few GFLOP/s; its filter gradient likewise. The
  same numbers come out of (a) a depthwise convolution with `filters` outputs per input channel, summed
  over the input channels, forward; (b) the input gradient as the usual transposed convolution, which
  has no narrow dimension to block; (c) the filter gradient as that of the adjoint convolution, filters
  -> channels, whose output channels are the wide side, flipped in space and transposed back.

  Args:
    inputs: [batch, height, width, channels].
    kernel: [kh, kw, channels, filters], kh and kw odd, in the inputs' dtype.

  Returns:
    [batch, height, width, filters], as `tf.nn.conv2d(inputs, kernel, 1, "SAME")`.
  """
  channels, filters = (int(d) for d in kernel.shape[2:])

  @tf.custom_gradient
  def convolve(x, k):
    shape = tf.shape(x)
    per_channel = tf.nn.depthwise_conv2d(x, k, [1, 1, 1, 1], "SAME")
    per_channel = tf.reshape(per_channel, tf.concat([shape[:3], [channels, filters]], 0))
    # A 16-bit sum over many channels would lose digits: accumulate in float32.
    wide = tf.float32 if x.dtype in (tf.float16, tf.bfloat16) else x.dtype
    y = tf.cast(tf.reduce_sum(tf.cast(per_channel, wide), axis=3), x.dtype)
    return y, lambda dy: _input_and_kernel_gradients(dy, x, k)

  outputs = convolve(inputs, kernel)
  if not tf.executing_eagerly():
    _register_without_the_graph(outputs)
  return outputs


def _input_and_kernel_gradients(dy, x, k):
  kh, kw, channels, filters = (int(d) for d in k.shape)
  dx = tf.nn.conv2d_transpose(dy, k, tf.shape(x), 1, "SAME")
  adjoint = tf.raw_ops.Conv2DBackpropFilter(input=dy, filter_sizes=[kh, kw, filters, channels], out_backprop=x,
                                            strides=[1, 1, 1, 1], padding="SAME")
  return dx, tf.transpose(tf.reverse(adjoint, [0, 1]), [0, 1, 3, 2])


def _register_without_the_graph(outputs) -> None:
  """Replaces the gradient function that `tf.custom_gradient` registered for this trace.

  Traced into a graph, the custom gradient registers a function under a fresh name in TensorFlow's
  process-wide gradient registry (read when a graph is differentiated symbolically, or its gradients are
  saved with a SavedModel), and that function holds tensors of the graph, which is therefore never freed:
  each training, export or evaluation in a process would keep its whole step graph. The replacement
  computes the same gradient from the op's inputs (its forward output, x and the kernel) and holds the op
  weakly. (A GradientTape uses the function it recorded with the op, not this one.)
  """
  traced = weakref.ref(outputs.op)

  def gradient(op, dy, *unused_gradients):
    op = op if op is not None else traced()  # A SavedModel traces it without the op.
    return [None, *_input_and_kernel_gradients(dy, op.inputs[1], op.inputs[2])]

  entry = tf_ops._gradient_registry._registry[outputs.op.get_attr("_gradient_op_type").decode()]  # pylint: disable=protected-access
  entry["type"] = gradient


@keras.saving.register_keras_serializable(package=PACKAGE)
class ImageConv2D(layers.Conv2D):
  """Conv2D that runs as `narrow_conv2d` where that applies (same weights, same function, other kernels).

  It applies to a stride-1, undilated, ungrouped, channels-last, "same" convolution with an odd kernel
  and at most NARROW_FILTERS filters under the TensorFlow backend; anything else is plain Conv2D.
  """

  def _narrow(self) -> bool:
    return (self.filters <= NARROW_FILTERS and tuple(self.strides) == (1, 1)
            and tuple(self.dilation_rate) == (1, 1) and self.groups == 1 and self.padding == "same"
            and self.data_format == "channels_last" and all(size % 2 for size in self.kernel_size)
            and keras.backend.backend() == "tensorflow")

  def convolution_op(self, inputs, kernel):
    if not self._narrow():
      return super().convolution_op(inputs, kernel)
    kernel = ops.convert_to_tensor(kernel)
    return narrow_conv2d(inputs, ops.cast(kernel, inputs.dtype))


def resolve_image_conv(formulation: str, xla: str = "auto") -> str:
  """"auto" as "standard" under --xla=on or when TensorFlow sees a GPU or TPU, else "depthwise"; the others
  as they are. (--xla=auto compiles only on accelerators.)"""
  if formulation not in IMAGE_CONVS:
    raise ValueError(f"image conv formulation must be one of {', '.join(IMAGE_CONVS)}, got {formulation!r}")
  if formulation != "auto":
    return formulation
  accelerated = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU")
  return "standard" if accelerated or xla == "on" else "depthwise"


def image_conv2d(filters, kernel_size, formulation="auto", xla="auto", **kwargs):
  """The generator's image layer: Conv2D, or ImageConv2D where `formulation` resolves to "depthwise"."""
  depthwise = resolve_image_conv(formulation, xla) == "depthwise"
  return (ImageConv2D if depthwise else layers.Conv2D)(filters, kernel_size, **kwargs)
