"""--mode=export: the generator as a self-contained SavedModel in TF Serving's layout, plus a .keras file.

  <export_dir>/<model_name>/<version>/   saved_model.pb, variables/, assets/metadata.json,
                                         keras/generator.keras

Signatures (every input is required, because TF Serving has no optional inputs; hence a seeded
variant of its own):
  serving_default  label int32 [batch]                           -> images uint8 [batch, H, W, C],
                                                                    images_png_bytes string [batch]
  serving_seeded   label int32 [batch], seed int64 [2]           -> the same two outputs, a pure function
                                                                    of (label, seed)
  serving_latent   label int32 [batch], noise float32 [batch, Z] -> the same two outputs, for interpolation
  metadata         unused int32 [] (any value)                   -> class names, image shape, latent_dim,
                                                                    noise, step, config
An unconditional generator (num_classes = 0) takes `count` int32 [] instead of `label` (and only `noise` in
serving_latent); see UnconditionalServingModule.

How a client learns the model without reading this file: noise is declared with its width, [-1, Z], so TF
Serving's model metadata (REST GET /v1/models/<name>/metadata, gRPC GetModelMetadata) shows latent_dim; and
`metadata` takes an input it ignores, because TF Serving's REST API refuses to run a signature without
inputs ("Failed to get input map for signature").

TF Serving feeds tensors straight into the graph without checking them against the declared shape, so the
shapes of label, count, seed (declared [-1]) and noise are checked inside the graph: only an in-graph check
answers a wrong shape with an InvalidArgument error that names the input.
"""

import json
import os
import tempfile
import time
import uuid
from typing import Optional

from absl import logging
import keras
import tensorflow as tf

import cgan_tf
from cgan_tf import checkpoints
from cgan_tf import data as data_lib
from cgan_tf import networks
from cgan_tf import rng
from cgan_tf import samples
from cgan_tf import trained_run
from cgan_tf import validation
from cgan_tf.config import Config, ConfigError

SERVING_DEFAULT = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
SERVING_SEEDED = "serving_seeded"
SERVING_LATENT = "serving_latent"
METADATA = "metadata"
# The `metadata` signature's only input; its value is ignored.
METADATA_INPUT = "unused"
METADATA_FILE = "metadata.json"
KERAS_FILE = os.path.join("keras", "generator.keras")


def _shape(tensor: tf.Tensor) -> tf.Tensor:
  # raw_ops.Shape/Size are never folded to constants from the declared shape at trace time, so the
  # checks below test what a client really fed, not what the signature promised.
  return tf.raw_ops.Shape(input=tensor, out_type=tf.int32)


def _rank(tensor: tf.Tensor) -> tf.Tensor:
  return tf.raw_ops.Size(input=_shape(tensor), out_type=tf.int32)


