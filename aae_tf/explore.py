"""The explorer: a local web page over one export (`aae-explore --export_dir=DIR`).

Three tabs put the paper's figures in a user's hands: the map of the code (click a
point, see what it decodes to; decode a grid over the view), sample and steer (a slider
per code dimension, a class selector where the decoder reads one), and your own image
(draw or upload; its code, reconstruction, class probabilities, its style in every
class, its cluster with the cluster's head and members). The questions are answered by
`aae_tf.explorer.ExportExplorer`; this module only lays them out with Gradio, an
optional extra (`pip install 'aae_tf[explore]'`).

Bad input is a message in the page (`ExplorerInputError`), never a stack trace.
"""

if __name__ == "__main__":  # the program itself: TensorFlow's start-up lines held back
  from aae_tf import startup
  startup.stop_quietly_on_interrupt()
  startup.import_tensorflow_quietly()

import functools
import logging
import os
import time
from typing import Callable, Optional

import numpy as np

from aae_tf import explorer as explorer_lib

GRADIO_MISSING = ("the explorer needs Gradio, an optional extra: pip install "
                  "'aae_tf[explore]' (from a checkout: pip install '.[explore]')")
NEAREST = "nearest point's class"


def import_gradio():
  """Gradio, or ImportError with the one line that says how to get it."""
  os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")   # no phoning home
  try:
    import gradio  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise ImportError(GRADIO_MISSING) from None
  return gradio


def _message(text: str) -> str:
  return f"**{text}**" if text else ""


def _guarded(fn: Callable, outputs: int, log: Callable[[str], None]):
  """`fn`'s outputs, or (None, ..., message) for an input it refuses: the message goes
  to the page's message box (the last output), never a stack trace."""
  @functools.wraps(fn)   # keeps the signature: Gradio passes event data by annotation
  def run(*args):
    start = time.perf_counter()
    try:
      values = fn(*args)
      message = ""
    except explorer_lib.ExplorerInputError as e:
      values, message = (None,) * (outputs - 1), str(e)
    except Exception as e:  # pylint: disable=broad-except
      # Not the user's doing: say so in the page; the server's log has the detail.
      values = (None,) * (outputs - 1)
      message = f"the model could not answer ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
      log(f"{fn.__name__} failed: {e!r}")
    log(f"{fn.__name__}: {1000 * (time.perf_counter() - start):.1f} ms")
    values = values if isinstance(values, tuple) else (values,)
    return (*values, _message(message))
  return run


def _label_of(explorer, choice) -> Optional[int]:
  if not explorer.takes_label or choice in (None, NEAREST):
    return None
  return explorer.category_names().index(choice)


def _vector_note(explorer) -> str:
  return ("" if explorer.is_image else
          f"This model's examples are vectors of {explorer.data_shape[0]} values, not "
          "images: decoded examples are shown as numbers.")


def _shown(explorer, image, example=None):
  """What an output slot shows: the image, or (vectors) the numbers."""
  if explorer.is_image or example is None:
    return image
  return np.array2string(np.asarray(example).reshape(-1)[:32], precision=3)


def build_app(explorer: explorer_lib.ExportExplorer,
              log: Callable[[str], None] = lambda _: None):
  """The Gradio Blocks app over `explorer` (not launched; `serve` launches it with the
  drawing pad's script and style, which Gradio 6 takes at launch)."""
  gr = import_gradio()
  names = explorer.category_names()
  output = gr.Image if explorer.is_image else gr.Textbox
  with gr.Blocks(title="aae_tf explorer") as app:
    gr.Markdown(f"## aae_tf explorer\n{explorer.describe()}\n\n{_vector_note(explorer)}")
    with gr.Tab("Map of the code"):
      _map_tab(gr, explorer, names, output, log)
    with gr.Tab("Sample and steer"):
      _steer_tab(gr, explorer, names, output, log)
    with gr.Tab("Your image"):
      _image_tab(gr, explorer, log)
  return app


def _class_selector(gr, explorer, names, with_nearest: bool, elem_id: str):
  if not explorer.takes_label:
    return gr.State(None)
  choices = ([NEAREST] if with_nearest else []) + names
  return gr.Dropdown(choices, value=choices[0], label="class the decoder reads",
                     elem_id=elem_id)


