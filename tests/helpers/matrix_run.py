"""Trains a list of option combinations in one fresh process and reports what each cell showed.

Run by tests/e2e/test_matrix.py: the cells run in a process of their own with two logical CPU devices, so a
2-replica MirroredStrategy has real replicas, and every cell with more than one replica uses the same
device set (TF 2.21 fails collective reductions when strategies over different sets share a process).

  python -m tests.helpers.matrix_run plan.json report.json claims/

plan.json: {"data_dir": ..., "root": ..., "cells": [{"id": ..., "config": {...Config overrides}}]}.
report.json: {cell id: {"ok": bool, "error": str, ...facts the tests assert on}}.
claims/: a file per cell some process has taken; several processes share one plan, each cell trained once.
"""

import json
import os
import sys
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cgan_tf import distribute  # noqa: E402
from cgan_tf import export  # noqa: E402
from cgan_tf import layers as cgan_layers  # noqa: E402
from cgan_tf import loss_scale  # noqa: E402
from cgan_tf import networks  # noqa: E402
from cgan_tf import train  # noqa: E402
from cgan_tf.config import Config  # noqa: E402
from tests.helpers.collection import collect_less_often  # noqa: E402

LOGICAL_CPUS = 2
NORMALIZATIONS = (keras.layers.BatchNormalization, cgan_layers.ConditionalBatchNorm)
SHAPE_ONLY = (keras.layers.Reshape,)


def biases_before_normalization(model: keras.Model) -> set:
  """Paths of biases whose every use is normalized away: batch normalization subtracts the batch mean,
  so their gradient is exactly zero and no training step can move them."""
  paths = set()

  def consumers(layer):
    for node in layer._outbound_nodes:  # pylint: disable=protected-access
      operation = node.operation
      if isinstance(operation, SHAPE_ONLY):
        yield from consumers(operation)
      else:
        yield operation

  for layer in model._flatten_layers(include_self=False):  # pylint: disable=protected-access
    bias = getattr(layer, "bias", None)
    if bias is None:
      continue
    uses = list(consumers(layer))
    if uses and all(isinstance(use, NORMALIZATIONS) for use in uses):
      paths.add(bias.path)
  return paths


def biases_affine_to_logit(discriminator: keras.Model) -> set:
  """Paths of D's biases that reach the logit through affine layers only (the logit's own, and those of
  linear layers right before it through reshapes).

  A loss that weighs real and fake examples equally and is linear in the logit near zero (Wasserstein
  always, hinge while every logit is inside its margin, as at initialization) gives these biases a
  gradient of exactly zero: adding a constant to every logit changes neither loss.
  """
  paths = set()
  layer = discriminator.outputs[0]._keras_history.operation  # pylint: disable=protected-access
  while layer is not None:
    if isinstance(layer, cgan_layers.ProjectionLogit):
      layer, affine = layer.linear, True
      paths.add(layer.bias.path)
      break
    affine = getattr(layer, "activation", None) in (None, keras.activations.linear)
    if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)) and affine:
      if layer.bias is not None:
        paths.add(layer.bias.path)
    elif not isinstance(layer, (keras.layers.Flatten, keras.layers.Reshape)):
      break
    inputs = layer._inbound_nodes[0].input_tensors  # pylint: disable=protected-access
    layer = inputs[0]._keras_history.operation if len(inputs) == 1 else None  # pylint: disable=protected-access
  return paths