class ServingModule(tf.Module):
  """The generator wrapped with validated, uint8- and PNG-returning serving functions.

  Model Garden's export_base shape: the module holds the network's variables (so they are saved) and
  each serving function is a `tf.function` with an explicit input signature.
  """

  def __init__(self, generator: keras.Model, num_classes: int, latent_dim: int, max_batch: int,
               metadata: dict, metadata_path: str, output: str = "tanh", noise: str = "normal"):
    """Wraps `generator`.

    Args:
      generator: generator([noise float32 [b, latent_dim], label int32 [b]]) -> float32 [b, H, W, C] in
        its output range, with float32 weights (the checkpoint's generator, or its moving average).
      num_classes: labels must be in [0, num_classes).
      latent_dim: the noise size.
      max_batch: the largest batch one request may ask for.
      metadata: JSON-serialisable description, returned by the `metadata` signature.
      metadata_path: the same description as a file; it becomes assets/metadata.json.
      output: the generator's last activation, "tanh" ([-1, 1]) or "sigmoid" ([0, 1]).
      noise: the noise it was trained on, "normal" or "uniform" (in [-1, 1]).

    Raises:
      ValueError: if a generator weight is not float32 (a mixed precision copy would serve float16).
    """
    super().__init__(name="cgan_serving")
    not_float32 = [w.path for w in generator.weights if w.dtype != "float32"]
    if not_float32:
      raise ValueError(f"the generator must be exported with float32 weights; these are not: "
                       f"{', '.join(not_float32)}")
    # Only the generator's tf.Variables are tracked, not the Keras model: a tracked Keras 3 model is saved
    # with copies of its variables that the TF1 loader (TF Serving, saved_model_cli run) never restores,
    # and those requests fail with "Could not find variable g_image/kernel". A bound method is not tracked.
    self.generator_variables = [weight.value for weight in generator.weights]
    self._generator = generator.__call__
    self.num_classes = num_classes
    self.latent_dim = latent_dim
    self.max_batch = max_batch
    self.output = output
    self.noise = noise
    self.metadata_asset = tf.saved_model.Asset(metadata_path)
    # Kept as a string: a dict attribute would become a tracked wrapper that json cannot serialise.
    self._metadata_json = json.dumps(metadata, sort_keys=True)

  def _check_labels(self, label: tf.Tensor) -> tf.Tensor:
    """Returns `label` once it is a [batch] vector of valid classes with 1 <= batch <= max_batch."""
    rank_ok = tf.Assert(tf.equal(_rank(label), 1), [
        "label must be a vector of shape [batch]; got shape", _shape(label)])
    with tf.control_dependencies([rank_ok]):
      batch = tf.raw_ops.Size(input=label, out_type=tf.int32)
      batch_ok = tf.Assert(tf.logical_and(batch >= 1, batch <= self.max_batch), [
          f"label must hold between 1 and {self.max_batch} labels (the batch size; the export's "
          f"max_batch); got", batch])
      in_range = tf.reduce_all(tf.logical_and(label >= 0, label < self.num_classes))
      range_ok = tf.Assert(in_range, [
          f"label values must be class indices in [0, {self.num_classes}); got", label], summarize=16)
    # The generator reads the labels only after every check has passed, so a bad request fails with
    # these messages and never runs (an out-of-range label would otherwise index the embedding).
    with tf.control_dependencies([batch_ok, range_ok]):
      return tf.identity(label)

  def _check_seed(self, seed: tf.Tensor) -> tf.Tensor:
    two = tf.logical_and(tf.equal(_rank(seed), 1), tf.equal(tf.raw_ops.Size(input=seed), 2))
    ok = tf.Assert(two, [
        "seed must be two integers, shape [2] (any int64 values); got shape", _shape(seed)])
    # Padded and cut to two, the random op's own input is always valid: otherwise its shape check,
    # which runs when the function is instantiated for the fed shapes, would answer before this one.
    with tf.control_dependencies([ok]):
      return tf.identity(tf.concat([seed, tf.zeros([2], seed.dtype)], axis=0)[:2])

  def _check_noise(self, noise: tf.Tensor, batch: tf.Tensor) -> tf.Tensor:
    # Padding the shape lets one vector comparison cover every rank without indexing past its end.
    padded = tf.concat([_shape(noise), [-1, -1]], axis=0)[:2]
    shape_ok = tf.Assert(
        tf.logical_and(tf.equal(_rank(noise), 2),
                       tf.reduce_all(tf.equal(padded, tf.stack([batch, self.latent_dim])))),
        [f"noise must have shape [batch, {self.latent_dim}] with batch = the number of labels "
         f"(", batch, "); got shape", _shape(noise)])
    with tf.control_dependencies([shape_ok]):
      finite_ok = tf.Assert(tf.reduce_all(tf.math.is_finite(noise)),
                            ["noise must be finite (no NaN or Inf)"])
    with tf.control_dependencies([finite_ok]):
      return tf.identity(noise)

  def _random_noise(self, batch: tf.Tensor) -> tf.Tensor:
    # seed=seed2=0 seeds the kernel from the OS, so servers and restarts never repeat each other;
    # tf.random.normal would bake the exporting process's global seed into the graph.
    shape = tf.stack([batch, self.latent_dim])
    if self.noise == "uniform":
      return tf.raw_ops.RandomUniform(shape=shape, dtype=tf.float32, seed=0, seed2=0) * 2.0 - 1.0
    return tf.raw_ops.RandomStandardNormal(shape=shape, dtype=tf.float32, seed=0, seed2=0)

  def _seeded_noise(self, batch: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    # The package's one seeded-noise function, so seed [s, k] here gives `--mode=sample --class=k --seed=s`'s
    # images; it is built from Philox integer bits and is the same on every machine.
    return rng.latent(tf.stack([batch, self.latent_dim]), seed, self.noise)

  def _render(self, noise: tf.Tensor, label) -> dict:
    inputs = noise if label is None else [noise, label]
    images = samples.to_uint8_tensor(self._generator(inputs, training=False), self.output)
    # The REST API base64-encodes outputs whose names end in _bytes.
    png = tf.map_fn(tf.io.encode_png, images, fn_output_signature=tf.TensorSpec([], tf.string))
    return {"images": images, "images_png_bytes": png}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="label")])
  def serve(self, label):
    """Fresh random images of each label."""
    label = self._check_labels(label)
    return self._render(self._random_noise(tf.size(label)), label)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="label"),
                                tf.TensorSpec([None], tf.int64, name="seed")])
  def serve_seeded(self, label, seed):
    """Images that depend only on (label, seed): stateless Philox noise, the same on every machine."""
    label = self._check_labels(label)
    seed = self._check_seed(seed)
    return self._render(self._seeded_noise(tf.size(label), seed), label)

  def _noise_spec(self) -> tf.TensorSpec:
    # The declared width is how TF Serving's model metadata tells a client latent_dim; it is not enforced
    # there (nor in the TF1 loader), so _check_noise still checks what was fed.
    return tf.TensorSpec([None, self.latent_dim], tf.float32, name="noise")

  def _latent_input_signature(self) -> list:
    return [tf.TensorSpec([None], tf.int32, name="label"), self._noise_spec()]

  # No input_signature here: the noise width is the instance's latent_dim; signatures() traces it.
  @tf.function
  def serve_latent(self, label, noise):
    """Images from caller-chosen noise, e.g. a path between two latent points."""
    label = self._check_labels(label)
    noise = self._check_noise(noise, tf.size(label))
    return self._render(noise, label)

  @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name=METADATA_INPUT)])
  def metadata(self, unused):
    """What a client needs to know without reading our code: classes, shapes, noise, step, config.

    Args:
      unused: ignored; it exists because TF Serving's REST API runs only signatures that take an input.
    """
    del unused
    meta = json.loads(self._metadata_json)
    return {
        "class_names": tf.constant(list(meta["class_names"]), tf.string),
        "image_shape": tf.constant(meta["image_shape"], tf.int32),
        "num_classes": tf.constant(meta["num_classes"], tf.int32),
        "latent_dim": tf.constant(meta["latent_dim"], tf.int32),
        "max_batch": tf.constant(meta["max_batch"], tf.int32),
        "noise": tf.constant(meta["noise"]),
        "training_step": tf.constant(meta["training_step"], tf.int64),
        "metadata_json": tf.constant(self._metadata_json),
    }

  def signatures(self) -> dict:
    return {SERVING_DEFAULT: self.serve.get_concrete_function(),
            SERVING_SEEDED: self.serve_seeded.get_concrete_function(),
            SERVING_LATENT: self.serve_latent.get_concrete_function(*self._latent_input_signature()),
            METADATA: self.metadata.get_concrete_function()}