def _map_tab(gr, explorer, names, output, log):
  gr.Markdown("Click the map: the point is decoded on the right. The grid decodes the "
              "whole view.")
  if explorer.codes is None:
    gr.Markdown(f"**No map: {explorer.data_problem}**", elem_id="map-message")
    return
  with gr.Row():
    map_image = gr.Image(explorer.map_image(), label="test codes", interactive=False,
                         elem_id="map", show_label=True)
    with gr.Column():
      decoded = output(label="decoded at the click", elem_id="map-decoded")
      point = gr.Markdown(elem_id="map-point")
      label = _class_selector(gr, explorer, names, True, "map-class")
  manifold_button = gr.Button("Decode a 10x10 grid over the view", elem_id="manifold")
  manifold = output(label="decoded grid", elem_id="manifold-image")
  message = gr.Markdown(elem_id="map-message")

  def decode_click(choice, event: gr.SelectData):
    x, y = event.index
    image, (u, v) = explorer.decode_at_pixel(x, y, _label_of(explorer, choice))
    return image, f"point ({u:.3g}, {v:.3g})"

  def decode_grid(choice):
    return explorer.manifold(10, _label_of(explorer, choice))

  map_image.select(_guarded(decode_click, 3, log), inputs=[label],
                   outputs=[decoded, point, message])
  manifold_button.click(_guarded(decode_grid, 2, log), inputs=[label],
                        outputs=[manifold, message])


def _steer_tab(gr, explorer, names, output, log):
  dims = explorer.steer_dimensions()
  rest = explorer.latent_dim - dims
  gr.Markdown("A slider per code dimension"
              + (f" (the first {dims}; the other {rest} come from the prior, drawn with "
                 "the seed)" if rest else "")
              + ". Sample draws a new code from the prior.")
  with gr.Row():
    with gr.Column():
      sliders = [gr.Slider(*explorer.slider_range(i), value=0.0, step=0.01,
                           label=f"z[{i}]", elem_id=f"slider-{i}") for i in range(dims)]
      seed = gr.Number(0, precision=0, label="seed", elem_id="seed")
      label = _class_selector(gr, explorer, names, False, "steer-class")
      sample = gr.Button("Sample from the prior", elem_id="sample")
    with gr.Column():
      decoded = output(label="decoded", elem_id="steer-decoded")
      code = gr.Markdown(elem_id="steer-code")
      message = gr.Markdown(elem_id="steer-message")

  def steer(*values):
    *slider_values, seed_value, choice = values
    image, z = explorer.steer(slider_values, int(seed_value or 0), _label_of(explorer, choice))
    text = "z = [" + ", ".join(f"{v:.2f}" for v in z) + "]"
    return image, text

  def draw(seed_value, choice):
    seed_value = int(seed_value or 0) + 1
    z = explorer.prior_code(seed_value, _label_of(explorer, choice))
    return (*[float(v) for v in z[:dims]], seed_value)

  inputs = [*sliders, seed, label]
  for slider in sliders:
    slider.change(_guarded(steer, 3, log), inputs=inputs, outputs=[decoded, code, message],
                  trigger_mode="always_last", show_progress="hidden")
  sample.click(draw, inputs=[seed, label], outputs=[*sliders, seed]).then(
      _guarded(steer, 3, log), inputs=inputs, outputs=[decoded, code, message])


