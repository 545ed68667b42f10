"""Per-layer forward and forward+backward times of a preset's networks, in one precision per process.

The child `layer_times` builds the preset's generator and discriminator under one dtype policy, then
times every layer that computes (Dense, Conv2D, Conv2DTranspose, LeakyReLU, ..., plus a
BatchNormalization at the first generator stage's shape, which cdcgan does not have) on random inputs of
the shape it gets in the network at the preset's batch: forward alone, and forward with the gradients of
the input and of the layer's weights (what training asks of a layer in the middle of a network). The
generator's image layer is timed a second time as --image_conv=depthwise computes it, and a dense matmul
rate in the process's compute dtype is measured last.

See MODES_NOTE for the precisions. With `verbose=True` the process runs with ONEDNN_VERBOSE=1, and the oneDNN
primitives executed during the timed calls are summed per implementation and problem.
"""

import collections
import os
import re
import statistics
import tempfile
import time

MODES_NOTE = (
    "float32; bfloat16: every tensor and weight bfloat16 (the kernels alone, no casts); mixed_bfloat16: "
    "Keras's policy (float32 weights cast to bfloat16 at each call, inputs as the network hands them over, "
    "the layers the policy keeps in float32 kept so); *_eigen: the same with TF_ENABLE_ONEDNN_OPTS=0 "
    "(TensorFlow's Eigen kernels instead of oneDNN's).")

# Layers that only move data: not timed.
SKIPPED_TYPES = ("InputLayer", "Reshape", "Flatten", "Concatenate", "Embedding", "CategoryEncoding")


def _policy(precision: str) -> str:
  return {"float32": "float32", "bfloat16": "bfloat16", "mixed_bfloat16": "mixed_bfloat16"}[precision]


def _timed(function, args, warmup: int, calls: int) -> float:
  """Median seconds of `calls` calls after `warmup` untimed ones (CPU ops finish before a call returns)."""
  for _ in range(warmup):
    function(*args)
  times = []
  for _ in range(calls):
    start = time.perf_counter()
    function(*args)
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def _layer_cases(model):
  """(layer, input shape without batch, input dtype) of each single-input computing layer of `model`."""
  cases = []
  for layer in model.layers:
    if type(layer).__name__ in SKIPPED_TYPES or not layer._inbound_nodes:  # pylint: disable=protected-access
      continue
    node = layer._inbound_nodes[0]  # pylint: disable=protected-access
    if len(node.input_tensors) != 1:
      continue  # The projection logit and other two-input layers: small, and not a kernel question.
    tensor = node.input_tensors[0]
    cases.append((layer, tuple(tensor.shape[1:]), tensor.dtype))
  return cases


