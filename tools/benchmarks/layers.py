"""Per-layer forward and forward+backward times of a preset's networks: float32 against bfloat16.

Each mode is a fresh process. Its child, `layer_times`, builds the preset's generator and discriminator
under one dtype policy, then times every layer that computes (Dense, Conv2D, Conv2DTranspose, LeakyReLU,
..., plus a BatchNormalization at the first generator stage's shape, which cdcgan does not have) on random
inputs of the shape it gets in the network at the preset's batch: forward alone, and forward with the
gradients of the input and of the layer's weights (what training asks of a layer in the middle of a
network). The generator's image layer is timed a second time as --image_conv=depthwise computes it, and a
dense matmul rate in the process's compute dtype is measured last.

See MODES_NOTE for the precisions. With `verbose=True` the process runs with ONEDNN_VERBOSE=1, and the
oneDNN primitives executed during the timed calls are summed per implementation and problem. The child sets
oneDNN's environment before it imports TensorFlow, so nothing this module imports at its top may load it.
"""

import argparse
import collections
import os
import re
import sys
import tempfile
import time

from tools.benchmarks import common
from tools.benchmarks import flops as flops_lib
from tools.benchmarks import training
from tools.benchmarks.common import markdown_table, median, print_header, run_child

HELP = "per-layer forward/backward times, float32 vs bfloat16 (and Eigen)"
MODES_NOTE = (
    "float32; bfloat16: every tensor and weight bfloat16 (the kernels alone, no casts); mixed_bfloat16: "
    "Keras's policy (float32 weights cast to bfloat16 at each call, inputs as the network hands them over, "
    "the layers the policy keeps in float32 kept so); *_eigen: the same with TF_ENABLE_ONEDNN_OPTS=0 "
    "(TensorFlow's Eigen kernels instead of oneDNN's).")

# Layers that only move data: not timed.
SKIPPED_TYPES = ("InputLayer", "Reshape", "Flatten", "Concatenate", "Embedding", "CategoryEncoding")

