"""What the explorer asks of an export, without any user interface.

`ExportExplorer` answers the paper's figures as questions about one export, through its
public signatures and `aae_config.json` only (so it works on any export, any data shape,
every variant): where do the test images' codes lie (the map, in 2-D or along the first
two principal components), what does a point of the code decode to, what does a code
steered by hand decode to, and what does the model make of an image a user brings (its
code, reconstruction, class probabilities, its style in every class, its cluster with
the cluster's head and members). `aae_tf.explore` puts a web page in front of it.

Every image it returns is uint8 [H, W, 3] (or None where the data are not images), upscaled
for display; every refusal is an `ExplorerInputError` whose message says what to do.
"""

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from aae_tf import data
from aae_tf import figures
from aae_tf import exported as exported_lib
from aae_tf.sources import common

MAP_POINTS = 2000        # test codes drawn on the map (a seeded subset: the page stays fast)
STEER_DIMENSIONS = 8     # sliders; the rest of a code is drawn from the prior
DISPLAY_SIZE = 140       # pixels of the longer side of a displayed example
GRID_TILE_SIZE = 56      # ... and of one tile of a grid
MEMBERS_SHOWN = 16       # members of a cluster shown beside its head


class ExplorerInputError(ValueError):
  """An input the explorer cannot use; the message names the problem and the fix."""


@dataclasses.dataclass(frozen=True)
class MapView:
  """The map's projection and the pixel box its axes occupy (to read a click)."""
  mean: np.ndarray          # [d] the codes' mean (PCA centre; zeros for 2-D codes)
  axes: np.ndarray          # [2, d] the directions shown (the identity for 2-D codes)
  limits: Tuple[float, float, float, float]  # x_min, x_max, y_min, y_max
  box: Tuple[int, int, int, int]             # left, top, right, bottom in pixels

  def to_code(self, uv: np.ndarray) -> np.ndarray:
    return self.mean + np.asarray(uv, np.float64) @ self.axes

  def from_code(self, z: np.ndarray) -> np.ndarray:
    return (np.asarray(z, np.float64) - self.mean) @ self.axes.T

  def pixel_to_point(self, x: float, y: float) -> Optional[Tuple[float, float]]:
    """Map coordinates under pixel (x, y) of the map image; None outside the axes."""
    left, top, right, bottom = self.box
    if not (left <= x <= right and top <= y <= bottom):
      return None
    x_min, x_max, y_min, y_max = self.limits
    u = x_min + (x - left) / max(right - left, 1) * (x_max - x_min)
    v = y_max - (y - top) / max(bottom - top, 1) * (y_max - y_min)
    return float(u), float(v)


