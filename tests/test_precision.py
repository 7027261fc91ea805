"""`--precision=auto`, and float32 exports whatever the training precision."""

import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from aae_tf import configs
from aae_tf import export
from aae_tf import models
from aae_tf import precision
from aae_tf import train
from aae_tf import variants
from tests import helpers


@pytest.mark.parametrize("flags,expected", [
    ("fpu sse2 avx512f avx512_bf16 amx_bf16 amx_tile", ("amx_bf16", "avx512_bf16")),
    ("fpu sse2 avx512f avx512_bf16", ("avx512_bf16",)),
    ("fpu sse2 avx2", ()),
])
def test_cpu_flags_are_read_from_cpuinfo(tmp_path, flags, expected):
  cpuinfo = tmp_path / "cpuinfo"
  cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
  assert precision.cpu_flags(str(cpuinfo)) == expected


def test_auto_follows_the_cpu(monkeypatch):
  monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
  monkeypatch.setattr(precision, "cpu_flags", lambda: ("amx_bf16",))
  chosen, why = precision.resolve("auto")
  assert chosen == "mixed_bfloat16" and "amx_bf16" in why
  monkeypatch.setattr(precision, "cpu_flags", lambda: ())
  chosen, why = precision.resolve("auto")
  assert chosen == "float32" and "neither" in why
  assert precision.resolve("float32") == ("float32", "--precision=float32")


def test_auto_is_the_default():
  assert configs.get("paper_table1").runtime.precision == "auto"


def _op_dtypes(saved_model_dir):
  """Every dtype named by any node (graph and functions) of a SavedModel."""
  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
    proto.ParseFromString(f.read())
  dtypes = set()
  for meta_graph in proto.meta_graphs:
    graph = meta_graph.graph_def
    nodes = list(graph.node) + [n for fn in graph.library.function for n in fn.node_def]
    for node in nodes:
      for value in node.attr.values():
        if value.type:
          dtypes.add(tf.dtypes.as_dtype(value.type).name)
        dtypes.update(tf.dtypes.as_dtype(t).name for t in value.list.type)
  return dtypes


@pytest.fixture(scope="module")
def bf16_run(tmp_path_factory):
  root = tmp_path_factory.mktemp("bf16")
  data_dir = helpers.write_synthetic_mnist(root / "data")
  config = configs.get("smoke").replace(data_dir=data_dir, validation_size=10,
                                        precision="mixed_bfloat16", variant="supervised")
  workdir = str(root / "work")
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("AAE_TF_CACHE", str(root / "cache"))
    train.run(config, workdir, log=lambda _: None)
    paths = export.export_from_workdir(workdir, str(root / "export"))
  return config, workdir, paths


def test_bf16_training_really_computes_in_bf16(bf16_run):
  config, _, _ = bf16_run
  networks = models.build_networks(config, variants.spec_for(config))
  assert networks.decoder.mlp.layers[0].compute_dtype == tf.bfloat16


@pytest.mark.parametrize("name", ["encoder", "decoder"])
def test_export_of_a_bf16_run_has_no_bf16_computation(bf16_run, name):
  _, _, paths = bf16_run
  dtypes = _op_dtypes(paths[name])
  assert "float32" in dtypes            # the check sees the graph's dtypes at all
  assert "bfloat16" not in dtypes


def test_export_of_a_bf16_run_matches_a_float32_rebuild(bf16_run):
  config, workdir, paths = bf16_run
  fp32 = models.build_networks(config.replace(precision="float32"),
                               variants.spec_for(config))
  tf.train.Checkpoint(encoder=fp32.encoder, decoder=fp32.decoder).restore(
      tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))).expect_partial()
  rng = np.random.default_rng(0)
  z = tf.constant(rng.normal(size=(4, config.model.latent_dim)), tf.float32)
  labels = tf.constant([0, 1, 2, 3], tf.int32)
  decoder = tf.saved_model.load(paths["decoder"])
  got = decoder.signatures["decode"](z=z, labels=labels)["images"].numpy()
  want = tf.sigmoid(fp32.decoder(z, tf.one_hot(labels, 10))).numpy().reshape(got.shape)
  np.testing.assert_allclose(got, want, atol=1e-6)
  bf16 = models.build_networks(config, variants.spec_for(config))
  tf.train.Checkpoint(decoder=bf16.decoder).restore(
      tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))).expect_partial()
  in_bf16 = tf.sigmoid(bf16.decoder(z, tf.one_hot(labels, 10))).numpy().reshape(got.shape)
  assert not np.allclose(got, in_bf16, atol=1e-6)  # the comparison can tell them apart
