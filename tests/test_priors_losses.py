"""Priors and losses against known values."""

import math

import numpy as np
import pytest
import tensorflow as tf

from aae_tf import losses
from aae_tf import priors


def test_gaussian_prior_moments_and_determinism():
  prior = priors.Gaussian(dim=4, std=5.0)
  seed = tf.constant([1, 2])
  draw = prior.sample(20000, seed).numpy()
  assert draw.shape == (20000, 4) and draw.dtype == np.float32
  np.testing.assert_allclose(draw.mean(axis=0), 0.0, atol=0.15)
  np.testing.assert_allclose(draw.std(axis=0), 5.0, rtol=0.03)
  np.testing.assert_array_equal(draw, prior.sample(20000, seed).numpy())
  assert not np.array_equal(draw[:10], prior.sample(10, tf.constant([1, 3])).numpy())


def test_prior_describe_is_json_ready():
  assert priors.Gaussian(dim=8, std=5.0).describe() == {"name": "gaussian", "dim": 8, "std": 5.0}


def test_mse_is_per_image_sum_by_default_and_per_pixel_mean_on_request():
  images = tf.constant([[0.0, 1.0], [0.5, 0.5]])
  logits = tf.constant([[0.0, 0.0], [0.0, 0.0]])  # sigmoid = 0.5 everywhere
  # image 0: (0 - .5)^2 + (1 - .5)^2 = 0.5 summed over its 2 pixels, 0.25 as a mean
  np.testing.assert_allclose(losses.mse(images, logits).numpy(), [0.5, 0.0], atol=1e-7)
  np.testing.assert_allclose(losses.mse(images, logits, "per_image").numpy(), [0.5, 0.0],
                             atol=1e-7)
  np.testing.assert_allclose(losses.mse(images, logits, "per_pixel").numpy(), [0.25, 0.0],
                             atol=1e-7)


def test_per_image_scale_on_an_mnist_shaped_image():
  # 784 pixels, each off by 0.5 from sigmoid(0) = 0.5: 784 * 0.25 = 196 per image.
  images = tf.concat([tf.zeros([1, 392]), tf.ones([1, 392])], axis=1)
  logits = tf.zeros([1, 784])
  np.testing.assert_allclose(losses.mse(images, logits, "per_image").numpy(), [196.0],
                             rtol=1e-6)
  np.testing.assert_allclose(losses.mse(images, logits, "per_pixel").numpy(), [0.25],
                             rtol=1e-6)


def test_unknown_reconstruction_scale_is_refused():
  with pytest.raises(ValueError, match="per_image or per_pixel"):
    losses.mse(tf.zeros([1, 2]), tf.zeros([1, 2]), "per_batch")


def test_bce_against_hand_computed_value():
  images = tf.constant([[1.0, 0.0]])
  logits = tf.constant([[0.0, math.log(3.0)]])  # p = 0.5 and 0.75
  want = -math.log(0.5) - math.log(0.25)
  np.testing.assert_allclose(losses.bce(images, logits).numpy(), [want], rtol=1e-6)
  np.testing.assert_allclose(losses.bce(images, logits, "per_pixel").numpy(), [want / 2],
                             rtol=1e-6)


def test_discriminator_and_generator_losses():
  real, fake = tf.constant([[0.0]]), tf.constant([[0.0]])
  np.testing.assert_allclose(losses.discriminator(real, fake).numpy(), [2 * math.log(2)],
                             rtol=1e-6)
  np.testing.assert_allclose(losses.generator(tf.constant([[math.log(3.0)]])).numpy(),
                             [-math.log(0.75)], rtol=1e-6)


@pytest.mark.parametrize("logit, is_real, want", [(1.0, True, 1.0), (-1.0, True, 0.0),
                                                  (-1.0, False, 1.0), (1.0, False, 0.0)])
def test_accuracy(logit, is_real, want):
  assert losses.accuracy(tf.constant([[logit]]), is_real).numpy()[0] == want


@pytest.mark.parametrize("prior", [priors.GaussianMixture2D(), priors.SwissRoll()])
def test_2d_priors_deterministic_and_label_components_separate(prior):
  seed = tf.constant([4, 5])
  draw = prior.sample(5000, seed).numpy()
  assert draw.shape == (5000, 2)
  np.testing.assert_array_equal(draw, prior.sample(5000, seed).numpy())
  labels = np.repeat(np.arange(10), 500)
  per_label = prior.sample(5000, seed, tf.constant(labels)).numpy()
  centres = np.stack([per_label[labels == k].mean(axis=0) for k in range(10)])
  # Each label's samples sit nearer their own component's centre than any other's.
  distance = np.linalg.norm(per_label[:, None, :] - centres[None], axis=2)
  assert (distance.argmin(axis=1) == labels).mean() > 0.9


def test_mixture_component_geometry():
  prior = priors.GaussianMixture2D(num_components=10, shift=1.4, x_std=0.5, y_std=0.1)
  k = 3
  draw = prior.sample(20000, tf.constant([0, 1]), tf.fill([20000], k)).numpy()
  angle = 2 * math.pi * k / 10
  radial = draw @ np.array([math.cos(angle), math.sin(angle)])
  tangential = draw @ np.array([-math.sin(angle), math.cos(angle)])
  assert radial.mean() == pytest.approx(1.4, abs=0.02)
  assert radial.std() == pytest.approx(0.5, rel=0.03)
  assert tangential.std() == pytest.approx(0.1, rel=0.03)


def test_swiss_roll_segment_radius():
  draw = priors.SwissRoll().sample(10000, tf.constant([0, 2]), tf.fill([10000], 9)).numpy()
  radius = np.linalg.norm(draw, axis=1)
  # Segment 9 has u in [0.9, 1): radius 3*sqrt(u) in [2.846, 3).
  assert radius.min() >= 3 * math.sqrt(0.9) - 1e-4 and radius.max() <= 3.0 + 1e-4


def test_categorical_prior_is_one_hot_uniform_or_given():
  prior = priors.Categorical(num_components=16)
  draw = prior.sample(16000, tf.constant([0, 9])).numpy()
  assert draw.shape == (16000, 16) and set(np.unique(draw)) == {0.0, 1.0}
  np.testing.assert_array_equal(draw.sum(axis=1), 1.0)
  np.testing.assert_allclose(draw.mean(axis=0), 1 / 16, atol=0.01)
  given = prior.sample(3, tf.constant([0, 9]), tf.constant([4, -1, 15])).numpy()
  assert given[0].argmax() == 4 and given[2].argmax() == 15 and given[1].sum() == 1.0
