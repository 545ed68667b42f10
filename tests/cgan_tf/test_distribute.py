"""tf.distribute, mixed precision and XLA, checked on logical CPU devices with tests that can fail."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import distribute
from cgan_tf import networks
from cgan_tf import train
from cgan_tf.config import Config, ConfigError
from tests.helpers.replicas import INVARIANCE, assert_same_training, initial, run_in_processes, weights
from tests.helpers.workers import finish, start_workers

def named_weights(generator, discriminator):
  named = {f"g{i}": v.numpy() for i, v in enumerate(generator.trainable_variables)}
  named.update({f"d{i}": v.numpy() for i, v in enumerate(discriminator.trainable_variables)})
  return named


@pytest.fixture(scope="module")
def replica_runs(tmp_path_factory):
  from tests.helpers.data import make_idx_dataset
  root = tmp_path_factory.mktemp("replicas")
  idx = make_idx_dataset(str(root / "idx"))
  base = dict(dataset="synthetic", data_source="idx", data_dir=idx, verbose=0, seed=3, **INVARIANCE)
  configs = {replicas: Config(run_dir=str(root / f"r{replicas}"), num_cpu_devices=replicas,
                              strategy="mirrored" if replicas > 1 else "one_device", **base)
             for replicas in (1, 2, 4)}
  # XLA is compared over one step: over several, GAN dynamics amplify XLA's different rounding.
  one_step = dict(base, train_steps=1, checkpoint_every=1, sample_every=1, log_every=1)
  configs["1step"] = Config(run_dir=str(root / "r1step"), num_cpu_devices=1, strategy="one_device", **one_step)
  configs["2xla1step"] = Config(run_dir=str(root / "r2xla"), num_cpu_devices=2, strategy="mirrored", xla="on",
                                **one_step)
  return run_in_processes(configs)


@pytest.mark.slow
@pytest.mark.parametrize("replicas", [2, 4])
def test_weights_after_5_steps_do_not_depend_on_replica_count(replica_runs, replicas):
  one, many = weights(replica_runs[1]), weights(replica_runs[replicas])
  assert int(replica_runs[replicas]["replicas"]) == replicas
  assert one.keys() == many.keys() and len(one) > 10
  assert all(value.dtype == np.float64 for value in list(one.values()) + list(many.values()))
  assert_same_training(one, many, initial(replica_runs[1]))
  # The logged losses are the true global means, not divided by the replica count.
  logs_one, logs_many = json.loads(str(replica_runs[1]["logs"])), json.loads(str(replica_runs[replicas]["logs"]))
  for name in ("d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy", "mode_seeking_penalty"):
    assert logs_many[name] == pytest.approx(logs_one[name], rel=1e-4, abs=1e-6), name


@pytest.mark.slow
def test_training_moved_every_variable(replica_runs):
  """Guards the invariance test against comparing untrained networks."""
  for key, value in weights(replica_runs[1]).items():
    assert not np.array_equal(value, replica_runs[1][f"init_{key}"]), key


@pytest.mark.slow
@pytest.mark.parametrize("replicas", [2, 4])
def test_replicas_draw_distinct_slices_of_one_noise_stream(replica_runs, replicas):
  noise = [replica_runs[replicas][f"noise{i}"] for i in range(replicas)]
  for i in range(replicas):
    for j in range(i + 1, replicas):
      assert not np.allclose(noise[i], noise[j])
  np.testing.assert_array_equal(np.concatenate(noise), replica_runs[1]["noise0"])


@pytest.mark.slow
@pytest.mark.parametrize("replicas", [1, 2, 4])
def test_mode_seeking_pairs_share_a_label_and_replicas_slice_whole_pairs(replica_runs, replicas):
  labels = [replica_runs[replicas][f"paired_labels{i}"] for i in range(replicas)]
  for share in labels:
    assert len(share) % 2 == 0
    np.testing.assert_array_equal(share[0::2], share[1::2])
  everything = np.concatenate(labels)
  np.testing.assert_array_equal(everything, replica_runs[1]["paired_labels0"])
  assert len(set(everything[0::2].tolist())) > 3  # the pairs' labels themselves are drawn, not one class


@pytest.mark.slow
def test_per_replica_xla_under_mirrored_matches_no_xla(replica_runs):
  assert_same_training(weights(replica_runs["1step"]), weights(replica_runs["2xla1step"]),
                       initial(replica_runs["1step"]))


@pytest.mark.slow
def test_xla_whole_step_on_one_device_matches_no_xla(smoke_config, tmp_path):
  config = smoke_config(strategy="one_device", seed=3, **dict(INVARIANCE, train_steps=1, checkpoint_every=1,
                                                               sample_every=1, log_every=1))
  keras.utils.set_random_seed(config.seed)  # as train() does right before building
  distribute.set_precision(config.precision)
  generator, discriminator = networks.build_networks(train.resolve_training_config(config)[0])
  initial_weights = named_weights(generator, discriminator)
  runs = {}
  for xla in ("off", "on"):
    model = train.train(config.replace(run_dir=str(tmp_path / xla), xla=xla))
    assert model.jit_compile == (xla == "on")
    runs[xla] = named_weights(model.generator, model.discriminator)
  assert all(value.dtype == np.float64 for value in initial_weights.values())
  assert_same_training(runs["off"], runs["on"], initial_weights)


def test_non_finite_gradient_skips_the_step_and_halves_that_loss_scale(smoke_config):
  config = train.resolve_training_config(smoke_config(precision="mixed_float16"))[0]
  distribute.set_precision("mixed_float16")  # tests/conftest.py restores float32 after the test.
  model = train.build_gan(config, "mixed_float16", "off")
  d_before = [v.numpy() for v in model.discriminator.trainable_variables]
  g_before = [v.numpy() for v in model.generator.trainable_variables]
  d_scale, g_scale = float(model.d_optimizer.dynamic_scale.numpy()), float(model.g_optimizer.dynamic_scale.numpy())
  # NaN real images poison only D's loss; G's loss depends on the fake logits alone.
  real = tf.fill([8, 28, 28, 1], float("nan"))
  logs = model.train_step((real, tf.zeros([8], tf.int32)))
  assert float(logs["d_loss_scale"]) == d_scale / 2
  assert float(logs["g_loss_scale"]) == g_scale
  for before, v in zip(d_before, model.discriminator.trainable_variables):
    np.testing.assert_array_equal(v.numpy(), before)
  assert any(not np.array_equal(v.numpy(), b) for b, v in zip(g_before, model.generator.trainable_variables))
  assert model.generator.get_layer("g_up0").compute_dtype == "float16"
  assert model.generator.get_layer("g_up0").kernel.dtype == "float32"


# Two kinds of CPU as the kernel describes them: AVX2 without bfloat16 instructions (many laptops and AMD
# EPYC servers), and a Xeon with AVX-512 BF16 and AMX.
AVX2_CPU = "processor\t: 0\nmodel name\t: AMD EPYC 7B12\nflags\t\t: fpu sse sse2 avx avx2 fma\n"
AMX_CPU = ("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu avx2 avx512f avx512_bf16 "
           "amx_bf16 amx_tile amx_int8\n")
AVX512_BF16_CPU = "processor\t: 0\nmodel name\t: AMD EPYC 9B14\nflags\t\t: fpu avx2 avx512f avx512_bf16\n"


@pytest.mark.parametrize("cpuinfo,expected,because", [
    (AVX2_CPU, "float32", "without bfloat16 instructions"),
    (AMX_CPU, "mixed_bfloat16", "(amx_bf16, avx512_bf16)"),
    (AVX512_BF16_CPU, "mixed_bfloat16", "(avx512_bf16)"),
    (None, "float32", "without bfloat16 instructions"),  # No /proc/cpuinfo (another OS): no claim.
])
def test_auto_precision_on_a_cpu_picks_bfloat16_only_with_its_instructions(tmp_path, cpuinfo, expected, because):
  path = tmp_path / "cpuinfo"
  if cpuinfo is not None:
    path.write_text(cpuinfo)
  precision, reason = distribute.choose_precision(Config(precision="auto"), str(path))  # No GPU here.
  assert precision == expected and because in reason
  assert distribute.choose_precision(Config(precision="float32"), str(path)) == ("float32", "--precision=float32")
  assert distribute.resolve_precision(Config(precision="auto", strategy="tpu"), str(path)) == "mixed_bfloat16"


def test_cpu_name_and_flags_come_from_the_kernels_description(tmp_path):
  path = tmp_path / "cpuinfo"
  path.write_text(AMX_CPU + "\n" + AMX_CPU)  # Every logical CPU repeats them: the first is read.
  assert distribute.cpu_name(str(path)) == "Intel(R) Xeon(R) Processor"
  assert {"amx_bf16", "avx512_bf16", "avx2"} <= distribute.cpu_flags(str(path))
  assert distribute.cpu_name(str(tmp_path / "missing")) == "unknown CPU"
  assert distribute.cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_precision_and_xla_resolution():
  assert distribute.resolve_precision(Config(precision="mixed_bfloat16")) == "mixed_bfloat16"
  one = tf.distribute.OneDeviceStrategy("/cpu:0")
  assert distribute.resolve_xla(Config(xla="auto"), one) == distribute.XLA_OFF  # CPU
  assert distribute.resolve_xla(Config(xla="on"), one) == distribute.XLA_WHOLE_STEP
  assert distribute.resolve_xla(Config(xla="off"), one) == distribute.XLA_OFF


def test_strategy_factory(smoke_config):
  assert isinstance(distribute.create_strategy(Config(strategy="auto")), tf.distribute.OneDeviceStrategy)
  with pytest.raises(ConfigError, match="TF_CONFIG"):
    os.environ.pop("TF_CONFIG", None)
    distribute.create_strategy(Config(strategy="multi_worker"))


def test_global_batch_not_divisible_by_replicas_is_refused(smoke_config):
  with pytest.raises(ConfigError, match="--batch_size: the global batch 30 is not divisible by the 4 replicas"):
    train.train(smoke_config(batch_size=30, num_cpu_devices=4, strategy="mirrored"))


def test_replica_shares_that_split_a_mode_seeking_pair_are_refused(smoke_config):
  # 12 examples over 4 replicas: 3 each, so one pair of one label would straddle two replicas.
  with pytest.raises(ConfigError, match="--mode_seeking: each of the 4 replicas takes 3 examples"):
    train.train(smoke_config(batch_size=12, num_cpu_devices=4, strategy="mirrored", mode_seeking=1.0))


# Healthy workers: a generous collective timeout, and a grid and a log line often enough that the
# chief writes samples/ and logs/.
WORKER_OPTIONS = dict(collective_timeout=120, extra_flags=["--sample_every=2", "--log_every=1"])


@pytest.mark.slow
def test_two_workers_train_write_once_and_resume(tmp_path, idx_dir):
  run_dir = str(tmp_path / "mw")
  for code, err in finish(start_workers(run_dir, idx_dir, 4, **WORKER_OPTIONS)):
    assert code == 0, err[-3000:]
  assert sorted(os.listdir(os.path.join(run_dir, "checkpoints"))) == [
      "checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index", "ckpt-4.data-00000-of-00001", "ckpt-4.index"]
  # train.lock: the chief's, who alone writes the directory.
  assert sorted(os.listdir(run_dir)) == ["checkpoints", "config.json", "logs", "samples", "train.lock"]
  for code, err in finish(start_workers(run_dir, idx_dir, 6, **WORKER_OPTIONS)):
    assert code == 0, err[-3000:]
    assert "at step 4" in err  # both workers restored the chief's checkpoint
  assert os.path.exists(os.path.join(run_dir, "checkpoints", "ckpt-6.index"))


def test_tpu_strategy_without_a_tpu_is_refused_naming_the_flag():
  with pytest.raises(ConfigError, match="--strategy=tpu: no TPU found"):
    distribute.create_strategy(Config(strategy="tpu"))


def test_tpu_defaults_to_bfloat16():
  assert distribute.resolve_precision(Config(strategy="tpu", precision="auto")) == "mixed_bfloat16"
  assert distribute.resolve_precision(Config(strategy="tpu", precision="float32")) == "float32"
