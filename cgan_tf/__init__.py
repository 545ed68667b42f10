"""cgan_tf: class-conditional GANs in TensorFlow 2, from one command to TF Serving."""

__version__ = "0.1.0"
