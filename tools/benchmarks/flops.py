"""FLOPs of a cgan_tf train step counted from the networks' layers, and this machine's dense matmul rate."""

import dataclasses
import time
from typing import Dict, List, Sequence, Set

COUNTING_RULE = (
    "FLOPs are counted from layer shapes: 2 per multiply-add of every Dense, Conv2D and Conv2DTranspose "
    "layer. A forward pass counts 1x; its backward pass adds 1x for the weight gradients when that network "
    "is being trained and 1x for the input gradients when a gradient must flow on to an earlier layer or "
    "network, so a trained layer in the middle of a network costs about 3x its forward. Embeddings "
    "(gathers), activations, bias adds, dropout, normalization, losses and optimizer updates are not "
    "counted. An alternating step = G forward for D's fakes + D forward/backward on the real and the "
    "fake batch (D's weight gradients) + G forward/backward with D forward/backward in between (G's weight "
    "gradients, D's input gradients only), all at the global batch; --d_steps repeats the D part. The "
    "baseline's step is counted by the same rule: G forward for its fakes, D forward/backward (D's weight "
    "gradients) on its real and its fake batch, then the combined model: G forward/backward with D "
    "forward and D's input gradients (D frozen).")

# Layer types whose multiply-adds are counted; any other layer with trainable weights is reported as
# uncounted rather than silently taken as free.
COUNTED_TYPES = ("Dense", "Conv2D", "Conv2DTranspose", "EinsumDense")
FREE_TYPES = ("Embedding", "BatchNormalization", "LayerNormalization", "GroupNormalization")


@dataclasses.dataclass
class LayerCost:
  """One layer call of a functional model.

  Attributes:
    name: the layer's name.
    kind: its class name.
    macs: multiply-adds of one example's forward pass.
    trainable: whether it has weights (trained whenever its network is; a frozen flag does not matter).
    inputs: ids of its input tensors.
    outputs: ids of its output tensors.
  """

  name: str
  kind: str
  macs: int
  trainable: bool
  inputs: List[int]
  outputs: List[int]


def _product(values) -> int:
  result = 1
  for value in values:
    result *= int(value)
  return result


def layer_kind(layer) -> str:
  """The layer's class name, or that of the first counted class it derives from (cgan_tf's ImageConv2D and
  SNConv2D are Conv2Ds with the same arithmetic)."""
  for cls in type(layer).__mro__:
    if cls.__name__ in COUNTED_TYPES:
      return cls.__name__
  return type(layer).__name__


def forward_macs(layer, input_shapes: Sequence[tuple], output_shapes: Sequence[tuple]) -> int:
  """Multiply-adds of one example through `layer`, from its input and output shapes (batch excluded)."""
  kind = layer_kind(layer)
  inner = getattr(layer, "layer", None)  # Wrappers such as SpectralNormalization cost their inner layer.
  if inner is not None and type(inner).__name__ in COUNTED_TYPES:
    return forward_macs(inner, input_shapes, output_shapes)
  if kind == "Dense":
    (in_shape,), (out_shape,) = input_shapes, output_shapes
    return _product(in_shape[1:]) * int(out_shape[-1])
  if kind == "EinsumDense":
    return _product(output_shapes[0][1:]) * int(input_shapes[0][-1])
  if kind == "Conv2D":
    kernel_h, kernel_w = layer.kernel_size
    in_channels = int(input_shapes[0][-1]) // getattr(layer, "groups", 1)
    return _product(output_shapes[0][1:]) * kernel_h * kernel_w * in_channels
  if kind == "Conv2DTranspose":
    kernel_h, kernel_w = layer.kernel_size
    # Each input pixel is scattered through the whole kernel into every output channel.
    return _product(input_shapes[0][1:]) * kernel_h * kernel_w * int(output_shapes[0][-1])
  return 0


def layer_costs(model) -> List[LayerCost]:
  """The layer calls of a Keras functional model in topological order, with their forward costs."""
  costs = []
  for layer in model.operations:
    if type(layer).__name__ == "InputLayer":
      continue
    for node in layer._inbound_nodes:  # pylint: disable=protected-access
      inputs = [tensor for tensor in node.input_tensors]
      outputs = [tensor for tensor in node.output_tensors]
      costs.append(LayerCost(
          name=layer.name, kind=type(layer).__name__,
          macs=forward_macs(layer, [tuple(t.shape) for t in inputs], [tuple(t.shape) for t in outputs]),
          trainable=bool(layer.weights), inputs=[id(t) for t in inputs],
          outputs=[id(t) for t in outputs]))
  return costs


def uncounted_layers(model) -> List[str]:
  """Layers with trainable weights whose arithmetic this module does not count (empty for cdcgan)."""
  return [f"{cost.name} ({cost.kind})" for cost in layer_costs(model)
          if cost.trainable and cost.macs == 0 and cost.kind not in FREE_TYPES]


def backward_macs(model, weight_gradients: bool, gradient_inputs: Set[int]) -> int:
  """Multiply-adds of one example's backward pass through `model`.

  Args:
    model: a Keras functional model.
    weight_gradients: whether the model's own weights get gradients in this pass.
    gradient_inputs: indices into `model.inputs` whose gradient is needed (e.g. D's image, to reach G).

  Returns:
    Per layer: its forward cost once for the weight gradient (if its weights are trained) and once for
    the input gradient (if any of its inputs lies downstream of a trained weight or a needed input).
  """
  needs_gradient: Dict[int, bool] = {id(tensor): index in gradient_inputs
                                     for index, tensor in enumerate(model.inputs)}
  total = 0
  for cost in layer_costs(model):
    upstream = any(needs_gradient.get(tensor, False) for tensor in cost.inputs)
    trained = weight_gradients and cost.trainable
    total += cost.macs * (int(trained) + int(upstream))
    for tensor in cost.outputs:
      needs_gradient[tensor] = upstream or trained
  return total