def _measure(layer, shape, dtype, batch, warmup, calls):
  import keras
  import tensorflow as tf

  x = tf.cast(tf.random.normal([batch, *shape]), dtype)
  y = layer(x, training=True)
  dy = tf.cast(tf.random.normal(y.shape), y.dtype)
  weights = layer.trainable_variables

  @tf.function
  def forward(x):
    return layer(x, training=True)

  @tf.function
  def forward_backward(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      out = layer(x, training=True)
      loss = tf.reduce_sum(tf.cast(out, tf.float32) * tf.cast(dy, tf.float32))
    # The loss is returned too, or the forward pass of a linear layer would be pruned away.
    return loss, tape.gradient(loss, [x] + list(weights))

  del keras
  return _timed(forward, (x,), warmup, calls), _timed(forward_backward, (x,), warmup, calls)


def _parse_verbose(path: str) -> list:
  """oneDNN's ONEDNN_VERBOSE=1 exec lines summed per (primitive, implementation, direction, data types,
  problem)."""
  totals = collections.defaultdict(lambda: [0, 0.0])
  with open(path, errors="replace") as f:
    for line in f:
      if not line.startswith("onednn_verbose") or ",primitive,exec," not in line:
        continue
      fields = line.strip().split(",")
      try:
        milliseconds = float(fields[-1])
      except ValueError:
        continue
      kind, implementation, direction, descriptors, problem = fields[5], fields[6], fields[7], fields[8], fields[11]
      types = ",".join(sorted(set(re.findall(r"(?:src|wei|dst)[_:]([a-z0-9]+?):", descriptors))))
      entry = totals[(kind, implementation, direction, types, problem)]
      entry[0] += 1
      entry[1] += milliseconds
  return sorted(([*key, count, ms] for key, (count, ms) in totals.items()), key=lambda row: -row[-1])


def layer_times(spec: dict) -> dict:
  """The child: spec flagfile (+ flags), precision, batch (0: the preset's), warmup, calls, onednn, verbose."""
  if not spec.get("onednn", True):
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"  # Read when TensorFlow loads: before the first import.
  if spec.get("verbose"):
    os.environ["ONEDNN_VERBOSE"] = "1"
  import keras
  import tensorflow as tf
  from cgan_tf import layers as cgan_layers
  from cgan_tf import networks
  from cgan_tf import train
  from tools.benchmarks import children
  from tools.benchmarks import flops as flops_lib

  config, _ = train.resolve_training_config(children.make_config(spec))
  batch = spec.get("batch") or config.batch_size
  keras.config.set_dtype_policy(_policy(spec["precision"]))
  generator, discriminator = networks.build_networks(config)
  cases = [("G", *case) for case in _layer_cases(generator)] + [("D", *case) for case in _layer_cases(discriminator)]
  first_up = next(((layer, shape) for net, layer, shape, _ in cases
                   if net == "G" and type(layer).__name__ == "Conv2DTranspose"), None)
  if first_up is not None:
    # Not in cdcgan; the resnet networks normalize feature maps like this one, the first stage's output.
    bn = keras.layers.BatchNormalization(name="batch_norm_extra")
    bn_shape = tuple(first_up[0].compute_output_shape((None, *first_up[1]))[1:])
    bn.build((None, *bn_shape))
    cases.append(("extra", bn, bn_shape, keras.config.dtype_policy().compute_dtype))
  image = next(((layer, shape, dtype) for net, layer, shape, dtype in cases if net == "G"
                and type(layer).__name__ == "Conv2D" and layer.filters <= cgan_layers.NARROW_FILTERS), None)
  if image is not None:
    # The same layer as --image_conv=depthwise computes it (cgan_tf.layers.ImageConv2D).
    narrow = cgan_layers.ImageConv2D.from_config(dict(image[0].get_config(), name=image[0].name + "_depthwise"))
    narrow.build((None, *image[1]))
    cases.append(("extra", narrow, image[1], image[2]))
  verbose_path = None
  saved_stdout = None
  if spec.get("verbose"):
    # oneDNN prints to the process's stdout: send it to a file for the timed part only.
    handle, verbose_path = tempfile.mkstemp(prefix="onednn_verbose_", suffix=".log")
    os.close(handle)
    import sys
    sys.stdout.flush()
    saved_stdout = os.dup(1)
    target = os.open(verbose_path, os.O_WRONLY | os.O_TRUNC)
    os.dup2(target, 1)
    os.close(target)
  rows = []
  try:
    for net, layer, shape, dtype in cases:
      forward_s, both_s = _measure(layer, shape, dtype, batch, spec.get("warmup", 3), spec.get("calls", 10))
      macs = 0
      if flops_lib.layer_kind(layer) in flops_lib.COUNTED_TYPES:
        output_shape = tuple(layer.compute_output_shape((None, *shape))[1:])
        macs = flops_lib.forward_macs(layer, [(None, *shape)], [(None, *output_shape)])
      rows.append(dict(network=net, name=layer.name, type=type(layer).__name__, input_shape=list(shape),
                       input_dtype=str(dtype), compute_dtype=layer.dtype_policy.compute_dtype,
                       forward_ms=forward_s * 1000.0, forward_backward_ms=both_s * 1000.0,
                       forward_flops=2.0 * macs * batch))
  finally:
    if saved_stdout is not None:
      import sys
      sys.stdout.flush()
      os.dup2(saved_stdout, 1)
      os.close(saved_stdout)
  result = dict(rows=rows, batch=batch, precision=spec["precision"], onednn=spec.get("onednn", True),
                tf_version=tf.__version__)
  if spec.get("matmul_sizes") and not spec.get("verbose"):
    # Dense [n, n] x [n, n] in this process's compute dtype: the rate the layers could approach.
    dtype = "float32" if spec["precision"] == "float32" else "bfloat16"
    rates = flops_lib.matmul_rate(spec["matmul_sizes"], spec.get("matmul_repeats", 3), dtype)
    result["matmul"] = {str(size): rate for size, rate in rates.items()}
    result["matmul_dtype"] = dtype
  if verbose_path:
    result["primitives"] = _parse_verbose(verbose_path)[:spec.get("verbose_rows", 40)]
    os.remove(verbose_path)
  return result
