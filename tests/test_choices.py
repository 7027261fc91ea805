"""aae_tf.choices: the names validation checks without TensorFlow are the ones the
implementing modules build, and a bad flag is judged with no TensorFlow at all."""

import os
import subprocess
import sys

import pytest

from aae_tf import choices
from aae_tf import configs
from aae_tf import distribute
from aae_tf import losses
from aae_tf import models
from aae_tf import precision
from aae_tf import priors
from aae_tf import trainer
from aae_tf import variants
from tests import helpers


def test_every_name_is_implemented_where_it_is_used():
  assert tuple(losses.RECONSTRUCTION_LOSSES) == choices.RECONSTRUCTION_LOSSES
  assert losses.RECONSTRUCTION_SCALES == choices.RECONSTRUCTION_SCALES
  assert models.ARCHITECTURES == choices.ARCHITECTURES
  assert models.POSTERIORS == choices.POSTERIORS
  assert distribute.STRATEGIES == choices.STRATEGIES
  assert precision.PRECISIONS == choices.PRECISIONS
  smoke = configs.get("smoke")
  for name in choices.PRIORS:   # each builds
    priors.make_prior(smoke.replace(prior=name, latent_dim=2))
  for name in choices.OPTIMIZERS:
    trainer.make_optimizer(smoke.replace(optimizer=name), 0.01, 10)
  for name in choices.POSTERIORS:
    config = smoke.replace(posterior=name)
    models.build_networks(config, variants.spec_for(config))


@pytest.mark.parametrize("flag, named", [("--latent_dim=-3", "--latent_dim"),
                                         ("--prior=cauchy", "--prior=cauchy"),
                                         ("--weight_init=normal:-1", "--weight_init")])
def test_a_bad_flag_is_refused_without_importing_tensorflow(tmp_path, flag, named):
  # A `tensorflow` that cannot be imported: the refusal must not need it.
  fake = tmp_path / "no_tf" / "tensorflow"
  fake.mkdir(parents=True)
  (fake / "__init__.py").write_text("raise ImportError('TensorFlow was imported')\n")
  env = helpers.hermetic_env(tmp_path / "cache")
  env["PYTHONPATH"] = os.pathsep.join([str(fake.parent), env.get("PYTHONPATH", "")])
  proc = subprocess.run([sys.executable, "-c", "from aae_tf import console; console.train()",
                         "--preset=smoke", flag, f"--workdir={tmp_path / 'w'}"],
                        capture_output=True, text=True, env=env, timeout=120)
  assert proc.returncode == 2, helpers.describe(proc)
  assert proc.stderr.startswith("error: ") and named in proc.stderr, helpers.describe(proc)
  assert "TensorFlow was imported" not in proc.stderr and not (tmp_path / "w").exists()
