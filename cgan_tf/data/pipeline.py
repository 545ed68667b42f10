"""The tf.data pipeline that feeds training.

The training pipeline is a pure function of (seed, step): epoch e is a stateless permutation of the data
set seeded by (seed, e), cut into global batches, and a pipeline started at step k yields exactly the
batches an uninterrupted run would have seen from step k on. Each global batch is then split by input
pipeline (worker) and replica, so the same global batch is consumed whatever the number of replicas.
"""

import contextlib
from typing import Optional

import tensorflow as tf
from tensorflow.python.data.ops import multi_device_iterator_ops  # pylint: disable=g-direct-tensorflow-import

from cgan_tf.config import ConfigError
from cgan_tf.data.types import Data, ImageData


# The training stream runs without tf.data's autotuning. An autotuned iterator runs a thread that sleeps
# in periods doubling from 10 ms to 60 s; deleting the iterator cancels it, but in TF 2.21 the cancellation
# can wake the thread before it is marked cancelled, and the thread then sleeps out its period while the
# deleting thread (whichever Python thread collects the iterator, holding the GIL) waits: up to a minute,
# at a moment no one chose, in a process that trains more than once (docs/benchmarks.md, "The test
# suite"). The stream only gathers batches from memory, so one map call at a time and two batches ready
# ahead are all it needs.
NO_AUTOTUNING = tf.data.Options()
NO_AUTOTUNING.autotune.enabled = False
PREFETCH_BATCHES = 2


def to_generator_range(images: tf.Tensor, output: str = "tanh") -> tf.Tensor:
  """uint8 [0, 255] -> float32 in the generator's output range: [-1, 1] for tanh, [0, 1] for sigmoid."""
  if output == "sigmoid":
    return tf.cast(images, tf.float32) / 255.0
  if output == "tanh":
    return tf.cast(images, tf.float32) / 127.5 - 1.0
  raise ValueError(f"images cannot be scaled to a {output!r} generator output")


def steps_per_epoch(num_examples: int, global_batch_size: int) -> int:
  steps = num_examples // global_batch_size
  if steps == 0:
    raise ConfigError(f"--batch_size: {global_batch_size} is larger than the data set "
                      f"({num_examples} examples)")
  return steps


def examples_per_step(global_batch_size: int, d_steps: int = 1) -> int:
  """Real examples one train step consumes: a global batch for each of its d_steps discriminator updates."""
  return global_batch_size * d_steps


def train_dataset(data: Data, global_batch_size: int, seed: int, start_step: int = 0,
                  input_context: Optional[tf.distribute.InputContext] = None, d_steps: int = 1,
                  output: str = "tanh") -> tf.data.Dataset:
  """The infinite training stream of one input pipeline, starting at global step `start_step`.

  Args:
    data: an `ImageData` (uint8 images, scaled to `output`'s range here) or a `PointData` (as they are).
    global_batch_size: examples per discriminator update over all replicas.
    seed: the run's seed; epoch e's order is a stateless permutation seeded by (seed, e).
    start_step: the first global step to produce batches for (for exact resumption).
    input_context: given by `distribute_datasets_from_function`; None for one replica.
    d_steps: discriminator updates per step; a step consumes d_steps global batches.
    output: the generator's output activation ("tanh" or "sigmoid"), whose range images are scaled to.

  Returns:
    A dataset of (samples float32 [d_steps * b, ...], labels int32 [d_steps * b]) per-replica elements,
    b = global_batch_size / replicas: for each of the step's d_steps global batches, this replica's slice,
    in order. The same global batches are consumed whatever the number of replicas and workers.
  """
  num_pipelines = input_context.num_input_pipelines if input_context else 1
  pipeline_id = input_context.input_pipeline_id if input_context else 0
  num_replicas = input_context.num_replicas_in_sync if input_context else 1
  if global_batch_size % num_replicas:
    raise ConfigError(f"--batch_size: the global batch {global_batch_size} is not divisible by the "
                      f"{num_replicas} replicas")
  per_replica = global_batch_size // num_replicas
  local_replicas = num_replicas // num_pipelines
  step_examples = examples_per_step(global_batch_size, d_steps)
  steps = steps_per_epoch(len(data.labels), step_examples)
  start_epoch, start_offset = divmod(start_step, steps)

  examples = tf.constant(data.examples)
  scale_images = isinstance(data, ImageData)  # Points are fed as they are.
  labels = tf.constant(data.labels, dtype=tf.int32)
  indices = tf.range(len(data.labels), dtype=tf.int32)

  def epoch_batches(epoch):
    order = tf.random.experimental.stateless_shuffle(
        indices, seed=tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)]))
    # [step, d update, pipeline, replica of the pipeline, example]: each replica takes its slice of every
    # one of the step's global batches.
    order = tf.reshape(order[:steps * step_examples], [steps, d_steps, num_pipelines, local_replicas, per_replica])
    order = tf.transpose(order[:, :, pipeline_id], [0, 2, 1, 3])
    first = tf.where(tf.equal(epoch, start_epoch), start_offset, 0)
    order = tf.reshape(order[first:], [-1, d_steps * per_replica])
    return tf.data.Dataset.from_tensor_slices(order)

  def gather(batch_indices):
    batch = tf.gather(examples, batch_indices)
    batch = to_generator_range(batch, output) if scale_images else tf.cast(batch, tf.float32)
    return batch, tf.gather(labels, batch_indices)

  dataset = tf.data.Dataset.counter(start_epoch).flat_map(epoch_batches)
  return dataset.map(gather).prefetch(PREFETCH_BATCHES).with_options(NO_AUTOTUNING)


@contextlib.contextmanager
def untuned_device_datasets():
  """While open, the per-device datasets that tf.distribute builds behind each replica's stream when an
  iterator is made (a generator and a prefetch of one, with default options and so autotuned; no public
  option reaches them) get NO_AUTOTUNING too. Restored on leaving; a TensorFlow without the private
  function keeps its own behaviour."""
  create = getattr(multi_device_iterator_ops, "_create_device_dataset", None)
  if create is None:
    yield
    return
  multi_device_iterator_ops._create_device_dataset = (  # pylint: disable=protected-access
      lambda *args, **kwargs: create(*args, **kwargs).with_options(NO_AUTOTUNING))
  try:
    yield
  finally:
    multi_device_iterator_ops._create_device_dataset = create  # pylint: disable=protected-access


def distributed_dataset(strategy: tf.distribute.Strategy, data: Data, global_batch_size: int, seed: int,
                        start_step: int, d_steps: int = 1, output: str = "tanh"):
  """The training stream distributed over `strategy`'s replicas, batched per replica. Make its iterators
  inside `untuned_device_datasets()`."""
  return strategy.distribute_datasets_from_function(
      lambda context: train_dataset(data, global_batch_size, seed, start_step, context, d_steps, output))
