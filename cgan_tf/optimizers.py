"""The optimizer registry: each --optimizer name and how it is built for one network."""

from typing import Callable

import keras

from cgan_tf.registry import Registry

# name -> (learning_rate, config) -> a Keras optimizer. beta_1 and beta_2 apply to Adam only; the others
# keep their Keras defaults.
OPTIMIZERS: Registry[Callable[..., keras.optimizers.Optimizer]] = Registry("optimizer", {
    "adam": lambda lr, config: keras.optimizers.Adam(lr, beta_1=config.beta_1, beta_2=config.beta_2),
    "rmsprop": lambda lr, config: keras.optimizers.RMSprop(lr),
    "sgd": lambda lr, config: keras.optimizers.SGD(lr),
})