def image_input_index(discriminator) -> int:
  """The index of D's image input: the one with the most dimensions."""
  ranks = [len(tensor.shape) for tensor in discriminator.inputs]
  return ranks.index(max(ranks))


def train_step_flops(generator, discriminator, batch_size: int, update_scheme: str = "alternating",
                     d_steps: int = 1) -> Dict[str, float]:
  """FLOPs of one cgan_tf train step at global batch `batch_size`, by the rule in `COUNTING_RULE`.

  Args:
    generator: the Keras generator.
    discriminator: the Keras discriminator.
    batch_size: the global batch (real images per D update; fakes per D and per G update).
    update_scheme: 'alternating' (cgan_tf's default) or 'simultaneous'.
    d_steps: D updates per step (alternating only).

  Returns:
    {"total", "generator_forward", "discriminator_forward"} in FLOPs (the last two per example, forward
    only, for reference).
  """
  g_forward = sum(cost.macs for cost in layer_costs(generator))
  d_forward = sum(cost.macs for cost in layer_costs(discriminator))
  g_backward = backward_macs(generator, True, set())
  d_backward_weights = backward_macs(discriminator, True, set())
  d_backward_to_image = backward_macs(discriminator, False, {image_input_index(discriminator)})
  if update_scheme == "simultaneous":
    # One forward of G and of D on real and fake; D's tape differentiates both D passes for D's weights,
    # G's tape the fake pass back to the image and then G.
    macs = g_forward + 2 * d_forward + 2 * d_backward_weights + d_backward_to_image + g_backward
  else:
    d_part = g_forward + 2 * (d_forward + d_backward_weights)
    g_part = g_forward + d_forward + d_backward_to_image + g_backward
    macs = d_steps * d_part + g_part
  return {"total": 2.0 * macs * batch_size, "generator_forward": 2.0 * g_forward,
          "discriminator_forward": 2.0 * d_forward}


def baseline_step_flops(generator, discriminator, d_batch: int, gan_batch: int) -> Dict[str, float]:
  """FLOPs of one step of tools/baseline_source_cgan.py, by the rule in `COUNTING_RULE`.

  Args:
    generator: the baseline's G.
    discriminator: the baseline's D.
    d_batch: real images, and fakes, per D update (the source: half of `gan_batch`).
    gan_batch: the combined model's batch (G's update).

  Returns:
    {"total", "discriminator_updates", "generator_update"} in FLOPs. At d_batch == gan_batch == b the
    total equals `train_step_flops(generator, discriminator, b)` (alternating, one D step).
  """
  g_forward = sum(cost.macs for cost in layer_costs(generator))
  d_forward = sum(cost.macs for cost in layer_costs(discriminator))
  d_backward_weights = backward_macs(discriminator, True, set())
  d_backward_to_image = backward_macs(discriminator, False, {image_input_index(discriminator)})
  g_backward = backward_macs(generator, True, set())
  # D.train_on_batch(real), G.predict, D.train_on_batch(fakes): two D passes trained, one G forward.
  d_part = d_batch * (2 * (d_forward + d_backward_weights) + g_forward)
  # The combined model with D frozen: D's weight gradients are never asked for, only its input gradients.
  g_part = gan_batch * (g_forward + d_forward + d_backward_to_image + g_backward)
  return {"total": 2.0 * (d_part + g_part), "discriminator_updates": 2.0 * d_part,
          "generator_update": 2.0 * g_part}


def profiled_train_step_flops(model, batch_size: int, image_shape) -> float:
  """FLOPs of a ConditionalGAN's `train_step` graph as TF's v1 profiler counts them (a cross-check).

  The profiler sums the FLOP statistics TF registers per op (convolutions and their gradients, matmuls,
  many elementwise ops) over the traced graph with static shapes.

  Raises:
    Exception: whatever the tracing or profiler raises (the caller reports it as unavailable).
  """
  import tensorflow as tf

  step = tf.function(model.train_step)
  concrete = step.get_concrete_function((tf.TensorSpec([batch_size, *image_shape], tf.float32),
                                         tf.TensorSpec([batch_size], tf.int32)))
  options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  options["output"] = "none"
  profile = tf.compat.v1.profiler.profile(concrete.graph, options=options)
  return float(profile.total_float_ops)


def matmul_rate(sizes: Sequence[int] = (2048, 4096), repeats: int = 5, dtype: str = "float32") -> Dict[int, float]:
  """This machine's dense matmul rate in TF: FLOP/s of `tf.linalg.matmul` in `dtype`, best of `repeats`.

  Returns:
    size -> the best rate over the repeats for [size, size] x [size, size] (2 * size**3 FLOPs).
  """
  import tensorflow as tf

  rates = {}
  for size in sizes:
    a = tf.cast(tf.random.normal([size, size]), dtype)
    b = tf.cast(tf.random.normal([size, size]), dtype)
    product = tf.function(lambda x, y: tf.linalg.matmul(x, y))
    product(a, b).numpy()  # Trace and warm the caches.
    best = float("inf")
    for _ in range(repeats):
      start = time.perf_counter()
      result = product(a, b)
      float(result[0, 0])  # Wait for it: reading one element costs nothing next to the product.
      best = min(best, time.perf_counter() - start)
    rates[size] = 2.0 * size ** 3 / best
  return rates
