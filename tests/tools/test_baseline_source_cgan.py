"""The benchmark baseline (tools/baseline_source_cgan.py): its Keras 3 fix, its update check, its FLOP count."""

import numpy as np
import pytest

from tools import baseline_source_cgan as baseline
from tools.benchmarks import flops


def synthetic_samples(count: int = 64, seed: int = 0):
  """Random images in [-1, 1] with int32 labels, shaped like `load_real_samples`' output."""
  rng = np.random.default_rng(seed)
  images = rng.uniform(-1.0, 1.0, size=(count, 28, 28, 1)).astype(np.float32)
  return [images, (np.arange(count) % baseline.NUM_CLASSES).astype(np.int32)]


@pytest.mark.parametrize("variant, expected_failures", [
    ("fixed", []),
    # The source as written: D is frozen before its train function is first traced, so it never learns.
    ("literal", ["d_real", "d_fake"]),
    # D traced while trainable on int32 real labels; randint's int64 labels retrace it after freezing.
    ("traced_before_freezing", ["d_fake"]),
])
def test_update_check_passes_only_for_the_fixed_port(variant, expected_failures):
  check = baseline.check_updates(baseline.SourceCGAN(synthetic_samples(), variant, batch_size=8))
  failed_phases = [phase for phase in baseline.PHASES
                   if any(problem.startswith(phase + ":") for problem in check.failures())]
  assert failed_phases == expected_failures, check.table()
  assert check.ok == (variant == "fixed")
  # Only D's updates ever go wrong: the combined update trains G alone in every variant.
  assert check.changed["gan"] == (0, check.g_count)


def test_fixed_port_keeps_learning_in_both_d_updates_after_several_steps():
  cgan = baseline.SourceCGAN(synthetic_samples(), "fixed", batch_size=8)
  cgan.train(n_epochs=1, max_steps=3, log_every=0)
  assert baseline.check_updates(cgan).ok


def test_flop_count_of_the_source_networks_follows_the_stated_rule():
  cgan = baseline.SourceCGAN(synthetic_samples(), "fixed", batch_size=8)
  generator, discriminator = cgan.g_model, cgan.d_model
  # Multiply-adds per example, by hand: G = Dense(100->6272) + label Dense(50->49) + two transposed
  # convs (7x7x129 and 14x14x128 inputs, 4x4 kernels, 128 out) + Conv2D(7x7, 128->1) at 28x28.
  g_macs = 100 * 6272 + 50 * 49 + 7 * 7 * 129 * 16 * 128 + 14 * 14 * 128 * 16 * 128 + 28 * 28 * 49 * 128
  # D = label Dense(50->784) + Conv2D(3x3, 2->128) at 14x14 + Conv2D(3x3, 128->128) at 7x7 + Dense(6272->1).
  d_macs = 50 * 784 + 14 * 14 * 128 * 9 * 2 + 7 * 7 * 128 * 9 * 128 + 6272
  counted = flops.train_step_flops(generator, discriminator, batch_size=1)
  assert counted["generator_forward"] == 2 * g_macs
  assert counted["discriminator_forward"] == 2 * d_macs
  # D's update: every layer gets a weight gradient, and an input gradient too, since the trained label
  # branch (embedding, then Dense) lies before each of them; G's update: D passes gradients back to the
  # image but trains nothing, and G's first Dense needs no gradient for its input, the noise.
  assert flops.backward_macs(discriminator, True, set()) == 2 * d_macs
  d_to_image = flops.backward_macs(discriminator, False, {flops.image_input_index(discriminator)})
  assert d_to_image == d_macs - 50 * 784
  assert flops.backward_macs(generator, True, set()) == 2 * g_macs - 100 * 6272
  assert counted["total"] == 2 * ((g_macs + 2 * (d_macs + 2 * d_macs)) + (g_macs + d_macs + d_to_image
                                                                       + 2 * g_macs - 100 * 6272))
  assert not flops.uncounted_layers(generator) and not flops.uncounted_layers(discriminator)


def test_equal_work_step_counts_the_flops_of_a_cgan_tf_alternating_step():
  cgan = baseline.SourceCGAN(synthetic_samples(), "fixed", batch_size=8, d_batch=8)
  generator, discriminator = cgan.g_model, cgan.d_model
  equal = flops.baseline_step_flops(generator, discriminator, d_batch=8, gan_batch=8)
  assert equal["total"] == flops.train_step_flops(generator, discriminator, batch_size=8)["total"]
  # The source's step: D's two updates on half a batch each, the combined update on the full batch.
  source = flops.baseline_step_flops(generator, discriminator, d_batch=4, gan_batch=8)
  assert source["generator_update"] == equal["generator_update"]
  assert 2 * source["discriminator_updates"] == equal["discriminator_updates"]


def test_d_batch_sets_the_images_of_each_d_update_and_keeps_the_fix():
  cgan = baseline.SourceCGAN(synthetic_samples(), "fixed", batch_size=8, d_batch=8)
  seen = []
  original = cgan.d_model.train_on_batch
  cgan.d_model.train_on_batch = lambda x, y: seen.append(len(y)) or original(x, y)
  assert baseline.check_updates(cgan).ok
  assert seen == [8, 8]
  assert baseline.SourceCGAN(synthetic_samples(), "fixed", batch_size=8).d_batch == 4
