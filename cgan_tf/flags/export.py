"""Export: --mode=export, the generator as a TF Serving SavedModel; --mode=demo, a local page over one."""

from absl import flags

from cgan_tf import config as config_lib
from cgan_tf import trained_run
from cgan_tf.flags.help import described

_DEFAULTS = config_lib.Config()


flags.DEFINE_string("export_dir", _DEFAULTS.export_dir, "--mode=export: TF Serving's model base directory; "
                    "the SavedModel goes to <export_dir>/<model_name>/<version>/. --mode=demo: the export to "
                    "show: that base directory, a model directory (its highest version) or one version.")
flags.DEFINE_string("model_name", _DEFAULTS.model_name, "--mode=export: the model's name (TF Serving's "
                    "--model_name and the directory under --export_dir).")
flags.DEFINE_integer("export_version", _DEFAULTS.export_version, "--mode=export: the version number; 0 "
                     "uses the checkpoint's training step. An existing version is never overwritten.")
flags.DEFINE_bool("export_next_free_version", _DEFAULTS.export_next_free_version, "--mode=export: if the "
                  "version exists, use the number above every existing version instead of failing.")
flags.DEFINE_enum("export_source", _DEFAULTS.export_source, list(trained_run.EXPORT_SOURCES), "--mode=export: "
                  "which generator. " + described(trained_run.EXPORT_SOURCES))
flags.DEFINE_integer("max_batch", _DEFAULTS.max_batch, "--mode=export: the most images one serving request "
                     "may ask for; larger requests fail with InvalidArgument.")
flags.DEFINE_integer("demo_port", _DEFAULTS.demo_port, "--mode=demo: the page's port on 127.0.0.1; 0 picks a "
                     "free one (the command prints the address).")