def _principal_axes(codes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """(mean, [2, d] axes): the identity for 2-D codes, else the first two principal
  components (scaled to unit length, so map units are code units)."""
  d = codes.shape[1]
  if d <= 2:
    axes = np.eye(2, d)
    return np.zeros(d), axes
  mean = codes.mean(axis=0)
  _, _, vt = np.linalg.svd(codes - mean, full_matrices=False)
  return mean, vt[:2]


class ExportExplorer:
  """One export and the data it is shown against."""

  def __init__(self, exported: exported_lib.Exported, splits: Optional[data.DataSplits],
               map_points: int = MAP_POINTS, seed: int = 0, data_problem: str = ""):
    """`splits` None (with `data_problem` saying why): no map and no cluster members;
    sampling, steering and the user's own images still work."""
    self.exported, self.splits = exported, splits
    self.spec = exported.spec
    self.data_shape = tuple(exported.data_shape)
    self.is_image = len(self.data_shape) == 3
    self.latent_dim = int(exported.info["latent_dim"])
    self.num_categories = exported.num_categories
    self.data_problem = data_problem
    names = tuple(splits.class_names) if splits is not None else ()
    self.class_names = names or tuple(str(k) for k in range(self.num_categories))
    if splits is not None:
      if tuple(splits.shape) != self.data_shape:
        raise ExplorerInputError(
            f"the data ({splits.source}) hold examples of shape {list(splits.shape)}, the "
            f"model reads {list(self.data_shape)}: pass the data it was trained on "
            "(--data, --data_dir)")
      test = splits.test
      chosen = np.sort(np.random.default_rng(seed).permutation(len(test.labels))[:map_points])
      self.map_images, self.map_labels = test.images[chosen], test.labels[chosen]
      self.codes = exported_lib.encode(exported, self.map_images)
    else:
      self.map_images = self.map_labels = self.codes = None
    self.prior_codes = self._prior_draws(1000, seed)
    self._map = None

  def _prior_draws(self, n: int, seed: int) -> np.ndarray:
    """[n, d] codes from the export's `sample` (the sliders' range)."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    out = self.exported.decoder.signatures["sample"](
        num_samples=tf.constant(n, tf.int32), seed=tf.constant(int(seed), tf.int64))
    return out["z"].numpy()

  def slider_range(self, i: int) -> Tuple[float, float]:
    """Where dimension i of the prior's draws (and the test codes) lies, with a margin."""
    values = self.prior_codes[:, i]
    if self.codes is not None:
      values = np.concatenate([values, self.codes["z"][:, i]])
    low, high = np.percentile(values, [0.5, 99.5])
    margin = 0.25 * (high - low) + 1e-3
    return float(low - margin), float(high + margin)

  # --- what the variant offers --------------------------------------------------------

  @property
  def takes_label(self) -> bool:
    """`decode` reads a class / cluster id beside z."""
    return self.spec.decoder_takes_label

  @property
  def has_categories(self) -> bool:
    return self.spec.has_categories

  @property
  def learns_clusters(self) -> bool:
    return self.spec.learns_clusters

  @property
  def shows_style_in_every_class(self) -> bool:
    """Supervised and semi-supervised decoders: one style, every class (paper Fig. 7)."""
    return self.takes_label and not self.spec.learns_clusters

  def category_names(self) -> List[str]:
    """What a label id means: the data's class names, or cluster numbers."""
    if self.learns_clusters or self.num_categories != len(self.class_names):
      return [f"cluster {k}" for k in range(self.num_categories)]
    return list(self.class_names)

  def describe(self) -> str:
    info = self.exported.info
    kind = ("images " + "x".join(map(str, self.data_shape)) if self.is_image
            else f"vectors of {self.data_shape[0]} values")
    return (f"variant {info.get('variant')} · preset {info.get('preset', '?')} · "
            f"{self.latent_dim}-D code · {kind} · step {info.get('training_step', '?')} · "
            f"data: {self.splits.source}")

  # --- images for display ---------------------------------------------------------------

  def display(self, examples: np.ndarray, size: int = DISPLAY_SIZE) -> Optional[np.ndarray]:
    """One example as uint8 RGB, upscaled to about `size` pixels; None for vectors."""
    if not self.is_image:
      return None
    x = np.asarray(data.to_unit_float(np.asarray(examples)), np.float32)
    x = np.clip(x.reshape(self.data_shape), 0.0, 1.0)
    if x.shape[-1] == 1:
      x = np.repeat(x, 3, axis=-1)
    scale = max(1, size // max(x.shape[:2]))
    x = np.kron(x, np.ones((scale, scale, 1), np.float32))
    return (x * 255).round().astype(np.uint8)

  def grid(self, examples: np.ndarray, cols: int) -> Optional[np.ndarray]:
    """Examples [N, *shape] tiled `cols` per row, as uint8 RGB; None for vectors."""
    if not self.is_image:
      return None
    tiles = [self.display(x, GRID_TILE_SIZE) for x in examples]
    rows = -(-len(tiles) // cols)
    h, w = tiles[0].shape[:2]
    out = np.full((rows * (h + 2), cols * (w + 2), 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
      r, c = divmod(i, cols)
      out[r * (h + 2) + 1:r * (h + 2) + 1 + h, c * (w + 2) + 1:c * (w + 2) + 1 + w] = tile
    return out

  # --- decoding -------------------------------------------------------------------------

  def _labels_for(self, z: np.ndarray, label: Optional[int]) -> Optional[np.ndarray]:
    """The label ids `decode` reads: `label`, or each code's nearest map point's
    category (the true class for supervised models, argmax q(y|x) otherwise)."""
    if not self.takes_label:
      return None
    if label is not None:
      if not 0 <= int(label) < self.num_categories:
        raise ExplorerInputError(f"class {label} is not one of 0..{self.num_categories - 1}")
      return np.full(len(z), int(label), np.int32)
    if self.codes is None:
      return np.zeros(len(z), np.int32)
    known = self._point_categories()
    nearest = np.argmin(((z[:, None, :] - self.codes["z"][None]) ** 2).sum(-1), axis=1)
    return known[nearest].astype(np.int32)

  def _point_categories(self) -> np.ndarray:
    if self.spec.decoder_reads_true_label:
      return np.maximum(self.map_labels, 0)
    if "label_probs" in self.codes:
      return np.argmax(self.codes["label_probs"], axis=1)
    return np.zeros(len(self.map_labels), np.int64)

  def decode(self, z: np.ndarray, label: Optional[int] = None) -> np.ndarray:
    """Examples decoded from codes z [N, d] (as `encode` gives them: for cluster-head
    models the representation, whose category's head is taken off first)."""
    z = np.asarray(z, np.float32).reshape(-1, self.latent_dim)
    if not np.all(np.isfinite(z)):
      raise ExplorerInputError("the code holds NaN or infinite values")
    labels = self._labels_for(z, label)
    if self.spec.has_cluster_heads:
      z = z - self.exported.encoder.cluster_heads.numpy()[labels]
    return exported_lib.decode(self.exported, z, labels)

  # --- the map ----------------------------------------------------------------------------

  def _require_data(self) -> None:
    if self.codes is None:
      raise ExplorerInputError(f"no map: {self.data_problem or 'no data were loaded'}")

  def map_view(self) -> MapView:
    self._require_data()
    if self._map is None:
      self._map = self._draw_map()
    return self._map[1]

  def map_image(self) -> np.ndarray:
    self._require_data()
    if self._map is None:
      self._map = self._draw_map()
    return self._map[0]

  def _draw_map(self):
    mean, axes = _principal_axes(self.codes["z"])
    points = (self.codes["z"] - mean) @ axes.T
    labels = self.map_labels if self.map_labels.min() >= 0 else None
    projected = self.latent_dim > 2
    title = (f"test codes ({len(points)}): principal components 1-2 of "
             f"{self.latent_dim}" if projected else f"test codes ({len(points)})")
    figure = figures.draw_scatter(
        points, labels, title=title,
        class_names=self.class_names if labels is not None else None,
        axis_names=("PC 1", "PC 2") if projected else ("z[0]", "z[1]"))
    image, limits, box = figures.render_with_axes(figure)
    return image, MapView(mean, axes, limits, box)

  def decode_at_pixel(self, x: float, y: float, label: Optional[int] = None):
    """(image, the point) for a click at pixel (x, y) of the map image."""
    view = self.map_view()
    point = view.pixel_to_point(x, y)
    if point is None:
      raise ExplorerInputError("click inside the plot's axes to decode a point")
    decoded = self.decode(view.to_code(point)[None], label)[0]
    return self.display(decoded), point

  def manifold(self, size: int = 10, label: Optional[int] = None,
               limits: Optional[Sequence[float]] = None) -> Optional[np.ndarray]:
    """The decoded `size` x `size` grid over the map's visible region (or `limits`)."""
    view = self.map_view()
    x_min, x_max, y_min, y_max = limits or view.limits
    us, vs = np.linspace(x_min, x_max, size), np.linspace(y_max, y_min, size)
    points = np.array([(u, v) for v in vs for u in us])
    return self.grid(self.decode(view.to_code(points), label), cols=size)

  # --- sample and steer -----------------------------------------------------------------

  def steer_dimensions(self) -> int:
    return min(self.latent_dim, STEER_DIMENSIONS)

  def prior_code(self, seed: int, label: Optional[int] = None) -> np.ndarray:
    """One code drawn from the export's prior (its `sample` signature), [d]."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    signatures = self.exported.decoder.signatures
    if label is not None and "sample_class" in signatures:
      out = signatures["sample_class"](labels=tf.constant([int(label)], tf.int32),
                                       seed=tf.constant(int(seed), tf.int64))
    else:
      out = signatures["sample"](num_samples=tf.constant(1, tf.int32),
                                 seed=tf.constant(int(seed), tf.int64))
    return out["z"].numpy()[0]

  def steer(self, values: Sequence[float], seed: int,
            label: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """(image, code): the first dimensions set by `values`, the rest from the prior."""
    z = self.prior_code(seed, label)
    values = np.asarray(values, np.float32)[:self.latent_dim]
    z[:len(values)] = values
    return self.display(self.decode(z[None], label)[0]), z

  def style_in_every_class(self, z: np.ndarray) -> Optional[np.ndarray]:
    """One style z decoded in every class (a row of the paper's Fig. 7)."""
    k = self.num_categories
    z = np.repeat(np.asarray(z, np.float32).reshape(1, -1), k, axis=0)
    images = exported_lib.decode(self.exported, z, np.arange(k, dtype=np.int32))
    return self.grid(images, cols=min(k, 10))

  # --- bring your own image -------------------------------------------------------------

  def prepare(self, image: np.ndarray) -> np.ndarray:
    """A user's image as one example of the data's shape, uint8; refuses what does not
    fit. Drawings (RGBA, ink in colour or in alpha on a transparent page) become white
    ink on black, as the digits are; the size must match the data or be a multiple of
    it (a canvas sized to the data), which is reduced by averaging."""
    if not self.is_image:
      raise ExplorerInputError(
          f"this model reads vectors of {self.data_shape[0]} values, not images: upload "
          "is for image models")
    x = np.asarray(image)
    if x.ndim == 2:
      x = x[..., None]
    if x.ndim != 3 or x.shape[-1] not in (1, 3, 4) or min(x.shape[:2]) == 0:
      raise ExplorerInputError(f"expected an image, got an array of shape {x.shape}")
    if x.dtype != np.uint8:
      x = np.round(255 * np.clip(x.astype(np.float32), 0, 1)).astype(np.uint8)
    if x.shape[-1] == 4:   # as image folders are read: ink in alpha, or over black
      x = common.composite_alpha(x)
    x = data.to_unit_float(x)
    h, w, c = self.data_shape
    if x.shape[0] % h or x.shape[1] % w or x.shape[0] // h != x.shape[1] // w:
      raise ExplorerInputError(
          f"this image is {x.shape[1]}x{x.shape[0]} pixels; the model reads {w}x{h} "
          f"images: upload a {w}x{h} image (or draw on the canvas)")
    factor = x.shape[0] // h
    x = x.reshape(h, factor, w, factor, x.shape[-1]).mean(axis=(1, 3))
    if c == 1 and x.shape[-1] == 3:
      x = x.mean(axis=-1, keepdims=True)
    elif c == 3 and x.shape[-1] == 1:
      x = np.repeat(x, 3, axis=-1)
    if c == 1 and float(x.mean()) > 0.5:
      x = 1.0 - x      # dark ink on a bright page (paper, a drawing tool): the data are light on dark
    return (x * 255).round().astype(np.uint8)

  @property
  def needs_the_class(self) -> bool:
    """The decoder reads the true class and no head predicts it (supervised): a user's
    image is rebuilt as the class the user says it is."""
    return self.spec.decoder_reads_true_label

  def analyse(self, image: np.ndarray, label: Optional[int] = None) -> Dict[str, object]:
    """Everything the model says about one example; `label` is its class where the
    decoder needs it (`needs_the_class`; default 0)."""
    example = self.prepare(image)[None]
    codes = exported_lib.encode(self.exported, example)
    label = 0 if label is None else int(label)
    if not 0 <= label < self.num_categories:
      raise ExplorerInputError(f"class {label} is not one of 0..{self.num_categories - 1}")
    recon, _ = exported_lib.reconstruct(self.exported, example,
                                        np.array([label], np.int32), codes)
    result = {"input": self.display(example[0]), "z": codes["z"][0],
              "reconstruction": self.display(recon[0])}
    if "label_probs" in codes:
      names = self.category_names()
      result["probabilities"] = {names[k]: float(p) for k, p in
                                 enumerate(codes["label_probs"][0])}
    if self.shows_style_in_every_class:
      style = codes["z"][0]
      if self.spec.has_cluster_heads:
        k = int(np.argmax(codes["label_probs"][0]))
        style = style - self.exported.encoder.cluster_heads.numpy()[k]
      result["style_in_every_class"] = self.style_in_every_class(style)
    if self.learns_clusters:
      result.update(self.cluster_of(codes))
    return result

  def cluster_of(self, codes) -> Dict[str, object]:
    """The example's cluster, the cluster's head (decoded at z = 0) and members of it
    among the map's test images."""
    k = int(np.argmax(codes["label_probs"][0]))
    head = exported_lib.decode(self.exported, np.zeros((1, self.latent_dim), np.float32),
                               np.array([k], np.int32))[0]
    if self.codes is None:
      return {"cluster": k, "cluster_size": 0, "cluster_head": self.display(head),
              "cluster_members": None}
    members = np.flatnonzero(np.argmax(self.codes["label_probs"], axis=1) == k)
    shown = self.map_images[members[:MEMBERS_SHOWN]]
    return {"cluster": k, "cluster_size": int(len(members)),
            "cluster_head": self.display(head),
            "cluster_members": self.grid(shown, cols=8) if len(shown) else None}