class UnconditionalServingModule(ServingModule):
  """The same for a generator without labels: the signatures take how many images, not which classes.

  serving_default  count int32 []                     -> images uint8 [count, H, W, C], images_png_bytes
  serving_seeded   count int32 [], seed int64 [2]     -> the same, a pure function of (count, seed)
  serving_latent   noise float32 [batch, Z]           -> the same, one image per noise vector
  metadata         as for ServingModule
  A scalar input suits TF Serving's columnar request format: {"inputs": {"count": 16}}.
  """

  def _check_count(self, count: tf.Tensor) -> tf.Tensor:
    rank_ok = tf.Assert(tf.equal(_rank(count), 0), ["count must be one integer (a scalar); got shape",
                                                     _shape(count)])
    with tf.control_dependencies([rank_ok]):
      single = tf.reshape(tf.concat([tf.reshape(count, [-1]), [0]], axis=0)[:1], [])
      ok = tf.Assert(tf.logical_and(single >= 1, single <= self.max_batch), [
          f"count must be between 1 and {self.max_batch} (the export's max_batch); got", single])
    with tf.control_dependencies([ok]):
      return tf.identity(single)

  @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="count")])
  def serve(self, count):
    """`count` fresh random images."""
    count = self._check_count(count)
    return self._render(self._random_noise(count), None)

  @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="count"),
                                tf.TensorSpec([None], tf.int64, name="seed")])
  def serve_seeded(self, count, seed):
    """`count` images that depend only on (count, seed)."""
    count = self._check_count(count)
    seed = self._check_seed(seed)
    return self._render(self._seeded_noise(count, seed), None)

  def _latent_input_signature(self) -> list:
    return [self._noise_spec()]

  @tf.function
  def serve_latent(self, noise):
    """One image per caller-chosen noise vector."""
    batch = tf.reshape(tf.concat([_shape(noise), [0]], axis=0)[:1], [])
    batch_ok = tf.Assert(tf.logical_and(batch >= 1, batch <= self.max_batch), [
        f"noise must hold between 1 and {self.max_batch} vectors (the batch size; the export's max_batch); got",
        batch])
    with tf.control_dependencies([batch_ok]):
      noise = self._check_noise(noise, batch)
    return self._render(noise, None)


