"""A GPU proxy, not cgan_tf: three presets' train steps written again in JAX (see README.md here)."""
