"""Writes MNIST digits in colour as PNG files, one subfolder per class: RGB own data for
`--dataset=folder:PATH` (and a model the explorer shows in colour).

    python scripts/coloured_digits_folder.py OUT_DIR [--per_class=600]

Each digit's strokes take one random colour and its background another, darker one,
drawn with a fixed seed from MNIST's training images (fetched as training fetches them).
"""

import argparse
import os

import numpy as np
from PIL import Image

from aae_tf import configs
from aae_tf import data

SEED = 0


def coloured(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """uint8 [N, 28, 28, 1] grey digits -> uint8 [N, 28, 28, 3]: ink colour over a
  darker background colour, mixed by the grey value."""
  ink = rng.uniform(0.5, 1.0, size=(len(images), 1, 1, 3))
  page = rng.uniform(0.0, 0.35, size=(len(images), 1, 1, 3))
  grey = images.astype(np.float32) / 255.0
  return np.round(255 * (grey * ink + (1 - grey) * page)).astype(np.uint8)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("out_dir")
  parser.add_argument("--per_class", type=int, default=600)
  args = parser.parse_args(argv)
  splits = data.load_for_config(configs.get("paper_table1"), logger=print)
  rng = np.random.default_rng(SEED)
  images, labels = splits.train.images, splits.train.labels
  for k in range(10):
    chosen = rng.permutation(np.flatnonzero(labels == k))[:args.per_class]
    folder = os.path.join(args.out_dir, str(k))
    os.makedirs(folder, exist_ok=True)
    for i, image in zip(chosen, coloured(images[chosen], rng)):
      Image.fromarray(image).save(os.path.join(folder, f"{i:05d}.png"))
  print(f"wrote {10 * args.per_class} images under {args.out_dir}")


if __name__ == "__main__":
  main()