def read_metadata(loaded) -> dict:
  """The `metadata` signature's outputs as numpy values, e.g. {"latent_dim": 100, "noise": b"normal", ...}.

  Args:
    loaded: `tf.saved_model.load` of an export; one from before the signature took its ignored input works
      too.
  """
  function = loaded.signatures[METADATA]
  inputs = {name: tf.zeros(spec.shape, spec.dtype)
            for name, spec in function.structured_input_signature[1].items()}
  return {name: value.numpy() for name, value in function(**inputs).items()}


def check_export_dir(config: Config) -> str:
  """Creates <export_dir>/<model_name> and proves it writable; returns it.

  Raises:
    ConfigError: naming --export_dir when the directory cannot be created or written.
  """
  model_dir = os.path.join(config.export_dir, config.model_name)
  try:
    tf.io.gfile.makedirs(model_dir)
    probe = os.path.join(model_dir, f".write_test-{uuid.uuid4().hex}")
    with tf.io.gfile.GFile(probe, "w") as f:
      f.write("ok")
    tf.io.gfile.remove(probe)
  except (tf.errors.OpError, OSError) as e:
    raise ConfigError(f"--export_dir: {model_dir} is not writable ({e})") from e
  return model_dir


def existing_versions(model_dir: str) -> list:
  """The numeric version directories TF Serving would see in `model_dir`, ascending."""
  return sorted(int(name.rstrip("/")) for name in tf.io.gfile.listdir(model_dir)
                if name.rstrip("/").isdigit())


def _is_version_dir(path: str) -> bool:
  return tf.io.gfile.exists(os.path.join(path, "saved_model.pb"))


def newest_version_dir(model_dir: str) -> Optional[str]:
  """The highest numeric version directory holding a SavedModel (the one TF Serving serves), or None."""
  if not tf.io.gfile.isdir(model_dir):
    return None
  for version in reversed(existing_versions(model_dir)):
    if _is_version_dir(os.path.join(model_dir, str(version))):
      return os.path.join(model_dir, str(version))
  return None