def _image_tab(gr, explorer, log):
  if not explorer.is_image:
    gr.Markdown(f"**{_vector_note(explorer)} Drawing and uploading are for image models.**")
    return
  h, w, _ = explorer.data_shape
  scale = max(1, 280 // max(h, w))
  gr.Markdown(f"Draw (the canvas is {w}x{h} pixels scaled by {scale}) or upload a "
              f"{w}x{h} image, then analyse it.")
  with gr.Row():
    with gr.Column():
      gr.HTML(f'<canvas id="aae-pad" width="{w * scale}" height="{h * scale}" '
              f'data-rows="{h}" data-cols="{w}" data-scale="{scale}"></canvas>'
              '<div><button id="aae-pad-clear" type="button">clear the canvas</button></div>',
              elem_id="sketch")
      # The canvas's pixels reach Python through this hidden box (the page's script
      # writes the drawing, reduced to the data's size, into it when a stroke ends):
      # one small request, where Gradio's image editor uploads whole images.
      drawing = gr.Textbox(elem_id="aae-pad-data", container=False, show_label=False)
      upload = gr.Image(type="numpy", image_mode=None, label="or upload", elem_id="upload",
                        sources=["upload", "clipboard"])
      if explorer.needs_the_class:
        names = explorer.category_names()
        own_class = gr.Dropdown(names, value=names[0], elem_id="image-class",
                                label="its class (this decoder rebuilds an image as a class)")
      else:
        own_class = gr.State(None)
      analyse_drawing = gr.Button("Analyse the drawing", elem_id="analyse-drawing")
      analyse_upload = gr.Button("Analyse the upload", elem_id="analyse-upload")
    with gr.Column():
      message = gr.Markdown(elem_id="image-message")
      with gr.Row():
        seen = gr.Image(label="what the model reads", elem_id="image-input")
        reconstruction = gr.Image(label="reconstruction", elem_id="image-reconstruction")
      code = gr.Markdown(elem_id="image-code")
      probabilities = gr.Label(label="classify", elem_id="image-probabilities",
                               visible=explorer.has_categories, num_top_classes=5)
      style = gr.Image(label="its style in every class", elem_id="image-style",
                       visible=explorer.shows_style_in_every_class)
      cluster = gr.Markdown(elem_id="image-cluster", visible=explorer.learns_clusters)
      with gr.Row(visible=explorer.learns_clusters):
        head = gr.Image(label="the cluster's head (z = 0)", elem_id="image-cluster-head")
        members = gr.Image(label="members of the cluster (test split)",
                           elem_id="image-cluster-members")
  outputs = [seen, reconstruction, code, probabilities, style, cluster, head, members]

  def analyse(image, choice=None):
    if image is None:
      raise explorer_lib.ExplorerInputError("draw or upload an image first")
    label = explorer.category_names().index(choice) if choice is not None else None
    found = explorer.analyse(image, label)
    z = ", ".join(f"{v:.2f}" for v in found["z"])
    cluster_text = (f"cluster {found['cluster']} ({found['cluster_size']} of the map's test "
                    "images)" if "cluster" in found else "")
    return (found["input"], found["reconstruction"], f"code z = [{z}]",
            found.get("probabilities"), found.get("style_in_every_class"), cluster_text,
            found.get("cluster_head"), found.get("cluster_members"))

  def analyse_sketch(value, choice=None):
    pixels = _pad_pixels(value, h, w)
    if not pixels.any():
      raise explorer_lib.ExplorerInputError("draw on the canvas first")
    return analyse(pixels, choice)

  analyse_sketch.__name__ = "analyse_drawing"
  guarded_sketch = _guarded(analyse_sketch, len(outputs) + 1, log)
  analyse_drawing.click(guarded_sketch, inputs=[drawing, own_class],
                        outputs=[*outputs, message])
  drawing.change(guarded_sketch, inputs=[drawing, own_class], outputs=[*outputs, message],
                trigger_mode="always_last", show_progress="hidden")
  guarded_upload = _guarded(analyse, len(outputs) + 1, log)
  analyse_upload.click(guarded_upload, inputs=[upload, own_class],
                       outputs=[*outputs, message])
  upload.upload(guarded_upload, inputs=[upload, own_class], outputs=[*outputs, message])


def load(export_dir: str, version: Optional[int] = None, dataset: Optional[str] = None,
         data_dir: Optional[str] = None, log: Callable[[str], None] = print):
  """The explorer over an export and its data. Data that cannot be loaded leave the
  page without its map (and say why), not without a page."""
  from aae_tf import errors  # pylint: disable=g-import-not-at-top
  from aae_tf import evaluate  # pylint: disable=g-import-not-at-top
  from aae_tf import exported as exported_lib  # pylint: disable=g-import-not-at-top
  exported = exported_lib.load_exported(export_dir, version)
  missing = [name for name in ("decode", "sample") if name not in exported.decoder.signatures]
  missing += [name for name in ("encode",) if name not in exported.encoder.signatures]
  if missing or "latent_dim" not in exported.info:
    raise errors.ExportError(
        f"{export_dir} lacks {', '.join(missing) or 'latent_dim in aae_config.json'}: it "
        "is not an aae_tf export, or one too old to explore; re-export it with aae-export")
  try:
    splits = evaluate.load_data(exported.info, data_dir=data_dir, dataset=dataset, log=log)
    problem = ""
  except (errors.DataError, ValueError) as e:
    splits, problem = None, f"the data could not be loaded ({e})"
    log(f"aae-explore: {problem}; serving without the map")
  return explorer_lib.ExportExplorer(exported, splits, data_problem=problem)


def write_projector(explorer: explorer_lib.ExportExplorer, logdir: str) -> str:
  """The explorer's test codes (the whole test split) for TensorBoard's projector."""
  from aae_tf import exported as exported_lib  # pylint: disable=g-import-not-at-top
  from aae_tf import projector  # pylint: disable=g-import-not-at-top
  if explorer.splits is None:
    raise explorer_lib.ExplorerInputError(f"no projector: {explorer.data_problem}")
  test = explorer.splits.test
  codes = exported_lib.encode(explorer.exported, test.images)["z"]
  return projector.write_projector(logdir, codes, test.labels,
                                   test.images if explorer.is_image else None,
                                   explorer.splits.class_names)


def _pad_pixels(value: Optional[str], rows: int, cols: int) -> np.ndarray:
  """The drawing pad's message (rows x cols grey values 0..255, comma-separated, ink
  bright) as uint8 [rows, cols]; blank for anything else."""
  try:
    values = np.array([int(v) for v in (value or "").split(",")], np.int64)
  except ValueError:
    values = np.zeros(0, np.int64)
  if values.size != rows * cols:
    return np.zeros((rows, cols), np.uint8)
  return np.clip(values, 0, 255).astype(np.uint8).reshape(rows, cols)


# The drawing pad: white ink on black, as the digits are; when a stroke ends, the canvas
# is averaged down to the data's size and written into the hidden box.
_PAD_CSS = """
#aae-pad { background: #000; cursor: crosshair; touch-action: none; border: 1px solid #888; }
#aae-pad-data { display: none !important; }
"""
_PAD_SCRIPT = """<script>
(function () {
  function bind(pad) {
    if (pad.dataset.bound) return;
    pad.dataset.bound = "1";
    const ctx = pad.getContext("2d", {willReadFrequently: true});
    const rows = +pad.dataset.rows, cols = +pad.dataset.cols, scale = +pad.dataset.scale;
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, pad.width, pad.height);
    ctx.strokeStyle = "#fff"; ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.lineWidth = Math.max(2, 2.2 * scale);
    let drawing = false;
    const at = (e) => { const r = pad.getBoundingClientRect();
      return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height]; };
    pad.addEventListener("pointerdown", (e) => { drawing = true; pad.setPointerCapture(e.pointerId);
      const [x, y] = at(e); ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x, y); ctx.stroke(); });
    pad.addEventListener("pointermove", (e) => { if (!drawing) return;
      const [x, y] = at(e); ctx.lineTo(x, y); ctx.stroke(); });
    const send = () => {
      const data = ctx.getImageData(0, 0, pad.width, pad.height).data, out = [];
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
        let sum = 0;
        for (let y = r * scale; y < (r + 1) * scale; y++)
          for (let x = c * scale; x < (c + 1) * scale; x++) sum += data[4 * (y * pad.width + x)];
        out.push(Math.round(sum / (scale * scale)));
      }
      const box = document.querySelector("#aae-pad-data textarea, #aae-pad-data input");
      box.value = out.join(",");
      box.dispatchEvent(new Event("input", {bubbles: true}));
    };
    pad.addEventListener("pointerup", () => { if (drawing) { drawing = false; send(); } });
    const clear = document.getElementById("aae-pad-clear");
    if (clear) clear.addEventListener("click", () => {
      ctx.fillStyle = "#000"; ctx.fillRect(0, 0, pad.width, pad.height); });
  }
  setInterval(() => { const pad = document.getElementById("aae-pad"); if (pad) bind(pad); }, 300);
})();
</script>"""


def serve(explorer: explorer_lib.ExportExplorer, host: str, port: int,
          log: Callable[[str], None] = lambda line: print(line, flush=True)) -> None:
  """Serves the app until interrupted; says where it listens."""
  app = build_app(explorer, log=lambda line: log(f"aae-explore: {line}"))
  # Gradio checks its own server over HTTP at launch; httpx logs each request at INFO.
  logging.getLogger("httpx").setLevel(logging.WARNING)
  app.launch(server_name=host, server_port=port, prevent_thread_lock=True, quiet=True,
             show_error=False, head=_PAD_SCRIPT, css=_PAD_CSS)
  log(f"aae-explore: listening on http://{host}:{port}/ (Ctrl-C stops)")
  try:
    while True:
      time.sleep(3600)
  except KeyboardInterrupt:
    app.close()


if __name__ == "__main__":
  from aae_tf import main  # the command line lives there
  main.console_explore()
