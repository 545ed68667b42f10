"""Trains one configuration in a fresh process and dumps what the distribution tests compare.

Each multi-replica run needs its own process: TF 2.21 fails collective reductions when a second
MirroredStrategy over a different device set trains in the same process.

  python -m tests.helpers.distributed_run '<config json>' out.npz
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from cgan_tf import distribute
from cgan_tf import gan
from cgan_tf import networks
from cgan_tf import train
from cgan_tf.config import Config
from tests.helpers.collection import collect_less_often


def main(config_json: str, out_path: str) -> None:
  config = Config.from_dict(json.loads(config_json))
  distribute.configure_cpu_devices(config.num_cpu_devices)  # before any op initialises TensorFlow
  collect_less_often()
  # The initial weights: train() seeds Keras with config.seed right before building the networks.
  keras.utils.set_random_seed(config.seed)
  initial_g, initial_d = networks.build_networks(train.resolve_training_config(config)[0])
  model = train.train(config)
  strategy = model.distribute_strategy
  replicas = strategy.num_replicas_in_sync
  per_replica = config.batch_size // replicas
  noise = strategy.run(tf.function(lambda: model.draw_latents(tf.constant(0, tf.int64), per_replica, gan.replica_index())[0]))
  noise = [t.numpy() for t in strategy.experimental_local_results(noise)]
  paired = strategy.run(tf.function(lambda: model.draw_latents(tf.constant(0, tf.int64), per_replica,
                                                             gan.replica_index(), gan.GENERATOR_STREAM, paired=True)[1]))
  paired = [t.numpy() for t in strategy.experimental_local_results(paired)]
  arrays = {f"g{i}": v.numpy() for i, v in enumerate(model.generator.trainable_variables)}
  arrays.update({f"d{i}": v.numpy() for i, v in enumerate(model.discriminator.trainable_variables)})
  if model.ema_generator is not None:
    arrays.update({f"ema{i}": v.numpy() for i, v in enumerate(model.ema_generator.weights)})
  # Non-trainable state of D (spectral normalization's u) and G (normalization statistics).
  arrays.update({f"dstate{i}": v.numpy() for i, v in enumerate(model.discriminator.non_trainable_weights)
                 if "seed_generator" not in v.path})
  arrays.update({f"gstate{i}": v.numpy() for i, v in enumerate(model.generator.non_trainable_weights)})
  arrays.update({f"init_g{i}": v.numpy() for i, v in enumerate(initial_g.trainable_variables)})
  arrays.update({f"init_d{i}": v.numpy() for i, v in enumerate(initial_d.trainable_variables)})
  arrays.update({f"noise{i}": n for i, n in enumerate(noise)})
  arrays.update({f"paired_labels{i}": labels for i, labels in enumerate(paired)})
  logs = {m.name: float(m.result()) for m in model.metrics}
  arrays["logs"] = np.array(json.dumps(logs))
  arrays["replicas"] = np.array(replicas)
  arrays["compute_dtype"] = np.array(model.generator.get_layer("g_up0").compute_dtype)
  arrays["iterations"] = np.array([int(model.d_optimizer.iterations.numpy()), int(model.g_optimizer.iterations.numpy())])
  arrays["optimizer_types"] = np.array(json.dumps([type(model.d_optimizer).__name__,
                                                   type(model.g_optimizer).__name__]))
  np.savez(out_path, **arrays)


if __name__ == "__main__":
  main(sys.argv[1], sys.argv[2])