def find_saved_model(path: str, flag: str, model_name: str = "") -> str:
  """The SavedModel version directory `path` names, as TF Serving would serve it.

  Accepts one version's directory (it holds saved_model.pb), a model directory of numeric versions (the
  highest is taken, as TF Serving does), or a model base directory (--mode=export's --export_dir) holding
  <model_name>/ or exactly one model directory.

  Args:
    path: the directory given.
    flag: the flag that gave it, for the error (e.g. "eval_source").
    model_name: in a base directory of several models, the one to take.

  Raises:
    ConfigError: naming --`flag` and `path` when none of these holds a SavedModel.
  """
  if not path:
    raise ConfigError(f"--{flag}: is required (an exported model's directory)")
  if _is_version_dir(path):
    return path
  found = newest_version_dir(path)
  if found:
    return found
  if not tf.io.gfile.isdir(path):
    raise ConfigError(f"--{flag}: {path} does not exist")
  if model_name:
    found = newest_version_dir(os.path.join(path, model_name))
    if found:
      return found
  models = [name.rstrip("/") for name in sorted(tf.io.gfile.listdir(path))
            if newest_version_dir(os.path.join(path, name.rstrip("/")))]
  if len(models) == 1:
    return newest_version_dir(os.path.join(path, models[0]))
  if models:
    raise ConfigError(f"--{flag}: {path} holds several models ({', '.join(models)}); pass one of them, "
                      f"e.g. --{flag}={os.path.join(path, models[0])}")
  raise ConfigError(f"--{flag}: {path} holds no model: no saved_model.pb, no numeric version directory with "
                    f"one, and no model directory of such versions")


def choose_version(model_dir: str, requested: int, next_free: bool) -> int:
  """`requested` if it is free; else, when allowed, the number above every existing version.

  Above every existing one rather than the first gap, so the new export is the one TF Serving's default
  version policy (the highest) serves.

  Raises:
    ConfigError: if `requested` exists and next_free is False.
  """
  versions = existing_versions(model_dir)
  if requested not in versions:
    return requested
  if not next_free:
    raise ConfigError(
        f"--export_version: {os.path.join(model_dir, str(requested))} already exists and is never "
        f"overwritten (TF Serving may be serving it); pass another --export_version or "
        f"--export_next_free_version to use {versions[-1] + 1}")
  return versions[-1] + 1


def build_metadata(config: Config, training_step: int, checkpoint_path: str, weights: str) -> dict:
  if config.num_classes:
    signatures = {
        SERVING_DEFAULT: "label int32 [batch] -> images uint8 [batch,H,W,C], images_png_bytes string "
                         "[batch]; fresh random noise",
        SERVING_SEEDED: "label int32 [batch], seed int64 [2] -> the same outputs, deterministic",
        SERVING_LATENT: f"label int32 [batch], noise float32 [batch,{config.latent_dim}] -> the same outputs",
    }
  else:
    signatures = {
        SERVING_DEFAULT: "count int32 [] -> images uint8 [count,H,W,C], images_png_bytes string [count]; "
                         "fresh random noise",
        SERVING_SEEDED: "count int32 [], seed int64 [2] -> the same outputs, deterministic",
        SERVING_LATENT: f"noise float32 [batch,{config.latent_dim}] -> the same outputs",
    }
  signatures[METADATA] = (f"{METADATA_INPUT} int32 [] (any value; TF Serving's REST API needs an input) -> "
                          f"this description")
  return {
      "class_names": list(config.class_names),
      "image_shape": list(config.image_shape),
      "num_classes": config.num_classes,
      "latent_dim": config.latent_dim,
      "max_batch": config.max_batch,
      "training_step": training_step,
      # Published: no path of the machine that made it. The checkpoint by its name in the run.
      "checkpoint": os.path.basename(checkpoint_path),
      "weights": weights,
      "config": config.without_paths().to_dict(),
      "cgan_tf_version": cgan_tf.__version__,
      "tensorflow_version": tf.__version__,
      "exported_at_unix": int(time.time()),
      "conditional": config.num_classes > 0,
      "output_range": list(networks.get(config.network).output_range),
      "noise": config.noise,
      "signatures": signatures,
  }


