"""Writes scikit-learn's bundled 8x8 digits as an npz for `--dataset=npz:PATH`.

    pip install scikit-learn
    python scripts/sklearn_digits_npz.py digits.npz

The 1,797 images (values 0..16) become uint8 0..255 [N, 8, 8]. A fixed, class-stratified
fifth of them is the test set (x_test, y_test); the run carves its validation split
from the rest.
"""

import sys

import numpy as np

TEST_FRACTION = 0.2
SEED = 0


def digits_arrays():
  from sklearn.datasets import load_digits  # pylint: disable=import-outside-toplevel
  bunch = load_digits()
  images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
  labels = bunch.target.astype(np.int64)
  rng = np.random.default_rng(SEED)
  test = np.zeros(len(labels), bool)
  for k in np.unique(labels):
    members = np.flatnonzero(labels == k)
    test[rng.choice(members, int(round(len(members) * TEST_FRACTION)), replace=False)] = True
  return dict(x_train=images[~test], y_train=labels[~test], x_test=images[test],
              y_test=labels[test])


def main(argv):
  if len(argv) != 2:
    print(__doc__, file=sys.stderr)
    return 2
  try:
    arrays = digits_arrays()
  except ImportError:
    print("error: scikit-learn is not installed; pip install scikit-learn", file=sys.stderr)
    return 2
  np.savez(argv[1], **arrays)
  print(f"wrote {argv[1]}: {len(arrays['y_train'])} train, {len(arrays['y_test'])} test "
        "8x8 digits")
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
