"""Data sources behind one interface: each module's `load(...)` returns a `RawData`.

  mnist   --dataset=mnist | fashion_mnist (IDX files, TFDS, offline fallbacks)
  tfds    --dataset=tfds:NAME[/CONFIG]    (any TFDS dataset with an image feature)
  folder  --dataset=folder:PATH           (PNG/JPEG files, a subfolder per class or flat)
  npz     --dataset=npz:PATH              (NumPy arrays x_train[, y_train, x_test, y_test])
"""
