"""A property test over the flag space: whatever the values, a run either trains or
stops with one line (`main.user_errors()`: what `aae-train` prints as `error: ...`),
never with a traceback.

Values are drawn per field within the types the flags parse to, including NaN, inf,
zero, negatives and unknown choices; sizes stay below what would only exhaust memory
(a 10^9-unit layer is a resource limit, not a flag check). Each example runs the real
`train.run` for 2 steps on synthetic MNIST in-process.
"""

import math
import tempfile

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from aae_tf import validate
from aae_tf import config as config_lib
from aae_tf import configs
from aae_tf import main
from aae_tf import train
from aae_tf import variants
from tests import helpers

FLOATS = st.one_of(st.sampled_from([0.0, -1.0, 1e-3, 0.3, 1.0, 2.5, 100.0, math.nan,
                                     math.inf, -math.inf]),
                   st.floats(-10, 10, allow_nan=False))
SMALL_INTS = st.integers(-2, 12)
SIZES = st.lists(st.integers(-1, 24), max_size=3).map(tuple)

FIELDS = {
    "variant": st.sampled_from(sorted(variants.VARIANTS) + ["unknown"]),
    "prior": st.sampled_from(["gaussian", "gaussian_mixture", "swiss_roll", "unknown"]),
    "posterior": st.sampled_from(["deterministic", "gaussian", "universal", "unknown"]),
    "architecture": st.sampled_from(["mlp", "conv", "unknown"]),
    "optimizer": st.sampled_from(["adam", "sgd", "rmsprop", "unknown"]),
    "reconstruction_loss": st.sampled_from(["mse", "bce", "unknown"]),
    "weight_init": st.sampled_from(["glorot_uniform", "normal:0.01", "normal:x", "he"]),
    "dataset": st.sampled_from(["mnist", "tfds:", "csv:x", "npz:/nonexistent.npz"]),
    "latent_dim": SMALL_INTS, "num_categories": SMALL_INTS, "batch_size": st.integers(-1, 200),
    "num_labels": st.sampled_from([-2, -1, 0, 7, 10, 20, 40, 10_000]),
    "validation_size": st.sampled_from([-2, -1, 0, 5, 10, 119, 120, 10_000]),
    "epochs": FLOATS, "prior_std": FLOATS, "reconstruction_lr": FLOATS,
    "discriminator_lr": FLOATS, "encoder_dropout": FLOATS, "input_noise_std": FLOATS,
    "figures_every_epochs": FLOATS, "validate_every_epochs": FLOATS,
    "mixture_shift": FLOATS, "lr_decay_factor": FLOATS,
    "encoder_hidden": SIZES, "conv_channels": SIZES, "image_size": SIZES,
    "adversary_sees_label": st.booleans(), "posterior_noise_dim": SMALL_INTS,
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return helpers.write_synthetic_mnist(tmp_path_factory.mktemp("flag_space") / "data")


# Up to three changed flags per run: enough to combine values that clash (a 2-D prior and
# a 5-D code), few enough that many examples get past the checks and really train.
CHANGES = st.lists(st.sampled_from(sorted(FIELDS)), max_size=3, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({key: FIELDS[key] for key in keys}))


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(values=CHANGES)
@example(values={"weight_init": "he"})                 # once accepted unchecked
@example(values={"weight_init": "normal:x"})
@example(values={"prior": "swiss_roll", "latent_dim": 5})
@example(values={"architecture": "conv", "conv_channels": (4,)})
def test_any_flag_values_train_or_stop_with_one_line(data_dir, values):
  config = configs.get("smoke").replace(data_dir=data_dir, train_steps=2, steps_per_loop=1,
                                        summary_every_steps=1, checkpoint_every_steps=1)
  config = config.replace(**values)
  with tempfile.TemporaryDirectory() as workdir:
    try:
      validate.validate(config)
      train.run(config, workdir, log=lambda _: None)
      event("trained")
    except main.user_errors() as e:
      event(f"stopped: {type(e).__name__}")
      message = str(e)
      assert message and "\n" not in message, (values, message)
