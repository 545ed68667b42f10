"""The small CNN used both as the evaluator (trained on real data) and for CAS (trained on generated data)."""

import keras
import numpy as np

FEATURES_LAYER = "features"  # The penultimate layer: the feature space of the Fréchet distance and KID.


def build_classifier(image_shape, num_classes: int, feature_dim: int = 128, seed: int = 0) -> keras.Model:
  """A two-stage CNN on uint8-valued images; logits out.

  Small on purpose: it must train to >= 0.90 Fashion-MNIST test accuracy in a few epochs on 2 CPU cores.
  Pixels are rescaled inside the model, so callers always feed the uint8 images the generator's output
  is quantized to, and the saved `.keras` file needs no preprocessing code (it loads in safe mode).

  Args:
    image_shape: (height, width, channels).
    num_classes: output classes.
    feature_dim: width of the penultimate (feature) layer.
    seed: seed of the initializers and dropout.

  Returns:
    An uncompiled Keras model mapping images [b, H, W, C] (uint8 values as float) to logits [b, classes].
  """
  initializer = lambda offset: keras.initializers.GlorotUniform(seed=seed + offset)  # noqa: E731
  layers = keras.layers
  images = keras.Input(tuple(image_shape), name="image")
  x = layers.Rescaling(1.0 / 255.0)(images)
  for index, filters in enumerate((32, 64)):
    # Batch normalization makes the few epochs count: about a point more test accuracy for little cost.
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=initializer(index))(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)
  x = layers.Flatten()(x)
  features = layers.Dense(feature_dim, activation="relu", kernel_initializer=initializer(2),
                          name=FEATURES_LAYER)(x)
  x = layers.Dropout(0.3, seed=seed)(features)
  logits = layers.Dense(num_classes, kernel_initializer=initializer(3), name="logits")(x)
  return keras.Model(images, logits, name="classifier")


def fit_classifier(images: np.ndarray, labels: np.ndarray, num_classes: int, epochs: int, seed: int,
                   batch_size: int = 128, verbose: int = 0) -> keras.Model:
  """Builds and trains a fresh classifier on (images uint8 [N, H, W, C], labels int [N])."""
  keras.utils.set_random_seed(seed)
  model = build_classifier(images.shape[1:], num_classes, seed=seed)
  # Cosine decay to zero: in a few epochs it buys about a point of accuracy over a constant rate.
  steps = epochs * int(np.ceil(len(labels) / batch_size))
  learning_rate = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps)
  model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
  # Keras shuffles each epoch from the global seed set above, so a refit gives the same classifier.
  model.fit(images.astype(np.float32), labels.astype(np.int32), batch_size=batch_size, epochs=epochs,
            shuffle=True, verbose=verbose)
  return model


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int = 500) -> float:
  """Fraction of `images` that `model` assigns to `labels`."""
  logits = model.predict(images.astype(np.float32), batch_size=batch_size, verbose=0)
  return float(np.mean(np.argmax(logits, axis=-1) == labels))
