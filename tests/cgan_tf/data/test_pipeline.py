"""cgan_tf/data/pipeline.py: scaled to the generator's range, a permutation per epoch, resumable at any step, the same global batches for any replica and worker count."""


import numpy as np
import pytest
import tensorflow as tf

from cgan_tf.data import pipeline
from cgan_tf.config import ConfigError
from tests.helpers.images import small_data, take


def test_pipeline_scales_to_generator_range():
  images, labels = next(iter(pipeline.train_dataset(small_data(), 8, seed=0)))
  assert images.dtype == tf.float32 and labels.dtype == tf.int32
  assert images.shape == (8, 4, 4, 1)
  assert float(tf.reduce_min(images)) >= -1.0 and float(tf.reduce_max(images)) <= 1.0


def test_epochs_are_permutations_that_differ():
  source = small_data(count=40)
  batches = take(pipeline.train_dataset(source, 8, seed=3), 10)  # two epochs of 5 steps
  epoch0 = np.concatenate([y for _, y in batches[:5]])
  epoch1_images = np.concatenate([x for x, _ in batches[5:]])
  epoch0_images = np.concatenate([x for x, _ in batches[:5]])
  assert sorted(epoch0.tolist()) == sorted(source.labels.tolist())  # every example once per epoch
  assert not np.array_equal(epoch0_images, epoch1_images)  # reshuffled each epoch
  again = take(pipeline.train_dataset(source, 8, seed=3), 5)
  assert np.array_equal(epoch0_images, np.concatenate([x for x, _ in again]))


@pytest.mark.parametrize("start_step", [1, 4, 5, 7])
def test_pipeline_resumes_at_any_step(start_step):
  source = small_data(count=43)  # 5 steps per epoch; 3 examples dropped each epoch
  full = take(pipeline.train_dataset(source, 8, seed=11), 12)
  resumed = take(pipeline.train_dataset(source, 8, seed=11, start_step=start_step), 12 - start_step)
  for (x_full, y_full), (x_res, y_res) in zip(full[start_step:], resumed):
    np.testing.assert_array_equal(x_full, x_res)
    np.testing.assert_array_equal(y_full, y_res)


class FakeContext:
  def __init__(self, pipelines, pipeline_id, replicas):
    self.num_input_pipelines, self.input_pipeline_id, self.num_replicas_in_sync = pipelines, pipeline_id, replicas


@pytest.mark.parametrize("pipelines,replicas", [(1, 2), (1, 4), (2, 2), (2, 4)])
def test_same_global_batches_for_any_replica_and_worker_count(pipelines, replicas):
  source = small_data(count=64)
  one = take(pipeline.train_dataset(source, 16, seed=5), 3)
  per_replica = 16 // replicas
  streams = [take(pipeline.train_dataset(source, 16, seed=5, input_context=FakeContext(pipelines, p, replicas)),
                  3 * replicas // pipelines) for p in range(pipelines)]
  for step in range(3):
    parts = []
    for stream in streams:  # each pipeline's replicas in order, worker by worker
      parts.extend(stream[step * replicas // pipelines:(step + 1) * replicas // pipelines])
    assert all(x.shape[0] == per_replica for x, _ in parts)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in parts]), one[step][0])


def test_batch_errors():
  with pytest.raises(ConfigError, match="--batch_size: 64 is larger than the data set"):
    pipeline.train_dataset(small_data(count=40), 64, seed=0)
  with pytest.raises(ConfigError, match="not divisible by the 3 replicas"):
    pipeline.train_dataset(small_data(), 8, seed=0, input_context=FakeContext(1, 0, 3))


def test_the_training_stream_and_its_per_device_datasets_are_not_autotuned(monkeypatch):
  """An autotuned iterator's deletion can wait out a sleeping thread's whole period (cgan_tf/data/pipeline.py,
  NO_AUTOTUNING): the stream is built without autotuning, and so, inside untuned_device_datasets(), are
  the datasets tf.distribute builds behind it on each device."""
  from tensorflow.python.data.ops import multi_device_iterator_ops  # pylint: disable=g-import-not-at-top,g-direct-tensorflow-import
  assert pipeline.train_dataset(small_data(), 8, seed=0).options().autotune.enabled is False
  strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
  with pipeline.untuned_device_datasets():  # TF's own function, wrapped: an iterator works through it.
    batch = next(iter(pipeline.distributed_dataset(strategy, small_data(), 8, seed=1, start_step=0)))
  assert batch[0].shape == (8, 4, 4, 1)
  # What the wrapper does to what the wrapped function builds (TF's default: autotuned), and that leaving
  # puts the function back.
  def device_dataset(*args, **kwargs):
    return tf.data.Dataset.range(3).prefetch(1)
  monkeypatch.setattr(multi_device_iterator_ops, "_create_device_dataset", device_dataset)
  assert device_dataset().options().autotune.enabled is None
  with pipeline.untuned_device_datasets():
    assert multi_device_iterator_ops._create_device_dataset(None, 0, 1, False).options().autotune.enabled is False  # pylint: disable=protected-access
  assert multi_device_iterator_ops._create_device_dataset is device_dataset  # pylint: disable=protected-access
