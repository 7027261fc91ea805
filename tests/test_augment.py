"""The warp behind --category_consistency: shifts and rotations by hand, seeds, wiring."""

import numpy as np
import pytest
import tensorflow as tf

from aae_tf import augment
from aae_tf import config as config_lib
from aae_tf import trainer as trainer_lib
from aae_tf.errors import ConfigError
from tests.test_trainer import tiny_config, train


def _pattern():
  image = np.zeros((1, 5, 5, 1), np.float32)
  image[0, 1, 2, 0], image[0, 2, 2, 0] = 1.0, 2.0
  return image


def _warp(image, shift, angle):
  return augment.warp(tf.constant(image), tf.constant([shift], tf.float32),
                      tf.constant([angle], tf.float32)).numpy()[0, :, :, 0]


def test_an_integer_shift_moves_the_content_and_fills_with_zero():
  expected = np.zeros((5, 5), np.float32)
  expected[2, 2], expected[3, 2] = 1.0, 2.0           # one row down
  np.testing.assert_allclose(_warp(_pattern(), (1.0, 0.0), 0.0), expected, atol=1e-6)
  expected = np.zeros((5, 5), np.float32)
  expected[1, 0], expected[2, 0] = 1.0, 2.0           # two columns left
  np.testing.assert_allclose(_warp(_pattern(), (0.0, -2.0), 0.0), expected, atol=1e-6)


def test_a_half_pixel_shift_interpolates_bilinearly():
  expected = np.zeros((5, 5), np.float32)
  expected[1, 1:3], expected[2, 1:3] = 0.5, 1.0
  np.testing.assert_allclose(_warp(_pattern(), (0.0, -0.5), 0.0), expected, atol=1e-6)


def test_a_quarter_turn_about_the_centre():
  expected = np.zeros((5, 5), np.float32)
  expected[2, 1], expected[2, 2] = 1.0, 2.0           # the vertical bar, now horizontal
  np.testing.assert_allclose(_warp(_pattern(), (0.0, 0.0), np.pi / 2), expected, atol=1e-5)


def test_random_warp_is_seeded_bounded_and_keeps_rank_3_batches():
  images = tf.random.stateless_uniform([6, 28, 28], [1, 2])
  first = augment.random_warp(images, tf.constant([3, 4]), 2.0, 15.0)
  np.testing.assert_array_equal(first, augment.random_warp(images, tf.constant([3, 4]), 2.0, 15.0))
  assert first.shape == images.shape
  assert not np.allclose(first, augment.random_warp(images, tf.constant([3, 5]), 2.0, 15.0))
  np.testing.assert_allclose(augment.random_warp(images, tf.constant([3, 4]), 0.0, 0.0), images,
                             atol=1e-6)
  with pytest.raises(ValueError, match="image examples"):
    augment.random_warp(tf.zeros([2, 784]), tf.constant([1, 1]), 2.0, 15.0)


def test_category_consistency_trains_and_is_logged_and_checked():
  config = tiny_config(variant="clustering", num_categories=4, category_consistency=1.0)
  trainer = trainer_lib.Trainer(config, tf.distribute.get_strategy(), 10)
  assert "category_consistency_loss" in trainer.metric_names
  _, metrics = train(config, tf.distribute.get_strategy(), steps=2, trainer=trainer)
  # Cross-entropy against a 4-way distribution: at least its entropy, finite.
  assert 0 < metrics["category_consistency_loss"] < 50
  with pytest.raises(ConfigError, match="--category_consistency needs"):
    config_lib.validate(tiny_config(category_consistency=1.0))   # no category head
  with pytest.raises(ConfigError, match="--consistency_shift must be >= 0"):
    config_lib.validate(tiny_config(variant="clustering", num_categories=4,
                                    consistency_shift=-1.0))
