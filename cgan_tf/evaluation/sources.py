"""Sample sources: "n images of class y from seed s", from a Keras generator or an exported SavedModel.

Both sources draw the noise on the host from (seed, class) and hand back uint8 images, the checkpoint's
float output going through the same quantization the export does in-graph (`samples.to_uint8`). So a
checkpoint and its export are measured on identical inputs and pixels, and give the same report.
"""

import json
import os

import numpy as np
import tensorflow as tf

from cgan_tf import export
from cgan_tf import samples
from cgan_tf.config import ConfigError

# Signature names of the export's caller-chosen-noise function, newest first.
LATENT_SIGNATURES = (export.SERVING_LATENT, "latent")
BATCH_SIZE = 250


UNCONDITIONAL_KEY = 1 << 20  # Stands for the label in the noise seed of a generator without labels.


def class_noise(label: int, count: int, latent_dim: int, seed: int, distribution: str = "normal",
                truncation: float = 0.0, max_rounds: int = 10_000) -> np.ndarray:
  """The evaluation noise of class `label` (-1: no label): float32 [count, latent_dim], a pure function of its
  args; standard normal, or uniform in [-1, 1) for generators trained on uniform noise.

  With `truncation` psi > 0, every component with |z| > psi is redrawn from the same stream until none is
  left, so components within the bound keep the values they have without truncation; after `max_rounds`
  redraws the rare survivors are clipped. It is the rule of `rng.truncated_latent`, which draws
  `--mode=sample`'s noise in the graph; evaluation noise is drawn here, on the host, per class.
  """
  generator = np.random.default_rng([seed, label if label >= 0 else UNCONDITIONAL_KEY])
  if distribution == "uniform":
    draw = lambda size: generator.uniform(-1.0, 1.0, size)  # noqa: E731
  else:
    draw = generator.standard_normal
  noise = draw((count, latent_dim))
  if truncation:
    for _ in range(max_rounds):
      outside = np.abs(noise) > truncation
      if not outside.any():
        break
      noise[outside] = draw(int(outside.sum()))
    noise = np.clip(noise, -truncation, truncation)
  return noise.astype(np.float32)


class SampleSource:
  """Base class: subclasses set `latent_dim` (and `noise`) and implement `_render(noise, labels) -> uint8
  images`, labels None for a generator without labels."""

  latent_dim: int
  noise: str = "normal"
  truncation: float = 0.0  # The truncation trick's bound psi on the noise (0: none).
  batch_size: int = BATCH_SIZE
  description: str = ""

  def _render(self, noise: np.ndarray, labels) -> np.ndarray:
    raise NotImplementedError

  def generate(self, label: int, count: int, seed: int) -> np.ndarray:
    """`count` uint8 images [count, H, W, C] of class `label` (-1: unconditional) from the seeded noise."""
    noise = class_noise(label, count, self.latent_dim, seed, self.noise, self.truncation)
    labels = np.full([count], label, np.int32) if label >= 0 else None
    return np.concatenate([
        self._render(noise[i:i + self.batch_size], None if labels is None else labels[i:i + self.batch_size])
        for i in range(0, count, self.batch_size)])


class GeneratorSource(SampleSource):
  """A Keras generator (e.g. restored from a checkpoint, or the one being trained).

  Args:
    generator: the Keras generator.
    latent_dim: its noise size.
    description: what it is, for the report.
    output: its last activation ("tanh" or "sigmoid"), for the conversion to uint8.
    noise: the noise distribution it was trained on.
  """

  def __init__(self, generator, latent_dim: int, description: str = "generator", output: str = "tanh",
               noise: str = "normal"):
    self.generator = generator
    self.latent_dim = latent_dim
    self.description = description
    self.output = output
    self.noise = noise

  def _render(self, noise, labels):
    inputs = tf.constant(noise) if labels is None else [tf.constant(noise), tf.constant(labels)]
    return samples.to_uint8(self.generator(inputs, training=False), self.output)


class SavedModelSource(SampleSource):
  """An exported SavedModel, called through its (label, noise) -> images signature: what is served."""

  def __init__(self, path: str):
    self.path = export.find_saved_model(path, "eval_source")
    self.loaded = tf.saved_model.load(self.path)
    names = [name for name in LATENT_SIGNATURES if name in self.loaded.signatures]
    if not names:
      raise ConfigError(f"--eval_source: {self.path} has no signature taking (label, noise); it has "
                        f"{', '.join(self.loaded.signatures)}")
    self.function = self.loaded.signatures[names[0]]
    self.metadata = {}
    if export.METADATA in self.loaded.signatures:
      self.metadata = export.read_metadata(self.loaded)
    if "latent_dim" in self.metadata:
      self.latent_dim = int(self.metadata["latent_dim"])
    else:
      self.latent_dim = int(self.function.structured_input_signature[1]["noise"].shape[-1])
    if "max_batch" in self.metadata:
      self.batch_size = min(BATCH_SIZE, int(self.metadata["max_batch"]))
    if "metadata_json" in self.metadata:
      self.noise = json.loads(self.metadata["metadata_json"].decode()).get("noise", "normal")
    # The model's name and version, not where this machine keeps it: the report is published with it.
    self.description = "savedmodel:" + "/".join(os.path.normpath(self.path).split(os.sep)[-2:])

  def _render(self, noise, labels):
    if labels is None:
      return self.function(noise=tf.constant(noise))["images"].numpy()
    return self.function(label=tf.constant(labels), noise=tf.constant(noise))["images"].numpy()
