"""tools/gpu_proxy/jax_step.py repeats three presets' train steps in JAX: it must copy them exactly, and the
command docs/benchmarks.md quotes must parse."""

import os
import re
import shlex

import numpy as np
import pytest

from cgan_tf import networks
from cgan_tf.networks import conditioning
from tests.helpers.presets import parse_preset
from tools.benchmarks import common
from tools.gpu_proxy import jax_step


def _resolved(preset):
  config = parse_preset(preset, "--run_dir=/tmp/unused")
  return config.replace(image_shape=(28, 28, 1), num_classes=10, image_conv="standard")


@pytest.mark.parametrize("name", sorted(jax_step.PRESETS))
def test_the_jax_step_has_its_presets_settings(name):
  copy = jax_step.PRESETS[name]
  config = _resolved(copy["preset"])
  g_conditioning, d_conditioning = conditioning(config)
  assert (config.network, config.g_filters, config.d_filters, config.batch_size, config.latent_dim) == (
      copy["network"], copy["filters"], copy["filters"], copy["batch"], copy["latent"])
  assert (g_conditioning, d_conditioning, config.loss, config.d_steps) == (
      copy["g_label"], copy["d_label"], copy["loss"], copy["d_steps"])
  assert (config.beta_1, config.beta_2, config.ema_decay) == (copy["beta_1"], copy["beta_2"], copy["ema"])
  assert config.g_learning_rate == config.d_learning_rate == jax_step.LEARNING_RATE
  assert (config.lr_schedule == "linear") == copy["decay"]
  assert config.embedding_dim == jax_step.EMBEDDING_DIM and config.spectral_norm == (copy["network"] == "resnet")
  if copy["network"] == "cdcgan":  # resnet's D has no dropout layer
    assert config.d_dropout == copy["dropout"]
  assert config.optimizer == "adam" and config.update_scheme == "alternating" and config.d_minibatch_std == 0


@pytest.mark.parametrize("name", sorted(jax_step.PRESETS))
def test_the_jax_networks_have_cgan_tf_parameter_counts(name):
  pytest.importorskip("jax")
  generator, discriminator = networks.build_networks(_resolved(jax_step.PRESETS[name]["preset"]))
  count = lambda model: int(sum(np.prod(w.shape) for w in model.trainable_weights))
  assert jax_step.parameter_counts(jax_step.PRESETS[name]) == {
      "generator": count(generator), "discriminator": count(discriminator)}


def test_the_command_benchmarks_md_quotes_parses():
  with open(os.path.join(common.REPO_ROOT, "docs", "benchmarks.md")) as f:
    text = re.sub(r"\s*\n\s*", " ", f.read())
  commands = re.findall(r"`python tools/gpu_proxy/jax_step\.py((?: [^`]*)?)`", text)
  assert commands
  for arguments in commands:
    args = jax_step.build_parser().parse_args(shlex.split(arguments))
    assert set(args.presets.split(",")) <= set(jax_step.PRESETS)
