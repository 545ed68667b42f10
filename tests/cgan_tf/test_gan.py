"""cgan_tf/gan.py, the GAN model and its train step: both networks train, and the modern options inside
the step: EMA, D steps, spectral normalization, lazy R1, unconditional training end to end, and all of
them together trained identically on one and two replicas."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import callbacks
from cgan_tf import export
from cgan_tf import generate
from cgan_tf import trained_run as trained_run_lib
from cgan_tf import layers as cgan_layers
from cgan_tf import networks
from cgan_tf import train
from cgan_tf.evaluation import report
from cgan_tf.run_dir import RunDir
from tests.helpers.replicas import assert_same_training, initial, run_in_processes, weights
from tests.helpers.serving import serve_like_tf_serving
from tools import serving_client

pytestmark = pytest.mark.slow


def initial_generator_weights(config):
  keras.utils.set_random_seed(config.seed)  # as train() does right before building
  generator, _ = networks.build_networks(train.resolve_training_config(config)[0])
  return [w.numpy() for w in generator.weights]


def test_training_changes_both_networks(smoke_config):
  config = smoke_config(train_steps=2)
  fresh_g, fresh_d = networks.build_networks(train.resolve_training_config(config)[0])
  model = train.train(config)
  for fresh, trained in ((fresh_g, model.generator), (fresh_d, model.discriminator)):
    moved = [not np.allclose(a.numpy(), b.numpy()) for a, b in zip(fresh.trainable_variables,
                                                                    trained.trainable_variables)]
    assert all(moved), f"{trained.name}: some variables did not train"


def test_ema_is_the_moving_average_and_is_what_samples_and_exports(smoke_config):
  config = smoke_config(ema_decay=0.75, train_steps=1, checkpoint_every=1, sample_every=1)
  before = initial_generator_weights(config)
  model = train.train(config)
  assert model.sampling_generator is model.ema_generator
  for start, now, average in zip(before, model.generator.weights, model.ema_generator.weights):
    if now.trainable:
      np.testing.assert_allclose(average.numpy(), 0.75 * start + 0.25 * now.numpy(), rtol=1e-5, atol=1e-7)
  assert any(not np.allclose(a.numpy(), b.numpy()) for a, b in zip(model.generator.weights,
                                                                   model.ema_generator.weights))
  saved = RunDir(config.run_dir).saved_config()  # The resolved configuration, as sample/export read it.
  restored, _ = trained_run_lib.load_generator(saved)
  for loaded, average in zip(restored.weights, model.ema_generator.weights):
    np.testing.assert_array_equal(loaded.numpy(), average.numpy())
  assert trained_run_lib.weights_name(saved).startswith("ema_generator")


def test_ema_copies_the_generator_until_ema_start_then_averages_across_a_resume(smoke_config):
  config = smoke_config(ema_decay=0.75, ema_start=3, train_steps=3, checkpoint_every=1, sample_every=3)
  model = train.train(config)
  for weight, average in zip(model.generator.weights, model.ema_generator.weights):
    np.testing.assert_array_equal(average.numpy(), weight.numpy())
  before = [w.numpy() for w in model.generator.weights]
  # Resumed from the checkpoint of step 3: the schedule is a function of the restored step counter.
  model = train.train(config.replace(train_steps=4))
  for start, now, average in zip(before, model.generator.weights, model.ema_generator.weights):
    if now.trainable:
      np.testing.assert_allclose(average.numpy(), 0.75 * start + 0.25 * now.numpy(), rtol=1e-5, atol=1e-7)
  assert any(not np.allclose(a.numpy(), b.numpy()) for a, b in zip(model.generator.trainable_weights,
                                                                   model.ema_generator.trainable_weights))


def test_lr_schedule_decays_each_optimizer_over_its_own_updates_and_resumes_exactly(smoke_config, tmp_path):
  def run(name, stop_at=None):
    config = smoke_config(run_dir=str(tmp_path / name), lr_schedule="linear", d_steps=2, batch_size=16,
                          train_steps=4, deterministic=True, g_learning_rate=1e-3, d_learning_rate=4e-3)
    extra = [callbacks.StopAtStep(0, 1, stop_at)] if stop_at else []
    return train.train(config, extra_callbacks=extra)

  half = run("split", stop_at=2)
  assert int(half.step_counter.numpy()) == 2
  # Half-way through the run each rate is at half its peak: G after 2 of 4 updates, D after 4 of 8.
  assert float(half.g_optimizer.learning_rate) == pytest.approx(0.5e-3, rel=1e-5)
  assert float(half.d_optimizer.learning_rate) == pytest.approx(2e-3, rel=1e-5)
  resumed, straight = run("split"), run("straight")
  assert float(resumed.g_optimizer.learning_rate) == 0.0 and float(resumed.d_optimizer.learning_rate) == 0.0
  for a, b in zip(straight.generator.weights + straight.discriminator.weights,
                  resumed.generator.weights + resumed.discriminator.weights):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-6)


def test_d_steps_updates_the_discriminator_that_many_times_per_generator_update(smoke_config):
  model = train.train(smoke_config(d_steps=3, train_steps=2, batch_size=16))
  assert int(model.d_optimizer.iterations.numpy()) == 6
  assert int(model.g_optimizer.iterations.numpy()) == 2
  assert train.total_steps(smoke_config(d_steps=3, batch_size=16, train_steps=0, epochs=1), 256) == 256 // 48


def test_spectral_norm_tracks_the_largest_singular_value_while_training(smoke_config):
  model = train.train(smoke_config(spectral_norm=True, d_conditioning="projection", train_steps=12,
                                   checkpoint_every=12, sample_every=12, log_every=12, d_dropout=0.0))
  layers = [layer for layer in model.spectral_layers if isinstance(layer, cgan_layers.SpectralNormMixin)]
  assert len(layers) >= 3
  for layer in layers:
    kernel = layer.kernel.numpy()
    matrix = kernel.reshape(-1, kernel.shape[-1])
    true_sigma = np.linalg.svd(matrix, compute_uv=False)[0]
    u, v = (t.numpy() for t in layer._singular_vectors(layer.kernel))
    estimate = float(v @ matrix @ u)
    # Twelve power iterations from a random start, tracking a kernel that moves. A wide kernel's largest
    # singular values lie close together (d_down1's two largest differ by about 2%), so the estimate reaches
    # their span quickly and sigma itself slowly: within 10%.
    assert true_sigma * 0.9 <= estimate <= true_sigma * (1 + 1e-5), layer.name
    if matrix.shape[1] > 1:
      # A vector never iterated gives |W r| of a random unit r, well short of that: the bound can fail.
      random_units = np.random.default_rng(0).normal(size=(64, matrix.shape[1]))
      random_units /= np.linalg.norm(random_units, axis=1, keepdims=True)
      assert np.linalg.norm(random_units @ matrix.T, axis=1).mean() < 0.85 * true_sigma, layer.name


def test_lazy_r1_applies_every_n_steps_with_n_times_the_weight(smoke_config):
  # No dropout: the critic must be the same function in every call.
  config, _ = train.resolve_training_config(smoke_config(r1_gamma=2.0, r1_every=4, d_dropout=0.0))
  model = train.build_gan(config, "float32", "off")
  real = tf.random.normal([4, 28, 28, 1], seed=3)
  labels = tf.constant([0, 1, 2, 3])
  fake = tf.random.normal([4, 28, 28, 1], seed=4)
  on, logged = model._penalties(real, labels, fake, tf.constant(8, tf.int64), 0, 0)
  off, _ = model._penalties(real, labels, fake, tf.constant(9, tf.int64), 0, 0)
  from cgan_tf import penalties
  r1 = penalties.r1_penalty(lambda x: model.discriminate(x, labels, True), real).numpy()
  np.testing.assert_allclose(on.numpy(), 0.5 * 2.0 * 4 * r1, rtol=1e-4)
  np.testing.assert_allclose(logged["r1_penalty"].numpy(), r1.mean(), rtol=1e-4)
  assert np.all(off.numpy() == 0)


def test_unconditional_run_trains_samples_exports_and_measures(smoke_config, tmp_path):
  config = smoke_config(unconditional=True, train_steps=2)
  model = train.train(config)
  assert len(model.generator.inputs) == 1 and len(model.discriminator.inputs) == 1
  assert json.load(open(os.path.join(config.run_dir, "config.json")))["num_classes"] == 0
  paths = generate.sample(config.replace(mode="sample", label=-1, num_images=4, output_dir=str(tmp_path / "s")))
  assert len(paths) == 5 and all(os.path.exists(p) for p in paths)

  version = export.export(config.replace(mode="export", export_dir=str(tmp_path / "models"), model_name="u"))
  loaded = tf.saved_model.load(version)
  default = loaded.signatures["serving_default"]
  assert set(default.structured_input_signature[1]) == {"count"}
  latent_inputs = loaded.signatures["serving_latent"].structured_input_signature[1]
  assert set(latent_inputs) == {"noise"}
  # Declared with its width, so TF Serving's model metadata shows latent_dim, as for a conditional export.
  assert latent_inputs["noise"].shape.as_list() == [None, config.latent_dim]
  images = default(count=tf.constant(3))["images"]
  assert images.shape == (3, 28, 28, 1) and images.dtype == tf.uint8
  seeded = loaded.signatures["serving_seeded"]
  first = seeded(count=tf.constant(2), seed=tf.constant([1, 2], tf.int64))["images"].numpy()
  np.testing.assert_array_equal(first, seeded(count=tf.constant(2), seed=tf.constant([1, 2], tf.int64))["images"])
  for bad in (0, 5000):
    with pytest.raises(tf.errors.InvalidArgumentError, match="count must be between 1 and"):
      default(count=tf.constant(bad))
  served_metadata = export.read_metadata(loaded)
  assert served_metadata["latent_dim"] == config.latent_dim and served_metadata["noise"].decode() == config.noise
  metadata = json.loads(served_metadata["metadata_json"])
  assert metadata["conditional"] is False and metadata["num_classes"] == 0
  # tools/serving_client.py's unconditional requests, mapped onto the signatures as TF Serving does.
  for signature, body in (
      ("serving_default", serving_client.build_request("serving_default", None, "inputs", count=4)),
      ("serving_seeded", serving_client.build_request("serving_seeded", None, "inputs", seed=[3, 4], count=4)),
      ("serving_latent", serving_client.build_request("serving_latent", None, "instances",
                                                      noise=np.zeros([4, config.latent_dim])))):
    body = json.loads(json.dumps(body))
    served_images, pngs = serving_client.decode_response(serve_like_tf_serving(loaded.signatures[signature], body))
    assert served_images.shape == (4, 28, 28, 1) and len(pngs) == 4, signature

  figures = report.evaluate(config.replace(mode="eval", eval_samples=40, eval_source=version,
                                           eval_report=str(tmp_path / "report.json"), cas_epochs=1,
                                           evaluator_dir=str(tmp_path / "evaluators"), evaluator_epochs=1))
  assert set(figures["metrics"]) == {"frechet", "kid", "precision_recall"}
  assert figures["generated"]["frechet_distance"] > 0 and "conditional_accuracy" not in figures["generated"]
  assert "recall" in figures["generated"] and "intra_recall" not in figures["generated"]


MODERN = dict(g_conditioning="cbn", d_conditioning="projection", spectral_norm=True, loss="hinge",
              diffaugment="color,translation,cutout", gp_weight=1.0, r1_gamma=1.0, r1_every=2, d_steps=2,
              ema_decay=0.5, ema_start=1, lr_schedule="linear", mode_seeking=1.0)


def test_all_modern_options_train_identically_on_one_and_two_replicas(smoke_config, tmp_path):
  """float64, as the invariance tests of tests/cgan_tf/test_distribute.py: conditional batch norm (synchronized over
  the replicas), DiffAugment parameters, penalties on D and G (the mode-seeking pairs), spectral
  normalization, D steps, the EMA and its warm-up, and the learning-rate decay must all be computed per
  global batch, not per replica."""
  from tests.helpers.replicas import INVARIANCE
  base = dict(INVARIANCE, **MODERN, train_steps=3, checkpoint_every=3, sample_every=3, log_every=3, seed=5,
              verbose=0)
  dumps = run_in_processes({replicas: smoke_config(
      run_dir=str(tmp_path / f"r{replicas}"), num_cpu_devices=replicas,
      strategy="mirrored" if replicas > 1 else "one_device", **base) for replicas in (1, 2)})
  one, two = dumps[1], dumps[2]
  assert list(one["iterations"]) == list(two["iterations"]) == [6, 3]
  assert_same_training(weights(one), weights(two), initial(one))
  logs_one, logs_two = json.loads(str(one["logs"])), json.loads(str(two["logs"]))
  for name in ("g_loss", "mode_seeking_penalty", "r1_penalty", "gradient_penalty"):
    assert logs_two[name] == pytest.approx(logs_one[name], rel=1e-6), name
  # The moving average, batch-norm statistics and spectral-norm vectors: they inherit the weights' float64
  # noise (up to ~3e-9 here); a replica computing them from its own slice alone would be off by ~1e-3.
  for key in one:
    if key.startswith(("ema", "dstate", "gstate")):
      np.testing.assert_allclose(two[key], one[key], rtol=0, atol=1e-7, err_msg=key)
  assert any(key.startswith("gstate") for key in one) and any(key.startswith("dstate") for key in one)
