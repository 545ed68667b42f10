"""--mode=demo: a local web page that shows an exported generator through its serving signatures.

  python -m cgan_tf.main --mode=demo --export_dir=pretrained/fashion_mnist

  launch.py      the entry point: load the export, serve the page
  model.py       the export, called only through its serving signatures; input checks
  model_card.py  what the page says about the model (metadata, the eval report's figures)
  page.py        the page itself (the optional `demo` extra, Gradio: pip install -e ".[demo]")

This package only hands names on.
"""

from cgan_tf.demo.launch import INSTALL_HINT
from cgan_tf.demo.launch import launch
