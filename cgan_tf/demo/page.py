"""The demo page: a Gradio app on 127.0.0.1 over a `ServedGenerator`; every handler answers bad input with a
message on the page (never a traceback).

The images the page shows and offers for download are the PNG bytes the SavedModel itself encoded
(`images_png_bytes`), written to files unchanged, so what the page shows is what TF Serving would return.
"""

import io
import os
import shutil
import socket
import tempfile
import zipfile
from typing import List, Optional

from absl import logging
import numpy as np

# Gradio reports usage to its servers and looks up its newest version, and the Hugging Face client it
# imports looks for the Hub; the page needs nothing beyond the loopback, so by default none of them is
# asked. Set before gradio is imported, because both read them then.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402  pylint: disable=wrong-import-position

from cgan_tf import samples  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf.config import ConfigError  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf.demo import model_card  # noqa: E402  pylint: disable=wrong-import-position
from cgan_tf.demo.model import InputError, ServedGenerator, parse_truncation, png_names, tiled_shape  # noqa: E402  pylint: disable=wrong-import-position

HOST = "127.0.0.1"
KEPT_REQUESTS = 32  # Answers whose files stay on disk; older ones are deleted.
DEFAULT_COUNT = 8
DEFAULT_COLUMNS = 8
DEFAULT_STEPS = 16
MAX_TRUNCATION = 3.0


