"""The names a config may choose from, without TensorFlow.

The modules that implement each choice import TensorFlow; their names live here so that
`aae_tf.validate` judges a bad flag before TensorFlow is imported (a refusal in a second,
not after TensorFlow's start-up). Each implementing module re-exports its names, and
tests/test_choices.py checks that every name here is implemented there.
"""

ARCHITECTURES = ("mlp", "conv")        # mlp: the paper's; conv: convolutions next to the data
POSTERIORS = ("deterministic", "gaussian", "universal")
PRIORS = ("gaussian", "gaussian_mixture", "swiss_roll")
STRATEGIES = ("default", "mirrored", "multi_worker")
RECONSTRUCTION_LOSSES = ("mse", "bce")
RECONSTRUCTION_SCALES = ("per_image", "per_pixel")
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
OPTIMIZERS = ("adam", "sgd", "rmsprop")


def parse_weight_init(spec: str):
  """("glorot_uniform", None) or ("normal", std > 0); ValueError naming the spec."""
  if spec == "glorot_uniform":
    return spec, None
  if spec.startswith("normal:"):
    try:
      std = float(spec.split(":", 1)[1])
    except ValueError:
      std = float("nan")
    if std > 0 and std != float("inf"):
      return "normal", std
  raise ValueError(f"unknown weight_init {spec!r}; use glorot_uniform or normal:<std> "
                   "with a positive std (the paper: normal:0.01)")