LAYER_MODES = {
    "float32": dict(precision="float32", onednn=True),
    "bfloat16": dict(precision="bfloat16", onednn=True),
    "mixed_bfloat16": dict(precision="mixed_bfloat16", onednn=True),
    "float32_eigen": dict(precision="float32", onednn=False),
    "bfloat16_eigen": dict(precision="bfloat16", onednn=False),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """Adds this measurement's options to its subcommand parser."""
  common.add_arguments(parser, common.PRESET_FLAGFILES)
  parser.add_argument("--modes", default="float32,bfloat16,mixed_bfloat16",
                      help="comma-separated: " + ", ".join(LAYER_MODES))
  parser.add_argument("--batch_size", type=int, default=0, help="batch (default 0: the preset's)")
  parser.add_argument("--calls", type=int, help="timed calls per measurement, median taken (default 10)")
  parser.add_argument("--warmup", type=int, help="untimed calls first (default 3)")
  parser.add_argument("--repeats", type=int, help="fresh processes per mode, alternating (default 3)")
  parser.add_argument("--matmul_sizes", help="n of the dense matmul rate per mode (default 1024,2048,4096; '' skips)")
  parser.add_argument("--onednn_verbose", action="store_true",
                      help="one more process per oneDNN mode with ONEDNN_VERBOSE=1: the primitives that ran")


# --- the parent ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
  """Per-layer forward and forward+backward times of a preset's networks: float32 against bfloat16.

  Each mode is a fresh process (alternating over --repeats); bfloat16 is every tensor and weight in
  bfloat16 (the kernels alone), mixed_bfloat16 Keras's policy (casts included, the float32 layers kept);
  the _eigen modes run with TF_ENABLE_ONEDNN_OPTS=0. --onednn_verbose adds one process per oneDNN mode with
  ONEDNN_VERBOSE=1 and lists the primitives (implementation, e.g. brg_conv_fwd:avx512_core_bf16 or
  jit:avx512_core, and reorders) that ran.
  """
  common.start_measurement(args, dict(repeats=3, calls=10, warmup=3, matmul_sizes="1024,2048,4096"),
                           dict(repeats=1, calls=2, warmup=1, matmul_sizes="512,1024"))
  modes = args.modes.split(",")
  unknown = sorted(set(modes) - set(LAYER_MODES))
  if unknown:
    sys.exit(f"--modes: unknown {', '.join(unknown)}; known: {', '.join(LAYER_MODES)}")
  flagfile = common.flagfile_path(args.flagfile)
  base = dict(flagfile=flagfile, flags=[], batch=args.batch_size, warmup=args.warmup, calls=args.calls,
              matmul_sizes=[int(n) for n in args.matmul_sizes.split(",") if n])
  runs = {mode: [] for mode in modes}
  for _ in range(args.repeats):
    for mode in modes:
      runs[mode].append(run_child(layer_times, dict(base, **LAYER_MODES[mode])))
  verbose = {}
  if args.onednn_verbose:
    for mode in modes:
      if LAYER_MODES[mode]["onednn"]:
        verbose[mode] = run_child(layer_times, dict(base, verbose=True, calls=max(2, args.calls // 3),
                                                      **LAYER_MODES[mode]))
  first = runs[modes[0]][0]
  batch = first["batch"]
  print_header("Layers: float32 against bfloat16", [
      f"The layers of `{os.path.relpath(flagfile)}`'s networks at batch {batch}, each timed on random inputs of "
      f"the shape and dtype it receives in the network: forward alone, and forward + the gradients of its "
      f"input and weights. Median of {args.calls} calls (after {args.warmup} untimed) per process, median of "
      f"{args.repeats} fresh processes per mode, modes alternating. Modes: {MODES_NOTE}",
      "Speed-ups are float32 time / that mode's time (above 1: faster than float32). GFLOP/s: forward + "
      "backward at 3x the forward FLOPs (input and weight gradients), float32."])
  keys = [(row["network"], row["name"]) for row in first["rows"]]

  def med(mode, key, field):
    values = [row[field] for run in runs[mode] for row in run["rows"] if (row["network"], row["name"]) == key]
    return median(values) if values else float("nan")

  info = {(row["network"], row["name"]): row for row in first["rows"]}
  others = [mode for mode in modes if mode != "float32"]
  headers = ["net", "layer", "type", "input", "fwd GFLOP"]
  for field, label in (("forward_ms", "fwd"), ("forward_backward_ms", "fwd+bwd")):
    headers += [f"{label} ms {mode}" for mode in modes]
    if "float32" in modes:
      headers += [f"{label} speed-up {mode}" for mode in others]
  if "float32" in modes:
    headers.append("fwd+bwd GFLOP/s float32")
  rows = []
  totals = collections.defaultdict(float)
  for key in keys:
    row = info[key]
    mixed_note = ""
    if "mixed_bfloat16" in modes:
      mixed_row = next((r for r in runs["mixed_bfloat16"][0]["rows"] if (r["network"], r["name"]) == key), None)
      if mixed_row and mixed_row["compute_dtype"] == "float32":
        mixed_note = " (float32 under mixed)"
    line = [row["network"], row["name"] + mixed_note, row["type"],
            "x".join(str(d) for d in row["input_shape"]), f"{row['forward_flops'] / 1e9:.3f}"]
    for field in ("forward_ms", "forward_backward_ms"):
      times = {mode: med(mode, key, field) for mode in modes}
      for mode in modes:
        totals[(row["network"], field, mode)] += times[mode]
      line += [f"{times[mode]:.2f}" for mode in modes]
      if "float32" in modes:
        line += [f"{times['float32'] / times[mode]:.2f}x" for mode in others]
    if "float32" in modes:
      both = med("float32", key, "forward_backward_ms")
      line.append(f"{3 * row['forward_flops'] / (both / 1000) / 1e9:.1f}" if row["forward_flops"] else "-")
    rows.append(line)
  for network in ("G", "D"):
    line = [f"**{network} total**", "", "", "", ""]
    for field in ("forward_ms", "forward_backward_ms"):
      line += [f"{totals[(network, field, mode)]:.2f}" for mode in modes]
      if "float32" in modes:
        line += [f"{totals[(network, field, 'float32')] / totals[(network, field, mode)]:.2f}x" for mode in others]
    if "float32" in modes:
      line.append("")
    rows.append(line)
  print(markdown_table(headers, rows, "llll" + "r" * (len(headers) - 4)))
  matmul_modes = [mode for mode in modes if runs[mode][0].get("matmul")]
  if matmul_modes:
    sizes = list(runs[matmul_modes[0]][0]["matmul"])
    print("\nDense matmul `tf.linalg.matmul` [n, n] x [n, n] in each process's compute dtype, GFLOP/s (best of 3 "
          "per process, median over processes):\n")
    print(markdown_table(["mode (dtype)"] + [f"n={size}" for size in sizes],
                         [[f"{mode} ({runs[mode][0]['matmul_dtype']})"]
                          + [f"{median([run['matmul'][size] for run in runs[mode]]) / 1e9:.0f}" for size in sizes]
                          for mode in matmul_modes]))
  for mode, result in verbose.items():
    print(f"\noneDNN primitives executed in the {mode} process (ONEDNN_VERBOSE=1, {max(2, args.calls // 3)} timed "
          f"calls per measurement plus warm-up), summed, largest first:\n")
    print(markdown_table(["primitive", "implementation", "direction", "data types", "problem", "runs", "ms"],
                         [[*row[:5], row[5], f"{row[6]:.1f}"] for row in result["primitives"]], "lllllrr"))


# --- the child -----------------------------------------------------------------------------------


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
  return median(times)


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

  config, _ = train.resolve_training_config(training.make_config(spec))
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