def write_saved_model(generator: keras.Model, config: Config, metadata: dict, path: str) -> None:
  """Writes the SavedModel (and the .keras copy of the generator) into the new directory `path`."""
  with tempfile.TemporaryDirectory() as scratch:
    metadata_path = os.path.join(scratch, METADATA_FILE)
    with open(metadata_path, "w") as f:
      json.dump(metadata, f, indent=2, sort_keys=True)
    module_class = ServingModule if config.num_classes else UnconditionalServingModule
    module = module_class(generator, config.num_classes, config.latent_dim, config.max_batch, metadata,
                          metadata_path, output=networks.get(config.network).output, noise=config.noise)
    tf.saved_model.save(module, path, signatures=module.signatures())
  keras_path = os.path.join(path, KERAS_FILE)
  tf.io.gfile.makedirs(os.path.dirname(keras_path))
  generator.save(keras_path)


def export(config: Config, generator: Optional[keras.Model] = None, weights: str = "given") -> str:
  """Exports the run in --run_dir as version <version> of model <model_name> under --export_dir.

  The version is written to a hidden temporary directory (TF Serving only loads numeric names) and
  renamed into place, so a crash never leaves a half-written version that TF Serving would pick up.

  Args:
    config: the invocation's configuration (mode=export, run_dir and the export flags).
    generator: weights to serve instead of the checkpoint's; built from the run's config with float32
      weights. None restores the generator --export_source names: by default the one --keep_best kept
      when the run kept one, else the newest checkpoint's moving average of the generator when the run
      keeps one (--ema_decay), else its generator.
    weights: a name for `generator`'s weights, recorded in the metadata.

  Returns:
    The version directory written.

  Raises:
    ConfigError: unwritable --export_dir (checked first), no trained run, or an existing version.
    checkpoints.NonFiniteError: if a generator weight is NaN or infinite.
  """
  model_dir = check_export_dir(config)
  run_config = trained_run.load_run_config(config, trained_run.SAMPLE_FIELDS + trained_run.EXPORT_FIELDS)
  validation.check_architecture(run_config)
  if data_lib.kind_of(run_config) != "image":
    raise ConfigError(f"--mode=export serves images; network {run_config.network!r} generates points "
                      f"(use --mode=sample to draw them)")
  which = trained_run.resolve_generator(run_config, config.export_source)
  restored, checkpoint_path = trained_run.load_generator(run_config, which)
  if generator is None:
    generator, weights = restored, trained_run.weights_name(run_config, which)
  # A diverged generator would serve noise (or NaN-cast garbage); refuse before anything is written.
  non_finite = checkpoints.non_finite_variables(generator.weights)
  if non_finite:
    raise checkpoints.NonFiniteError(
        f"the {weights} weights from {checkpoint_path} hold NaN or Inf ({', '.join(non_finite[:5])}); "
        f"nothing was exported. The run diverged before this checkpoint; export a run that did not.")
  step = trained_run.checkpoint_step(checkpoint_path)
  version = choose_version(model_dir, config.export_version or step, config.export_next_free_version)
  final = os.path.join(model_dir, str(version))
  partial = os.path.join(model_dir, f".tmp-{version}-{uuid.uuid4().hex[:8]}")
  try:
    write_saved_model(generator, run_config,
                      build_metadata(run_config, step, checkpoint_path, weights), partial)
    # rename refuses an existing target, so a version another exporter wrote meanwhile survives too.
    tf.io.gfile.rename(partial, final, overwrite=False)
  except tf.errors.AlreadyExistsError as e:
    raise ConfigError(f"--export_version: {final} appeared while exporting; it was left untouched") from e
  finally:
    if tf.io.gfile.exists(partial):
      tf.io.gfile.rmtree(partial)
  logging.info("Exported %s (step %d, %s weights) to %s", checkpoint_path, step, weights, final)
  return final