def run_cell(cell: dict, data_dir: str, root: str) -> dict:
  """Trains one cell, exports it and serves the export; returns the facts to assert on."""
  cell_dir = os.path.join(root, cell["id"])
  config = Config(**dict(dict(run_dir=os.path.join(cell_dir, "run"), dataset="synthetic", data_source="idx",
                              data_dir=data_dir, verbose=0), **cell["config"]))
  # The initial weights: train() seeds Keras with config.seed right before it builds the networks.
  resolved = train.resolve_training_config(config)[0]
  keras.utils.set_random_seed(config.seed)
  distribute.set_precision(distribute.resolve_precision(config))
  initial_g, initial_d = networks.build_networks(resolved)
  # Matched by position: layer names without an explicit name carry a process-wide counter.
  initial = [v.numpy() for v in initial_g.trainable_variables + initial_d.trainable_variables]
  initial_paths = [v.path for v in initial_g.trainable_variables + initial_d.trainable_variables]

  started = time.monotonic()
  model = train.train(config)
  train_seconds = time.monotonic() - started
  facts = {"replicas": model.distribute_strategy.num_replicas_in_sync,
           "jit_compile": bool(model.jit_compile),
           "policy": keras.config.dtype_policy().name,
           "step": int(model.step_counter.numpy())}
  facts["losses"] = {m.name: float(m.result()) for m in model.metrics}
  facts["loss_scaled"] = [loss_scale.is_scaled(model.d_optimizer), loss_scale.is_scaled(model.g_optimizer)]
  facts["layer_compute_dtypes"] = sorted({layer.compute_dtype for layer in model.generator.layers
                                          + model.discriminator.layers})
  facts["variable_dtypes"] = sorted({keras.backend.standardize_dtype(v.dtype) for v in
                                     model.generator.trainable_variables + model.discriminator.trainable_variables})
  variables = model.generator.trainable_variables + model.discriminator.trainable_variables
  trained = [v.numpy() for v in variables]
  facts["variables"] = len(trained)
  facts["same_variables"] = [t.shape for t in trained] == [i.shape for i in initial]
  # Reported by the initial networks' paths, the names the structural facts below use.
  facts["unmoved"] = sorted(initial_paths[i] for i, value in enumerate(trained) if np.array_equal(value, initial[i]))
  facts["biases_before_normalization"] = sorted(biases_before_normalization(initial_g)
                                                | biases_before_normalization(initial_d))
  facts["biases_affine_to_logit"] = sorted(biases_affine_to_logit(initial_d))
  facts["non_finite"] = sorted(v.path for v, value in zip(variables, trained) if not np.all(np.isfinite(value)))
  if model.ema_generator is not None:
    facts["ema_moved"] = all(not np.array_equal(average.numpy(), start) for average, start in
                             zip(model.ema_generator.trainable_variables, initial)
                             if not np.array_equal(start, 0 * start))
  # Outputs in float32 whatever the compute dtype, so float16 never reaches a loss or a served image.
  image_layers = [layer for layer in model.generator.layers if layer.name == "g_image"]
  facts["image_layer"] = type(image_layers[0]).__name__ if image_layers else None
  facts["g_output_dtype"] = tf.as_dtype(model.generator.output.dtype).name
  facts["d_output_dtype"] = tf.as_dtype(model.discriminator.output.dtype).name

  # The export of this run loads and serves every class (or a count, unconditionally).
  started = time.monotonic()
  version_dir = export.export(Config(mode="export", run_dir=config.run_dir, export_dir=os.path.join(cell_dir, "models"),
                                     model_name="cell", max_batch=32))
  served = tf.saved_model.load(version_dir)
  metadata = export.read_metadata(served)
  classes = int(metadata["num_classes"])
  if classes:
    outputs = served.signatures["serving_default"](label=tf.range(classes, dtype=tf.int32))
  else:
    outputs = served.signatures["serving_default"](count=tf.constant(3, tf.int32))
  images = outputs["images"].numpy()
  facts["served_shape"] = list(images.shape)
  facts["served_dtype"] = images.dtype.name
  facts["served_classes"] = classes
  facts["served_spread"] = float(images.astype(np.float64).std())
  facts["train_seconds"], facts["export_seconds"] = round(train_seconds, 1), round(time.monotonic() - started, 1)
  distribute.set_precision("float32")
  return facts


def _one_strategy_per_device_set(create_strategy):
  """`create_strategy`, returning the same strategy object for the same devices.

  A second MirroredStrategy in one process allocates its collective keys afresh and collides with the
  first one's collectives still registered with the runtime ("Shape mismatch in the collective
  instance"); a training process makes one strategy, and so does each cell here.
  """
  made = {}

  def create(config):
    key = (config.strategy, config.num_cpu_devices)
    if key not in made:
      made[key] = create_strategy(config)
    return made[key]

  return create


def claim(claims_dir: str, cell_id: str) -> bool:
  """Whether this process takes the cell: the first to create its claim file does."""
  try:
    os.close(os.open(os.path.join(claims_dir, cell_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
  except FileExistsError:
    return False
  return True


def main(plan_path: str, report_path: str, claims_dir: str) -> None:
  with open(plan_path) as f:
    plan = json.load(f)
  distribute.configure_cpu_devices(LOGICAL_CPUS)
  collect_less_often()
  distribute.create_strategy = _one_strategy_per_device_set(distribute.create_strategy)
  report = {}
  for cell in plan["cells"]:
    if not claim(claims_dir, cell["id"]):
      continue
    start = time.monotonic()
    try:
      report[cell["id"]] = dict(ok=True, **run_cell(cell, plan["data_dir"], plan["root"]))
    except Exception:  # pylint: disable=broad-except
      report[cell["id"]] = {"ok": False, "error": traceback.format_exc()[-4000:]}
    finally:
      keras.backend.clear_session()
    report[cell["id"]]["seconds"] = round(time.monotonic() - start, 1)
    # Written after every cell, so a cell that kills the process still leaves the others' results.
    with open(report_path, "w") as f:
      json.dump(report, f, indent=1)


if __name__ == "__main__":
  main(sys.argv[1], sys.argv[2], sys.argv[3])
