"""The training step: phase isolation, replica equivalence, resume, pipeline order."""

import numpy as np
import pytest
import tensorflow as tf

from aae_tf import validate
from aae_tf import configs
from aae_tf import distribute
from aae_tf import input_pipeline
from aae_tf import trainer as trainer_lib

NUM_EXAMPLES = 80


def tiny_config(**changes):
  return configs.get("smoke").replace(batch_size=8, latent_dim=3, **changes)


def synthetic(n=NUM_EXAMPLES, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


def train(config, strategy, steps, start_step=0, trainer=None):
  images, labels = synthetic()
  trainer = trainer or trainer_lib.Trainer(config, strategy, NUM_EXAMPLES // config.training.batch_size)
  dataset = input_pipeline.distributed_train_dataset(
      strategy, images, labels, global_batch_size=config.training.batch_size, seed=config.training.seed,
      start_step=start_step)
  metrics = trainer.train_loop(iter(dataset), tf.constant(steps))
  return trainer, {k: float(v) for k, v in metrics.items()}


def all_variables(trainer):
  net = trainer.networks
  return (list(net.encoder.variables) + list(net.decoder.variables)
          + [v for d in net.discriminators.values() for v in d.variables])


def weights(trainer):
  """Position-keyed values of every network variable (names repeat across layers)."""
  return {f"{i}:{v.name}": v.numpy() for i, v in enumerate(all_variables(trainer))}


def snapshot(variables):
  return [v.numpy().copy() for v in variables]


@pytest.mark.parametrize("phase, lr_field", [
    ("reconstruction", "reconstruction_lr"),
    ("discriminator_z", "discriminator_lr"),
    ("generator", "generator_lr"),
])
def test_each_phase_changes_only_its_own_variables(phase, lr_field):
  lrs = dict(reconstruction_lr=0.0, discriminator_lr=0.0, generator_lr=0.0)
  lrs[lr_field] = 1e-2
  config = tiny_config(**lrs)
  strategy = tf.distribute.get_strategy()
  trainer = trainer_lib.Trainer(config, strategy, 10)
  own = {id(v) for v in trainer.phase_variables[phase]}
  everything = all_variables(trainer)
  before = snapshot(everything)
  train(config, strategy, 2, trainer=trainer)
  for var, old in zip(everything, before):
    changed = not np.array_equal(var.numpy(), old)
    if id(var) in own:
      assert changed or not var.numpy().any(), f"{phase} did not update {var.name}"
    else:
      assert not changed, f"{phase} changed {var.name}, which it does not own"


def test_phase_variable_lists():
  trainer = trainer_lib.Trainer(tiny_config(), tf.distribute.get_strategy(), 10)
  net = trainer.networks
  names = lambda vs: {id(v) for v in vs}
  assert names(trainer.phase_variables["generator"]) == names(net.encoder.trainable_variables)
  assert names(trainer.phase_variables["discriminator_z"]) == names(
      net.discriminators["z"].trainable_variables)
  assert names(trainer.phase_variables["reconstruction"]) == names(
      net.encoder.trainable_variables) | names(net.decoder.trainable_variables)


@pytest.mark.parametrize("adversarial_decay, adversarial_after", [(-1.0, 0.1), (1.0, 1.0)])
def test_adversarial_lr_decay_factor_divides_only_the_adversarial_pair(
    adversarial_decay, adversarial_after):
  config = tiny_config(reconstruction_lr=0.5, discriminator_lr=0.5, generator_lr=0.5,
                       lr_decay_epochs=(2.0,), lr_decay_factor=0.1,
                       adversarial_lr_decay_factor=adversarial_decay)
  trainer = trainer_lib.Trainer(config, tf.distribute.get_strategy(), 10)
  for phase, optimizer in trainer.optimizers.items():
    expected = adversarial_after if phase != "reconstruction" else 0.1
    optimizer.iterations.assign(20)    # the last step of epoch 2: still the full rate
    assert float(optimizer.learning_rate) == pytest.approx(0.5), phase
    optimizer.iterations.assign(21)
    assert float(optimizer.learning_rate) == pytest.approx(0.5 * expected), phase


@pytest.mark.parametrize("value, message", [
    (-0.5, "--adversarial_lr_decay_factor must be >= 0, or -1"),
    (float("nan"), "--adversarial_lr_decay_factor=nan is not a finite number"),
])
def test_adversarial_lr_decay_factor_is_checked(value, message):
  from aae_tf.errors import ConfigError
  with pytest.raises(ConfigError, match=message):
    validate.validate(tiny_config(adversarial_lr_decay_factor=value))


def test_losses_are_finite_and_step_counts_batches():
  trainer, metrics = train(tiny_config(), tf.distribute.get_strategy(), 5)
  assert int(trainer.global_step.numpy()) == 5
  assert set(metrics) == set(trainer.metric_names)
  assert all(np.isfinite(v) for v in metrics.values())
  assert 0.0 <= metrics["discriminator_z_accuracy_real"] <= 1.0


def test_two_replicas_match_one_at_the_same_global_batch():
  config = tiny_config()
  one, metrics_one = train(config, tf.distribute.get_strategy(), 6)
  two_strategy = distribute.make_strategy("mirrored", 2)
  assert two_strategy.num_replicas_in_sync == 2
  two, metrics_two = train(config, two_strategy, 6)
  w1, w2 = weights(one), weights(two)
  assert w1.keys() == w2.keys()
  for name in w1:
    np.testing.assert_allclose(w1[name], w2[name], atol=2e-6, err_msg=name)
  for name in metrics_one:
    assert metrics_one[name] == pytest.approx(metrics_two[name], abs=1e-5), name


def test_loss_scaling_is_per_global_batch():
  """Two replicas with per-replica (not global) averaging would double the gradients."""
  config = tiny_config(optimizer="sgd", momentum=0.0, reconstruction_lr=0.5,
                       discriminator_lr=0.5, generator_lr=0.5)
  one, _ = train(config, tf.distribute.get_strategy(), 3)
  two, _ = train(config, distribute.make_strategy("mirrored", 2), 3)
  a = one.networks.decoder.mlp.layers[-1].bias.numpy()
  b = two.networks.decoder.mlp.layers[-1].bias.numpy()
  moved = np.abs(a).max()  # the bias starts at 0, so this is how far SGD moved it
  assert moved > 1e-5, "vacuous comparison: SGD did not move the bias"
  # Averaging per replica instead of per global batch would double the step.
  np.testing.assert_allclose(a, b, atol=0.01 * moved)  # the comparison is not vacuous: SGD did move it


def test_resume_from_checkpoint_is_bit_identical(tmp_path):
  config = tiny_config(encoder_dropout=0.3, discriminator_dropout=0.2)
  strategy = tf.distribute.get_strategy()
  straight, _ = train(config, strategy, 6)

  first, _ = train(config, strategy, 3)
  tf.train.Checkpoint(**first.checkpoint_items()).save(str(tmp_path / "ckpt"))
  resumed = trainer_lib.Trainer(config, strategy, NUM_EXAMPLES // config.training.batch_size)
  tf.train.Checkpoint(**resumed.checkpoint_items()).restore(
      tf.train.latest_checkpoint(str(tmp_path))).assert_existing_objects_matched()
  assert int(resumed.global_step.numpy()) == 3
  train(config, strategy, 3, start_step=3, trainer=resumed)
  assert int(resumed.global_step.numpy()) == 6
  for name, value in weights(straight).items():
    np.testing.assert_array_equal(value, weights(resumed)[name], err_msg=name)


def test_dropout_is_keyed_by_step_not_by_call_count():
  config = tiny_config(encoder_dropout=0.5)
  a, _ = train(config, tf.distribute.get_strategy(), 2)
  b, _ = train(config.replace(seed=1), tf.distribute.get_strategy(), 2)
  assert not np.array_equal(a.networks.decoder.mlp.layers[0].kernel.numpy(),
                            b.networks.decoder.mlp.layers[0].kernel.numpy())


def test_pipeline_resume_skips_exactly_to_the_step():
  images, labels = synthetic()
  fresh = input_pipeline.train_dataset(images, labels, global_batch_size=8, seed=3)
  resumed = input_pipeline.train_dataset(images, labels, global_batch_size=8, seed=3,
                                         start_step=13)
  later = list(fresh.take(16).as_numpy_iterator())[13:]
  for want, got in zip(later, resumed.take(3).as_numpy_iterator()):
    np.testing.assert_array_equal(want["label"], got["label"])
    np.testing.assert_array_equal(want["image"], got["image"])


def test_pipeline_replica_rows_tile_the_global_batch():
  images, labels = synthetic()
  whole = next(input_pipeline.train_dataset(
      images, labels, global_batch_size=8, seed=0).as_numpy_iterator())
  parts = list(input_pipeline.train_dataset(
      images, labels, global_batch_size=8, seed=0, num_replicas=2,
      replicas_here=2).take(2).as_numpy_iterator())
  np.testing.assert_array_equal(whole["label"],
                                np.concatenate([p["label"] for p in parts]))
  second_worker = next(input_pipeline.train_dataset(
      images, labels, global_batch_size=8, seed=0, num_replicas=2, first_replica=1,
      replicas_here=1).as_numpy_iterator())
  np.testing.assert_array_equal(second_worker["label"], parts[1]["label"])


def test_each_epoch_visits_every_example_once_in_a_new_order():
  images, labels = synthetic()
  ids = np.arange(NUM_EXAMPLES)
  first = input_pipeline.epoch_permutation(NUM_EXAMPLES, 0, 0).numpy()
  second = input_pipeline.epoch_permutation(NUM_EXAMPLES, 0, 1).numpy()
  np.testing.assert_array_equal(np.sort(first), ids)
  np.testing.assert_array_equal(np.sort(second), ids)
  assert not np.array_equal(first, second)


def test_style_dropout_hides_z_from_the_decoder_for_its_share_of_examples():
  config = tiny_config(variant="clustering", num_categories=4, style_dropout=0.3)
  trainer = trainer_lib.Trainer(config, tf.distribute.get_strategy(), 10)
  z = tf.ones([4000, config.model.latent_dim])
  hidden = trainer._hide_style(z, tf.constant([3, 4]))
  zeroed = np.all(hidden.numpy() == 0, axis=1)
  assert abs(zeroed.mean() - 0.3) < 0.03                    # whole rows, at the rate
  np.testing.assert_array_equal(hidden.numpy()[~zeroed], 1.0)  # the rest untouched
  off = trainer_lib.Trainer(tiny_config(variant="clustering", num_categories=4),
                            tf.distribute.get_strategy(), 10)
  assert off._hide_style(z, tf.constant([3, 4])) is z
  _, metrics = train(config, tf.distribute.get_strategy(), steps=2, trainer=trainer)
  assert np.isfinite(metrics["reconstruction_loss"])


@pytest.mark.parametrize("changes, message", [
    (dict(style_dropout=0.5), "decodes z alone"),               # the unsupervised variant
    (dict(variant="clustering", num_categories=4, style_dropout=1.0), r"in \[0, 1\)"),
])
def test_style_dropout_is_checked(changes, message):
  from aae_tf.errors import ConfigError
  with pytest.raises(ConfigError, match=message):
    validate.validate(tiny_config(**changes))


def test_input_dropout_zeroes_input_pixels_at_its_rate():
  trainer = trainer_lib.Trainer(tiny_config(input_dropout=0.25), tf.distribute.get_strategy(), 10)
  corrupted = trainer._corrupted(tf.ones([100, 784]), tf.constant([5, 6])).numpy()
  assert abs((corrupted == 0).mean() - 0.25) < 0.02
  np.testing.assert_allclose(corrupted[corrupted != 0], 1 / 0.75, rtol=1e-6)  # rescaled


def test_category_head_with_no_reconstruction_share_gets_no_reconstruction_update():
  config = tiny_config(variant="clustering", num_categories=4, head_batch_norm=("y",),
                       discriminator_lr=0.0, generator_lr=0.0, reconstruction_lr=1e-2,
                       category_reconstruction_gradient=0.0)
  strategy = tf.distribute.get_strategy()
  trainer = trainer_lib.Trainer(config, strategy, 10)
  encoder = trainer.networks.encoder
  head = list(encoder.heads["y"].trainable_variables) + list(
      encoder.head_norms["y"].trainable_variables)
  reconstruction = {id(v) for v in trainer.phase_variables["reconstruction"]}
  assert not any(id(v) in reconstruction for v in head)
  assert all(id(v) in reconstruction for v in encoder.heads["z"].trainable_variables)
  head_before, z_before = snapshot(head), snapshot(encoder.heads["z"].trainable_variables)
  train(config, strategy, 2, trainer=trainer)
  for var, old in zip(head, head_before):
    np.testing.assert_array_equal(var.numpy(), old)    # reconstruction left the head alone
  assert any(not np.array_equal(v.numpy(), old)       # while it trained z
             for v, old in zip(encoder.heads["z"].trainable_variables, z_before))
  # With any share, reconstruction trains the head.
  attached = trainer_lib.Trainer(config.replace(category_reconstruction_gradient=0.1),
                                 strategy, 10)
  assert all(id(v) in {id(w) for w in attached.phase_variables["reconstruction"]}
             for v in attached.networks.encoder.heads["y"].trainable_variables)


def test_category_reconstruction_gradient_scales_what_reaches_the_head():
  config = tiny_config(variant="clustering", num_categories=4)
  images = tf.constant(synthetic(8)[0][..., None], tf.float32) / 255.0
  seed = tf.constant([1, 2])

  def head_gradient_and_loss(share):
    trainer = trainer_lib.Trainer(config.replace(category_reconstruction_gradient=share),
                                  tf.distribute.get_strategy(), 10)
    kernel = trainer.networks.encoder.heads["y"].kernel
    with tf.GradientTape() as tape:
      loss = trainer._rebuilt_loss(images, images, None, seed, None, seed)
    return tape.gradient(loss, kernel).numpy(), float(loss)

  full, full_loss = head_gradient_and_loss(1.0)
  quarter, quarter_loss = head_gradient_and_loss(0.25)
  assert np.abs(full).max() > 0
  assert quarter_loss == pytest.approx(full_loss, rel=1e-6)     # the forward pass is the same
  np.testing.assert_allclose(quarter, 0.25 * full, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("changes, message", [
    (dict(category_reconstruction_gradient=1.5), r"in \[0, 1\]"),
    (dict(category_reconstruction_gradient=float("nan")), "not a finite number"),
    (dict(category_reconstruction_gradient=0.5, variant="supervised"), "decoder reads"),
])
def test_category_reconstruction_gradient_rejects(changes, message):
  from aae_tf.errors import ConfigError
  with pytest.raises(ConfigError, match=message):
    validate.validate(tiny_config(**changes))


def test_style_adversary_reading_the_category_sees_it_beside_prior_and_code():
  config = tiny_config(variant="clustering", num_categories=4,
                       style_adversary_reads_category=True)
  trainer = trainer_lib.Trainer(config, tf.distribute.get_strategy(), 10)
  by_head = {a.head: a for a in trainer.spec.adversaries}
  assert by_head["z"].reads_category and not by_head["y"].reads_category
  assert trainer.spec.adversary_input_dim(by_head["z"], config) == (
      config.model.latent_dim + 4)
  real = tf.zeros([3, config.model.latent_dim])
  fake = tf.ones([3, config.model.latent_dim])
  category = tf.one_hot([2, 0, 3], 4)
  real_in, fake_in = trainer._discriminator_inputs(by_head["z"], real, fake, None, category,
                                                   tf.constant([1, 2]))
  np.testing.assert_array_equal(real_in[:, -4:], category)   # the same category
  np.testing.assert_array_equal(fake_in[:, -4:], category)   # on both sides
  _, metrics = train(config, tf.distribute.get_strategy(), steps=2, trainer=trainer)
  assert np.isfinite(metrics["discriminator_z_loss"])


def test_style_adversary_reading_the_category_needs_a_category_head():
  from aae_tf.errors import ConfigError
  with pytest.raises(ConfigError, match="needs a variant with a category head"):
    validate.validate(tiny_config(variant="supervised", style_adversary_reads_category=True))


def test_the_z_adversary_reads_the_category_only_from_its_start_epoch():
  # Ten steps an epoch, reading from epoch 0.2: steps 0 and 1 are blind, step 2 reads.
  config = tiny_config(variant="clustering", num_categories=4, discriminator_noise_std=0.0,
                       style_adversary_reads_category=True, category_reading_start_epoch=0.2)
  validate.validate(config)
  trainer = trainer_lib.Trainer(config, tf.distribute.get_strategy(), 10)
  (z_adversary,) = [a for a in trainer.spec.adversaries if a.head == "z"]
  first_layer = trainer.networks.discriminators[z_adversary.name].layers[0]
  # The input rows of the category one-hot: the last 4 of the first layer's kernel.
  category_rows = lambda: first_layer.kernel.numpy()[-4:].copy()
  untouched = category_rows()
  train(config, tf.distribute.get_strategy(), steps=2, trainer=trainer)
  np.testing.assert_array_equal(category_rows(), untouched)    # zeros in: no gradient
  train(config, tf.distribute.get_strategy(), steps=1, trainer=trainer)
  assert np.abs(category_rows() - untouched).max() > 0         # the one-hot is read


@pytest.mark.parametrize("changes, message", [
    (dict(category_reading_start_epoch=5.0), "add --style_adversary_reads_category"),
    (dict(category_reading_start_epoch=-1.0, style_adversary_reads_category=True), ">= 0"),
    (dict(category_reading_start_epoch=float("inf"), style_adversary_reads_category=True),
     "finite"),
])
def test_the_category_reading_start_is_checked(changes, message):
  from aae_tf.errors import ConfigError
  with pytest.raises(ConfigError, match=message):
    validate.validate(tiny_config(variant="clustering", num_categories=4, **changes))


def test_shift_moves_each_image_by_whole_pixels_within_the_bound():
  config = tiny_config(variant="clustering", num_categories=4, category_shift_consistency=1.0,
                       shift_pixels=2)
  trainer = trainer_lib.Trainer(config, tf.distribute.get_strategy(), 10)
  images = np.zeros([200, 9, 9, 1], np.float32)
  images[:, 4, 4, 0] = 1.0                                  # one lit pixel in the centre
  moved = trainer._shifted(tf.constant(images), tf.constant([1, 2])).numpy()
  assert moved.shape == images.shape
  np.testing.assert_array_equal(moved.sum(axis=(1, 2, 3)), 1.0)  # moved, not lost
  rows, columns = np.nonzero(moved[..., 0])[1:]
  offsets = set(zip(rows - 4, columns - 4))
  assert offsets == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}  # all 25 used


def _principal_angle(image):
  """The angle, in degrees within (-90, 90], of an image's axis of largest spread."""
  rows, columns = np.nonzero(image > 0.05)
  weights = image[rows, columns]
  y, x = rows - np.average(rows, weights=weights), columns - np.average(columns, weights=weights)
  covariance = np.cov(np.stack([x, -y]), aweights=weights)
  values, vectors = np.linalg.eigh(covariance)
  angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
  return (angle + 90) % 180 - 90


def test_warp_turns_and_scales_each_image_within_its_bounds_and_is_exact_at_zero():
  def warp(images, **bounds):
    config = tiny_config(variant="clustering", num_categories=4, category_shift_consistency=1.0,
                         **bounds)
    trainer = trainer_lib.Trainer(config, tf.distribute.get_strategy(), 10)
    return trainer._warped(tf.constant(images), tf.constant([3, 4])).numpy()

  bar = np.zeros([300, 21, 21], np.float32)
  bar[:, 10, 4:17] = 1.0                                    # a horizontal bar through the centre
  turned = warp(bar, shift_rotation_degrees=30.0)
  assert turned.shape == bar.shape
  angles = np.array([_principal_angle(image) for image in turned])
  assert np.all(np.abs(angles) <= 30.5)                   # turned within the bound
  assert angles.min() < -20 and angles.max() > 20         # and over most of it
  scaled = warp(bar, shift_zoom=0.2)
  columns = np.arange(21) - 10.0
  spread = np.sqrt((scaled.sum(axis=1) * columns ** 2).sum(1) / scaled.sum(axis=(1, 2)))
  length = np.sqrt((13 ** 2 - 1) / 12)                    # the bar's own spread
  assert np.all(spread > 0.8 * length - 0.2) and np.all(spread < 1.2 * length + 0.2)
  assert spread.min() < 0.88 * length and spread.max() > 1.12 * length
  images = np.random.default_rng(0).random([5, 9, 9, 1]).astype(np.float32)
  np.testing.assert_array_equal(warp(images), images)     # no turn, no zoom: the same pixels


def test_warp_compiles_with_xla_and_gives_the_same_pixels():
  config = tiny_config(variant="clustering", num_categories=4, category_shift_consistency=1.0,
                       shift_rotation_degrees=20.0, shift_zoom=0.15)
  trainer = trainer_lib.Trainer(config, tf.distribute.get_strategy(), 10)
  images = tf.constant(np.random.default_rng(1).random([6, 12, 12, 1]).astype(np.float32))
  # A constant seed: XLA draws another stream from a seed computed at run time (aae_tf.rng).
  warp = lambda x: trainer._warped(x, tf.constant([5, 6]))
  compiled = tf.function(warp, jit_compile=True)(images)
  np.testing.assert_allclose(compiled, warp(images), atol=1e-5)


def test_category_consistency_is_zero_for_equal_predictions_and_pulls_only_the_shifted_side():
  from aae_tf import losses
  logits = tf.constant([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
  np.testing.assert_allclose(losses.category_consistency(logits, logits), 0.0, atol=1e-6)
  shifted = tf.Variable([[0.0, 2.0, -1.0], [1.0, 0.0, 0.0]])
  original = tf.Variable(logits)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(losses.category_consistency(original, shifted))
  to_original, to_shifted = tape.gradient(loss, [original, shifted])
  assert loss.numpy() > 0.1
  assert to_original is None or np.all(to_original.numpy() == 0)
  assert np.any(to_shifted.numpy() != 0)


@pytest.mark.parametrize("warp", [{}, dict(shift_rotation_degrees=15.0, shift_zoom=0.1)])
def test_category_shift_consistency_trains_and_reports_its_loss(warp):
  config = tiny_config(variant="clustering", num_categories=4, category_shift_consistency=1.0,
                       head_batch_norm=("y",), **warp)
  _, metrics = train(config, tf.distribute.get_strategy(), steps=2)
  assert np.isfinite(metrics["category_consistency_loss"])
  assert metrics["category_consistency_loss"] >= 0


@pytest.mark.parametrize("changes, message", [
    (dict(category_shift_consistency=1.0), "category head"),      # the unsupervised variant
    (dict(variant="clustering", num_categories=4, category_shift_consistency=-1.0), ">= 0"),
    (dict(variant="clustering", num_categories=4, category_shift_consistency=float("nan")),
     "finite"),
    (dict(variant="clustering", num_categories=4, shift_pixels=0), "shift_pixels"),
    (dict(variant="clustering", num_categories=4, category_shift_consistency=1.0,
          shift_rotation_degrees=-5.0), "shift_rotation_degrees"),
    (dict(variant="clustering", num_categories=4, category_shift_consistency=1.0,
          shift_zoom=1.0), "shift_zoom"),
    (dict(variant="clustering", num_categories=4, shift_zoom=0.1), "set --category_shift"),
])
def test_category_shift_consistency_is_checked(changes, message):
  from aae_tf.errors import ConfigError
  with pytest.raises(ConfigError, match=message):
    validate.validate(tiny_config(**changes))