class Answers:
  """A private directory for the PNG files of each answer, the oldest deleted past KEPT_REQUESTS."""

  def __init__(self):
    self.root = tempfile.mkdtemp(prefix="cgan_tf_demo-")
    self.made: List[str] = []

  def new(self) -> str:
    directory = tempfile.mkdtemp(dir=self.root)
    self.made.append(directory)
    while len(self.made) > KEPT_REQUESTS:
      shutil.rmtree(self.made.pop(0), ignore_errors=True)
    return directory

  def write(self, directory: str, names: List[str], pngs: List[bytes]) -> List[str]:
    paths = []
    for name, png in zip(names, pngs):
      path = os.path.join(directory, name)
      with open(path, "wb") as f:
        f.write(png)
      paths.append(path)
    return paths

  def zipped(self, directory: str, name: str, paths: List[str]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already.
      for path in paths:
        archive.write(path, os.path.basename(path))
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
      f.write(buffer.getvalue())
    return path

  def close(self):
    shutil.rmtree(self.root, ignore_errors=True)


def _error(exception: Exception) -> str:
  if isinstance(exception, InputError):
    return f"**Cannot draw this:** {exception}"
  # Anything else is a bug or a broken model; the console gets the traceback, the page one line.
  logging.exception("demo request failed")
  return f"**The request failed:** {type(exception).__name__}: {str(exception).splitlines()[0] if str(exception) else ''}"


def _tile(images, columns: Optional[int] = None):
  """uint8 [n, H, W, C] -> one image, near-square (or `columns` wide), padded with white."""
  count = len(images)
  rows, columns = (-(-count // columns), columns) if columns else tiled_shape(count)
  blank = np.full((rows * columns - count,) + images.shape[1:], 255, np.uint8)
  return samples.tile(np.concatenate([images, blank]), rows, columns)


def build(model: ServedGenerator, answers: Answers) -> gr.Blocks:
  """The page's layout and handlers."""
  class_choices = [(f"{index}: {name}", index) for index, name in enumerate(model.class_names)]
  conditional = model.conditional
  dataset = model.description.get("config", {}).get("dataset", "generator")

  def one_class(label_value, seed_text, count_text, truncation):
    try:
      label = model.parse_class(label_value)
      seed = model.parse_seed(seed_text)
      count = model.parse_count(count_text)
      psi = parse_truncation(truncation)
      images, pngs = model.class_images(label, count, seed, psi)
      directory = answers.new()
      paths = answers.write(directory, png_names(label, count), pngs)
      grid_path = os.path.join(directory, f"{png_names(label, 1)[0][:-len('_0000.png')]}_seed{seed}_grid.png")
      samples.write_png(_tile(images), grid_path)
      downloads = [grid_path, answers.zipped(directory, f"class{label}_seed{seed}.zip" if label >= 0 else
                                             f"seed{seed}.zip", paths)]
      how = (f"serving_seeded(label=[{label}] x {count}, seed=[{seed}, {max(label, 0)}])" if not psi else
             f"serving_latent(label=[{label}] x {count}, noise=truncated_latent(seed=[{seed}, {max(label, 0)}], "
             f"psi={psi:g}))")
      gallery = [(path, f"{model.class_label(label)} #{index}") for index, path in enumerate(paths)]
      return gallery, downloads, f"{count} image(s) of {model.class_label(label)}, seed {seed}: `{how}`"
    except Exception as e:  # pylint: disable=broad-except
      return None, None, _error(e)

  def every_class(seed_text, columns_text, truncation):
    try:
      seed = model.parse_seed(seed_text)
      columns = model.parse_count(columns_text, "columns")
      psi = parse_truncation(truncation)
      grid, pngs = model.class_grid(columns, seed, psi)
      directory = answers.new()
      paths = []
      for row, row_pngs in enumerate(pngs):
        label = row if conditional else -1
        paths += answers.write(directory, png_names(label, columns), row_pngs)
      grid_path = os.path.join(directory, f"every_class_seed{seed}.png")
      samples.write_png(samples.tile(grid.reshape((-1,) + grid.shape[2:]), grid.shape[0], columns), grid_path)
      downloads = [grid_path, answers.zipped(directory, f"every_class_seed{seed}.zip", paths)]
      return grid_path, downloads, (f"Row k is class k with seed [{seed}, k], {columns} per row"
                                    + (f", truncation {psi:g}" if psi else ""))
    except Exception as e:  # pylint: disable=broad-except
      return None, None, _error(e)

  def interpolate(label_value, start_text, end_text, steps_text, truncation):
    try:
      label = model.parse_class(label_value)
      start = model.parse_seed(start_text)
      end = model.parse_seed(end_text)
      steps = model.parse_count(steps_text, "frames", low=2)
      psi = parse_truncation(truncation)
      images, pngs = model.interpolation(label, start, end, steps, psi)
      directory = answers.new()
      stem = f"class{label}_seeds{start}-{end}" if label >= 0 else f"seeds{start}-{end}"
      paths = answers.write(directory, png_names(label, steps, prefix=stem), pngs)
      strip_path = os.path.join(directory, f"{stem}_strip.png")
      samples.write_png(_tile(images, columns=steps), strip_path)
      downloads = [strip_path, answers.zipped(directory, f"{stem}.zip", paths)]
      path_kind = "spherical" if model.noise == "normal" else "straight"
      message = (f"{steps} points of {model.class_label(label)} on the {path_kind} path from seed {start} to "
                 f"seed {end} ({model.noise} noise)")
      return (gr.Slider(minimum=0, maximum=steps - 1, value=0, step=1, interactive=True), paths[0], strip_path,
              downloads, paths, message)
    except Exception as e:  # pylint: disable=broad-except
      return gr.Slider(), None, None, None, [], _error(e)

  def show_frame(index, paths):
    if not paths:
      return None
    return paths[min(max(int(index), 0), len(paths) - 1)]

  def class_input(elem_id):
    if not conditional:
      return gr.Textbox(value="unconditional", label="class", interactive=False, elem_id=elem_id)
    return gr.Dropdown(choices=class_choices, value=0, label="class (a name or an index)",
                       allow_custom_value=True, elem_id=elem_id)

  def truncation_input(elem_id):
    return gr.Slider(0.0, MAX_TRUNCATION, value=0.0, step=0.05, label="truncation psi (0: off)",
                     elem_id=elem_id)

  with gr.Blocks(title=f"cgan_tf demo: {dataset}", analytics_enabled=False) as page:
    gr.Markdown(f"# cgan_tf: {dataset} generator, step {model.training_step:,}\n"
                "Every image comes from the SavedModel's serving signatures, as TF Serving serves them.")
    with gr.Tabs():
      with gr.Tab("One class", elem_id="tab-class"):
        with gr.Row():
          label_box = class_input("class")
          seed_box = gr.Textbox(value="0", label="seed", elem_id="seed")
          count_box = gr.Textbox(value=str(min(DEFAULT_COUNT, model.max_batch)),
                                 label=f"count (1 to {model.max_batch})", elem_id="count")
          truncation_box = truncation_input("truncation")
        generate = gr.Button("Generate", variant="primary", elem_id="generate")
        message = gr.Markdown(elem_id="class-message")
        gallery = gr.Gallery(label="images", columns=8, object_fit="contain", height="auto",
                             elem_id="images")
        downloads = gr.File(label="download PNGs", file_count="multiple", elem_id="downloads")
        generate.click(one_class, [label_box, seed_box, count_box, truncation_box],
                       [gallery, downloads, message])
      with gr.Tab("Every class", elem_id="tab-grid"):
        with gr.Row():
          grid_seed = gr.Textbox(value="0", label="seed", elem_id="grid-seed")
          grid_columns = gr.Textbox(value=str(min(DEFAULT_COLUMNS, model.max_batch)),
                                    label=f"images per class (1 to {model.max_batch})", elem_id="grid-columns")
          grid_truncation = truncation_input("grid-truncation")
        grid_button = gr.Button("Generate the grid", variant="primary", elem_id="grid-generate")
        grid_message = gr.Markdown(elem_id="grid-message")
        grid_image = gr.Image(label="every class", type="filepath", format="png", interactive=False,
                              elem_id="grid")
        grid_downloads = gr.File(label="download PNGs", file_count="multiple", elem_id="grid-downloads")
        grid_button.click(every_class, [grid_seed, grid_columns, grid_truncation],
                          [grid_image, grid_downloads, grid_message])
      with gr.Tab("Interpolate", elem_id="tab-interpolate"):
        with gr.Row():
          path_label = class_input("path-class")
          start_seed = gr.Textbox(value="0", label="from seed", elem_id="path-start")
          end_seed = gr.Textbox(value="1", label="to seed", elem_id="path-end")
          steps_box = gr.Textbox(value=str(min(DEFAULT_STEPS, model.max_batch)),
                                 label=f"frames (2 to {model.max_batch})", elem_id="path-steps")
          path_truncation = truncation_input("path-truncation")
        path_button = gr.Button("Interpolate", variant="primary", elem_id="path-generate")
        path_message = gr.Markdown(elem_id="path-message")
        frame_slider = gr.Slider(0, DEFAULT_STEPS - 1, value=0, step=1, label="point on the path",
                                 interactive=True, elem_id="path-frame")
        frame_image = gr.Image(label="frame", type="filepath", format="png", interactive=False,
                               elem_id="path-image")
        strip_image = gr.Image(label="the whole path", type="filepath", format="png", interactive=False,
                               elem_id="path-strip")
        path_downloads = gr.File(label="download PNGs", file_count="multiple", elem_id="path-downloads")
        frame_paths = gr.State([])
        path_button.click(interpolate, [path_label, start_seed, end_seed, steps_box, path_truncation],
                          [frame_slider, frame_image, strip_image, path_downloads, frame_paths, path_message])
        frame_slider.change(show_frame, [frame_slider, frame_paths], [frame_image])
    with gr.Accordion("About this model", open=True, elem_id="model-card"):
      gr.Markdown(model_card.markdown(model))
  return page


def free_port() -> int:
  """A TCP port on 127.0.0.1 that was free a moment ago."""
  with socket.socket() as probe:
    probe.bind((HOST, 0))
    return probe.getsockname()[1]


def serve(model: ServedGenerator, port: int) -> None:
  """Serves the page on 127.0.0.1:`port` (0: a free port) until interrupted.

  Raises:
    ConfigError: naming --demo_port when the port cannot be had.
  """
  port = port or free_port()
  answers = Answers()
  page = build(model, answers)
  try:
    page.launch(server_name=HOST, server_port=port, share=False, quiet=True, prevent_thread_lock=True,
                footer_links=[])
  except OSError as e:
    answers.close()
    raise ConfigError(f"--demo_port: cannot serve on {HOST}:{port} ({e}); pass another port, or 0 for a "
                      f"free one") from e
  print(f"cgan_tf demo of {model.version_dir}: http://{HOST}:{port}/ (Ctrl-C stops it)", flush=True)
  try:
    page.block_thread()
  finally:
    page.close()
    answers.close()
