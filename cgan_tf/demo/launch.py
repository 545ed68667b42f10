"""--mode=demo's entry point: load the export, then serve the page until interrupted."""

from cgan_tf.config import Config, ConfigError
from cgan_tf.demo.model import ServedGenerator, resolve_version_dir

INSTALL_HINT = 'pip install -e ".[demo]" (or pip install "cgan_tf[demo]")'


def launch(config: Config) -> None:
  """Loads the export --export_dir names and serves the page on 127.0.0.1:--demo_port until interrupted.

  Raises:
    ConfigError: naming --export_dir when it holds no usable model, or --demo_port when the port is taken;
      also when the demo extra is not installed.
  """
  model = ServedGenerator(resolve_version_dir(config.export_dir, config.model_name))
  try:
    from cgan_tf.demo import page  # pylint: disable=g-import-not-at-top
  except ImportError as e:  # The page's library is an optional extra; the rest of cgan_tf runs without it.
    raise ConfigError(f"--mode=demo: the page needs Gradio, which is not installed ({e}); {INSTALL_HINT}") from e
  page.serve(model, config.demo_port)
