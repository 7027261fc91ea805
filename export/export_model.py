"""Export a trained run's encoder and decoder as SavedModels (TF Serving layout).

  python export/export_model.py --workdir=runs/mnist --export_dir=exports/mnist [--version=N]

Writes E/encoder/<N>/ and E/decoder/<N>/ (N defaults to the training step), verifies
them by reloading, and never overwrites an existing version. Same as `aae-export`.
"""

from aae_tf import console

if __name__ == "__main__":
  console.export()
