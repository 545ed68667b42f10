"""The option layers' maths: spectral normalization, conditional batch normalization, the projection logit,
the minibatch standard deviation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import layers as cgan_layers
from cgan_tf import networks
from cgan_tf.config import Config


def largest_singular_value(matrix):
  return float(np.linalg.svd(np.asarray(matrix, np.float64), compute_uv=False)[0])


@pytest.mark.parametrize("make,inputs,matrix", [
    (lambda: cgan_layers.SNDense(7), np.ones([2, 5], np.float32), lambda layer, k: k),
    (lambda: cgan_layers.SNConv2D(6, 3), np.ones([2, 8, 8, 4], np.float32), lambda layer, k: k.reshape(-1, 6)),
])
def test_spectral_norm_divides_the_kernel_by_its_largest_singular_value(make, inputs, matrix):
  layer = make()
  layer(inputs)
  kernel = layer.kernel.numpy() * 3.0  # Far from norm 1, so the test is not passed by an untouched kernel.
  layer.kernel.assign(kernel)
  sigma = largest_singular_value(matrix(layer, kernel))
  assert sigma > 2.0
  for _ in range(50):  # Power iterations, as 50 discriminator updates would run them.
    layer.update_spectral_norm()
  normalized = layer.normalized_kernel(layer.kernel).numpy()
  np.testing.assert_allclose(normalized, kernel / sigma, rtol=1e-4, atol=1e-6)
  assert largest_singular_value(matrix(layer, normalized)) == pytest.approx(1.0, abs=1e-4)


def test_spectral_norm_output_is_the_plain_layer_with_the_normalized_kernel():
  layer = cgan_layers.SNDense(3, activation="relu")
  x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
  out = layer(x).numpy()
  expected = np.maximum(x @ layer.normalized_kernel(layer.kernel).numpy() + layer.bias.numpy(), 0)
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_spectral_norm_gradient_treats_the_singular_vectors_as_constants():
  """d sigma / dW = u v^T (Miyato et al.): the gradient of sum(W_sn * G) matches the closed form."""
  layer = cgan_layers.SNDense(4)
  layer(np.ones([1, 6], np.float32))
  upstream = tf.constant(np.random.default_rng(1).normal(size=(6, 4)), tf.float32)
  with tf.GradientTape() as tape:
    objective = tf.reduce_sum(layer.normalized_kernel(layer.kernel) * upstream)
  gradient = tape.gradient(objective, layer.kernel).numpy()
  kernel = layer.kernel.numpy().astype(np.float64)
  u, v = (t.numpy().astype(np.float64) for t in layer._singular_vectors(layer.kernel))
  sigma = float(v @ kernel @ u)
  g = upstream.numpy().astype(np.float64)
  expected = g / sigma - (np.sum(g * kernel) / sigma ** 2) * np.outer(v, u)
  np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-6)


def test_conditional_batch_norm_scales_and_shifts_by_class():
  layer = cgan_layers.ConditionalBatchNorm(3)
  x = np.random.default_rng(2).normal(2.0, 3.0, size=(8, 4, 4, 5)).astype(np.float32)
  labels = np.array([0, 1, 2, 0, 1, 2, 0, 1], np.int32)
  layer([x, labels])
  gamma = np.random.default_rng(3).normal(size=(3, 5)).astype(np.float32)
  beta = np.random.default_rng(4).normal(size=(3, 5)).astype(np.float32)
  layer.gamma.assign(gamma)
  layer.beta.assign(beta)
  out = layer([x, labels], training=True).numpy()
  mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
  normalized = (x - mean) / np.sqrt(var + layer.epsilon)
  expected = normalized * (1 + gamma[labels])[:, None, None, :] + beta[labels][:, None, None, :]
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_projection_logit_is_linear_plus_class_embedding_inner_product():
  layer = cgan_layers.ProjectionLogit(4)
  features = np.random.default_rng(5).normal(size=(6, 9)).astype(np.float32)
  labels = np.array([0, 1, 2, 3, 3, 1], np.int32)
  out = layer([features, labels]).numpy()
  embedding = layer.embedding.numpy()
  linear = features @ layer.linear.kernel.numpy() + layer.linear.bias.numpy()
  expected = linear + np.sum(embedding[labels] * features, axis=1, keepdims=True)
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_the_training_step_finds_and_advances_the_projection_embeddings_spectral_norm():
  # The class embedding of a spectrally normalized projection D is a [classes, D] linear map of one-hot y,
  # normalized like a kernel: the training step must advance its power iteration too, or its estimate
  # stays where the random start put it and the embedding is not 1-Lipschitz.
  def model(spectral_norm):
    inputs = [keras.Input((9,)), keras.Input((), dtype="int32")]
    return keras.Model(inputs, cgan_layers.ProjectionLogit(4, spectral_norm)(inputs))

  assert cgan_layers.spectral_norm_layers(model(False)) == []
  found = cgan_layers.spectral_norm_layers(model(True))
  (projection,) = [layer for layer in found if isinstance(layer, cgan_layers.ProjectionLogit)]
  assert any(isinstance(layer, cgan_layers.SNDense) for layer in found)  # Its linear part.
  projection.embedding.assign(projection.embedding.numpy() * 3.0)
  sigma = largest_singular_value(projection.embedding.numpy())
  assert sigma > 2.0
  for _ in range(50):  # As 50 discriminator updates run them.
    for layer in found:
      layer.update_spectral_norm()
  normalized = projection._embedding_matrix().numpy()
  assert largest_singular_value(normalized) == pytest.approx(1.0, abs=1e-4)


def test_minibatch_std_appends_each_groups_mean_feature_spread():
  features = np.random.default_rng(2).normal(size=(8, 3, 5, 4))
  out = cgan_layers.MinibatchStdDev(4, dtype="float64")(features).numpy()
  assert out.shape == (8, 3, 5, 5)
  np.testing.assert_array_equal(out[..., :4], features)
  # Groups are consecutive examples, 0-3 and 4-7: the spread of each over its 4 members, averaged over
  # positions and channels, the same at every position.
  expected = [np.sqrt(features[g:g + 4].var(axis=0) + 1e-8).mean() for g in (0, 4)]
  np.testing.assert_allclose(out[..., 4], np.repeat(expected, 4)[:, None, None] * np.ones((8, 3, 5)), rtol=1e-12)


def test_minibatch_std_of_one_group_ignores_the_other_groups():
  # A replica's slice holds whole groups, and D sees the real and the fake batch in separate calls, so
  # nothing outside a group may reach its value.
  features = np.random.default_rng(3).normal(size=(8, 2, 2, 3)).astype(np.float32)
  changed = features.copy()
  changed[4:] *= 10.0
  layer = cgan_layers.MinibatchStdDev(4)
  np.testing.assert_array_equal(layer(features).numpy()[:4], layer(changed).numpy()[:4])
  assert not np.allclose(layer(features).numpy()[4:, ..., 3], layer(changed).numpy()[4:, ..., 3])
  # Identical members have no spread (only the 1e-8 under the square root).
  copies = np.repeat(features[:1], 4, axis=0)
  np.testing.assert_allclose(layer(copies).numpy()[..., 3], 1e-4, rtol=1e-3)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_minibatch_std_under_a_mixed_policy_keeps_the_compute_dtype(policy):
  layer = cgan_layers.MinibatchStdDev(2, dtype=policy)
  features = np.random.default_rng(4).normal(size=(4, 2, 2, 3)).astype(np.float32)
  out = layer(tf.cast(features, layer.compute_dtype))
  assert out.dtype == layer.compute_dtype
  expected = [np.sqrt(features[g:g + 2].var(axis=0) + 1e-8).mean() for g in (0, 2)]
  np.testing.assert_allclose(out.numpy()[:, 0, 0, 3].astype(np.float32), np.repeat(expected, 2), rtol=2e-2)


def test_a_generator_with_conditional_batch_norm_saves_and_loads_in_safe_mode(tmp_path):
  config = Config(image_shape=(28, 28, 1), num_classes=10, g_conditioning="cbn", latent_dim=8)
  generator, _ = networks.build_networks(config)
  path = str(tmp_path / "g.keras")
  generator.save(path)
  loaded = keras.models.load_model(path, safe_mode=True)
  inputs = [tf.random.normal([3, 8], seed=1), tf.constant([1, 5, 9])]
  np.testing.assert_allclose(loaded(inputs).numpy(), generator(inputs).numpy(), atol=1e-6)


@pytest.mark.parametrize("filters, kernel_size, dtype", [(1, 7, "float32"), (3, 3, "float32"), (1, 7, "float64")])
def test_image_conv_matches_conv2d_in_output_and_gradients(filters, kernel_size, dtype):
  # The depthwise formulation is the same function as Conv2D with the same weights: output, input
  # gradient and kernel gradient.
  plain = keras.layers.Conv2D(filters, kernel_size, padding="same", activation="tanh", dtype=dtype)
  narrow = cgan_layers.ImageConv2D(filters, kernel_size, padding="same", activation="tanh", dtype=dtype)
  x = tf.cast(tf.random.normal([2, 12, 12, 5], seed=3), dtype)
  plain.build(x.shape)
  narrow.build(x.shape)
  for source, target in zip(plain.weights, narrow.weights):
    target.assign(source)
  upstream = tf.cast(tf.random.normal([2, 12, 12, filters], seed=4), dtype)
  results = []
  for layer in (plain, narrow):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = layer(x)
      loss = tf.reduce_sum(y * upstream)
    results.append([y] + tape.gradient(loss, [x] + layer.trainable_weights))
  tolerance = 1e-12 if dtype == "float64" else 2e-5
  for expected, got in zip(*results):
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=tolerance, atol=tolerance)


def test_image_conv_falls_back_to_conv2d_where_the_formulation_does_not_apply():
  assert cgan_layers.ImageConv2D(1, 7, padding="same")._narrow()
  assert not cgan_layers.ImageConv2D(1, 4, padding="same")._narrow()  # Even kernel: asymmetric padding.
  assert not cgan_layers.ImageConv2D(1, 3, strides=2, padding="same")._narrow()
  assert not cgan_layers.ImageConv2D(64, 3, padding="same")._narrow()


def test_auto_image_conv_is_depthwise_on_this_cpu_and_keeps_the_weights_of_the_standard_layer():
  assert not tf.config.list_logical_devices("GPU")  # The suite runs on CPUs.
  assert [cgan_layers.resolve_image_conv(f) for f in cgan_layers.IMAGE_CONVS] == ["depthwise", "standard",
                                                                                   "depthwise"]
  # XLA compiles its own convolutions, where the depthwise form is slow: auto keeps the standard layer.
  assert cgan_layers.resolve_image_conv("auto", xla="on") == "standard"
  assert cgan_layers.resolve_image_conv("depthwise", xla="on") == "depthwise"
  with pytest.raises(ValueError, match="image conv formulation"):
    cgan_layers.resolve_image_conv("winograd")
  # One checkpoint for both forms: the same variables under the same paths.
  built = {}
  for formulation in ("auto", "standard"):
    generator, _ = networks.build_networks(Config(image_shape=(28, 28, 1), num_classes=10, latent_dim=8,
                                                  g_filters=16, d_filters=16, image_conv=formulation))
    built[formulation] = generator
  assert type(built["auto"].get_layer("g_image")).__name__ == "ImageConv2D"
  assert type(built["standard"].get_layer("g_image")).__name__ == "Conv2D"
  assert ([(v.path, tuple(v.shape)) for v in built["auto"].weights]
          == [(v.path, tuple(v.shape)) for v in built["standard"].weights])


def test_a_generator_with_the_depthwise_image_conv_saves_and_loads_in_safe_mode(tmp_path):
  config = Config(image_shape=(28, 28, 1), num_classes=10, latent_dim=8, g_filters=16, d_filters=16,
                  image_conv="depthwise")
  generator, _ = networks.build_networks(config)
  assert type(generator.get_layer("g_image")).__name__ == "ImageConv2D"
  path = str(tmp_path / "g.keras")
  generator.save(path)
  loaded = keras.models.load_model(path, safe_mode=True)
  inputs = [tf.random.normal([3, 8], seed=1), tf.constant([1, 5, 9])]
  np.testing.assert_allclose(loaded(inputs).numpy(), generator(inputs).numpy(), atol=1e-6)
