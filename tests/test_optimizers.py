"""The fused optimizers follow Keras's update rules, on one replica and on two."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from aae_tf import distribute
from aae_tf import optimizers

SHAPES = [(7, 5), (5,)]
STEPS = 4


def _problem(seed=0):
  rng = np.random.default_rng(seed)
  initial = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
  grads = [[rng.normal(size=s).astype(np.float32) * (i + 1) for s in SHAPES]
           for i in range(STEPS)]
  return initial, grads


def _run(optimizer, initial, grads, build=True):
  variables = [tf.Variable(v) for v in initial]
  if build:
    optimizer.build(variables)
  for step_grads in grads:
    optimizer.apply_gradients(zip([tf.constant(g) for g in step_grads], variables))
  return [v.numpy() for v in variables]


PAIRS = {
    "adam": (lambda lr: optimizers.Adam(lr, beta_1=0.5),
             lambda lr: keras.optimizers.Adam(lr, beta_1=0.5)),
    "sgd": (lambda lr: optimizers.SGD(lr, momentum=0.9),
            lambda lr: keras.optimizers.SGD(lr, momentum=0.9)),
    "rmsprop": (lambda lr: optimizers.RMSprop(lr), lambda lr: keras.optimizers.RMSprop(lr)),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_matches_keras(name):
  ours, theirs = PAIRS[name]
  initial, grads = _problem()
  got = _run(ours(0.05), initial, grads)
  want = _run(theirs(0.05), initial, grads)
  for g, w, start in zip(got, want, initial):
    assert not np.allclose(g, start)      # it moved
    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_matches_keras_inside_tf_function(name):
  ours, theirs = PAIRS[name]
  initial, grads = _problem(1)
  results = []
  for make in (ours, theirs):
    optimizer = make(0.01)
    variables = [tf.Variable(v) for v in initial]
    optimizer.build(variables)
    step = tf.function(lambda g, o=optimizer, vs=variables: o.apply_gradients(zip(g, vs)))
    for step_grads in grads:
      step([tf.constant(g) for g in step_grads])
    results.append([v.numpy() for v in variables])
  for g, w in zip(*results):
    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_clipping_matches_keras_global_clipnorm():
  initial, grads = _problem(2)
  got = _run(optimizers.Adam(0.05, global_clipnorm=0.5), initial, grads)
  want = _run(keras.optimizers.Adam(0.05, global_clipnorm=0.5), initial, grads)
  for g, w in zip(got, want):
    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_piecewise_constant_matches_keras():
  ours = optimizers.piecewise_constant([3, 7], [1.0, 0.1, 0.01])
  theirs = keras.optimizers.schedules.PiecewiseConstantDecay([3, 7], [1.0, 0.1, 0.01])
  for step in range(10):
    assert float(ours(tf.constant(step, tf.int64))) == pytest.approx(float(theirs(step))), step
  with pytest.raises(ValueError, match="one more value"):
    optimizers.piecewise_constant([3], [1.0])


def test_schedule_drives_the_learning_rate_and_cannot_be_set():
  optimizer = optimizers.SGD(optimizers.piecewise_constant([1], [1.0, 0.5]))
  variable = tf.Variable([0.0])
  optimizer.build([variable])
  for _ in range(3):
    optimizer.apply_gradients([(tf.constant([1.0]), variable)])
  # iterations 0 and 1 are <= the boundary (lr 1.0, as in Keras); iteration 2 uses 0.5
  np.testing.assert_allclose(variable.numpy(), [-2.5])
  assert int(optimizer.iterations.numpy()) == 3
  with pytest.raises(TypeError, match="schedule"):
    optimizer.learning_rate = 0.1


def test_learning_rate_is_settable_without_retracing():
  optimizer = optimizers.SGD(1.0)
  variable = tf.Variable([0.0])
  optimizer.build([variable])
  step = tf.function(lambda: optimizer.apply_gradients([(tf.constant([1.0]), variable)]))
  step()
  optimizer.learning_rate = 0.0
  step()
  np.testing.assert_allclose(variable.numpy(), [-1.0])
  assert step.experimental_get_tracing_count() == 1


def test_bad_calls_name_the_problem():
  optimizer = optimizers.Adam(0.1)
  a, b = tf.Variable([1.0]), tf.Variable([2.0])
  optimizer.build([a, b])
  with pytest.raises(ValueError, match="same order"):
    optimizer.apply_gradients([(tf.constant([1.0]), b), (tf.constant([1.0]), a)])
  with pytest.raises(ValueError, match="no gradient"):
    optimizer.apply_gradients([(None, a), (tf.constant([1.0]), b)])
  with pytest.raises(RuntimeError, match="already built"):
    optimizer.build([a, b])


def test_two_replicas_sum_gradients_like_one_replica():
  """Per-replica gradients of a loss scaled by the global batch sum to the global one."""
  # The process-wide cached strategy: a second MirroredStrategy would collide on
  # collective keys with the one other tests use.
  strategy = distribute.make_strategy("mirrored", 2)
  initial, grads = _problem(3)
  with strategy.scope():
    optimizer = optimizers.Adam(0.05, beta_1=0.5, global_clipnorm=3.0)
    variables = [tf.Variable(v) for v in initial]
    optimizer.build(variables)

  @tf.function
  def step(halves):
    def replica_fn():
      ctx = tf.distribute.get_replica_context()
      mine = [tf.gather(tf.stack([h[0], h[1]]), ctx.replica_id_in_sync_group)
              for h in halves]
      optimizer.apply_gradients(zip(mine, variables))
    strategy.run(replica_fn)

  for step_grads in grads:
    # Each replica holds half of the gradient; the update must see their sum.
    step([(tf.constant(g * 0.25), tf.constant(g * 0.75)) for g in step_grads])
  want = _run(optimizers.Adam(0.05, beta_1=0.5, global_clipnorm=3.0), initial, grads)
  for variable, w in zip(variables, want):
    for component in strategy.experimental_local_results(variable):
      np.testing.assert_allclose(component.numpy(), w, rtol=1e-5, atol=1e-6)
