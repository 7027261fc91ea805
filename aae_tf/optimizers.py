"""Optimizers whose update is one fused kernel per variable.

Why not `keras.optimizers.Adam`: its update is a dozen separate element-wise ops per
variable (m, v, sqrt, divide, assign, ...), each a full pass over the weights. For the
paper's 784-1000-1000 networks at batch 100 those passes, not the matmuls, were the
largest part of a training step on CPU. TensorFlow's training kernels
(`ResourceApplyAdam`, `ResourceApplyKerasMomentum`, `ResourceApplyRMSProp`) do the
whole update in one multi-threaded pass, on CPU and GPU, and XLA lowers them too.

The rules are Keras's own, so results match `keras.optimizers.*` to rounding
(tests/test_optimizers.py): Adam with lr_t = lr·sqrt(1-β2^t)/(1-β1^t) and ε outside the
square root; SGD with Keras momentum (m = μm - lr·g; w += m); RMSprop with ε inside.

Distribution follows Keras too: in a replica context the gradients are SUM-all-reduced
(losses are already scaled by the global batch), clipped by global norm *after* the
reduction (so clipping sees the global gradient on any replica count), and applied to
every replica's copy through `strategy.extended.update`.
"""

from typing import Callable, Iterable, List, Optional, Tuple, Union

import tensorflow as tf

LearningRate = Union[float, Callable[[tf.Tensor], tf.Tensor]]


def piecewise_constant(boundaries, values) -> Callable[[tf.Tensor], tf.Tensor]:
  """Keras's PiecewiseConstantDecay: values[i] while boundaries[i-1] < step <= boundaries[i]."""
  if len(values) != len(boundaries) + 1:
    raise ValueError(f"need one more value than boundaries, got {values} for {boundaries}")
  boundaries = tf.constant(boundaries, tf.int64)
  values = tf.constant(values, tf.float32)
  return lambda step: tf.gather(values, tf.searchsorted(
      boundaries, tf.reshape(tf.cast(step, tf.int64), [1]), side="left")[0])


class _FusedOptimizer(tf.Module):
  """Slots, step counter, learning rate, distribution; subclasses give the kernel."""

  slot_names: Tuple[str, ...] = ()

  def __init__(self, learning_rate: LearningRate, global_clipnorm: Optional[float] = None,
               name: Optional[str] = None):
    super().__init__(name=name)
    self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations",
                                  aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    if callable(learning_rate):
      self._schedule, self._learning_rate = learning_rate, None
    else:
      self._schedule = None
      self._learning_rate = tf.Variable(float(learning_rate), trainable=False,
                                        name="learning_rate",
                                        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    self.global_clipnorm = global_clipnorm
    self._slots: List[List[tf.Variable]] = []
    self._variable_ids: List[int] = []

  # --- learning rate -------------------------------------------------------------------

  @property
  def learning_rate(self):
    """The current learning rate (a variable, or the schedule's value at this step)."""
    if self._schedule is not None:
      return self._schedule(self.iterations)
    return self._learning_rate

  @learning_rate.setter
  def learning_rate(self, value: float):
    if self._schedule is not None:
      raise TypeError("this optimizer follows a learning-rate schedule; it cannot be set")
    self._learning_rate.assign(float(value))

  # --- state ---------------------------------------------------------------------------

  def build(self, variables: Iterable[tf.Variable]) -> None:
    """Creates the slots (call once, inside the strategy's scope, before tracing)."""
    variables = list(variables)
    if self._slots:
      raise RuntimeError(f"{self.name} is already built")
    for variable in variables:
      base = variable.name.split(":")[0].replace("/", "_")
      self._slots.append([
          tf.Variable(tf.zeros(variable.shape, variable.dtype), trainable=False,
                      name=f"{base}_{slot}") for slot in self.slot_names])
    self._variable_ids = [id(v) for v in variables]

  # --- the update ----------------------------------------------------------------------

  def apply_gradients(self, grads_and_vars: Iterable[Tuple[tf.Tensor, tf.Variable]]):
    """One update of every variable it was built for (same order; no None gradients)."""
    grads, variables = zip(*grads_and_vars)
    if [id(v) for v in variables] != self._variable_ids:
      raise ValueError(f"{self.name}: apply_gradients needs exactly the variables it was "
                       "built with, in the same order")
    missing = [v.name for g, v in zip(grads, variables) if g is None]
    if missing:
      raise ValueError(f"{self.name}: no gradient for {missing}; is each variable used "
                       "by the loss?")
    grads = list(grads)
    replica = tf.distribute.get_replica_context()
    if replica is not None:
      grads = replica.all_reduce(tf.distribute.ReduceOp.SUM, grads)
    if self.global_clipnorm:  # after the all-reduce: every replica clips the same sum
      grads, _ = tf.clip_by_global_norm(grads, self.global_clipnorm)
    tf.__internal__.distribute.interim.maybe_merge_call(
        self._distributed_apply, tf.distribute.get_strategy(), grads, list(variables))

  def _distributed_apply(self, strategy, grads, variables):
    step = tf.cast(self.iterations + 1, tf.float32)
    learning_rate = tf.cast(self.learning_rate, tf.float32)
    hyper = self._hyper(learning_rate, step)
    updates = []
    for grad, variable, slots in zip(grads, variables, self._slots):
      updates.append(strategy.extended.update(
          variable, self._update_one, args=(grad, *slots), kwargs=hyper, group=False))
    with tf.control_dependencies(tf.nest.flatten(updates)):
      return self.iterations.assign_add(1)

  def _hyper(self, learning_rate: tf.Tensor, step: tf.Tensor) -> dict:
    """The kernel's per-step scalars (Adam adds its bias corrections)."""
    del step
    return dict(lr=learning_rate)

  def _update_one(self, variable, grad, *slots, **hyper):
    raise NotImplementedError


class Adam(_FusedOptimizer):
  """Keras's Adam (ε outside the square root) as one `ResourceApplyAdam` per variable."""

  slot_names = ("m", "v")

  def __init__(self, learning_rate: LearningRate, beta_1: float = 0.9,
               beta_2: float = 0.999, epsilon: float = 1e-7, **kwargs):
    super().__init__(learning_rate, name=kwargs.pop("name", "adam"), **kwargs)
    self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

  def _hyper(self, learning_rate, step):
    return dict(lr=learning_rate, beta1_power=tf.pow(self.beta_1, step),
                beta2_power=tf.pow(self.beta_2, step))

  def _update_one(self, variable, grad, m, v, lr, beta1_power, beta2_power):
    return tf.raw_ops.ResourceApplyAdam(
        var=variable.handle, m=m.handle, v=v.handle, beta1_power=beta1_power,
        beta2_power=beta2_power, lr=lr, beta1=tf.constant(self.beta_1, tf.float32),
        beta2=tf.constant(self.beta_2, tf.float32),
        epsilon=tf.constant(self.epsilon, tf.float32), grad=grad, use_locking=False)


class SGD(_FusedOptimizer):
  """Keras's SGD with momentum (m = μm - lr·g; w += m), one fused kernel per variable."""

  slot_names = ("momentum",)

  def __init__(self, learning_rate: LearningRate, momentum: float = 0.0, **kwargs):
    super().__init__(learning_rate, name=kwargs.pop("name", "sgd"), **kwargs)
    self.momentum = momentum

  def _update_one(self, variable, grad, accumulator, lr):
    return tf.raw_ops.ResourceApplyKerasMomentum(
        var=variable.handle, accum=accumulator.handle, lr=lr, grad=grad,
        momentum=tf.constant(self.momentum, tf.float32), use_locking=False,
        use_nesterov=False)


class RMSprop(_FusedOptimizer):
  """Keras's RMSprop (ρ 0.9, no momentum, ε inside the root), one kernel per variable."""

  slot_names = ("velocity", "momentum")

  def __init__(self, learning_rate: LearningRate, rho: float = 0.9, epsilon: float = 1e-7,
               **kwargs):
    super().__init__(learning_rate, name=kwargs.pop("name", "rmsprop"), **kwargs)
    self.rho, self.epsilon = rho, epsilon

  def _update_one(self, variable, grad, velocity, momentum, lr):
    return tf.raw_ops.ResourceApplyRMSProp(
        var=variable.handle, ms=velocity.handle, mom=momentum.handle, lr=lr,
        rho=tf.constant(self.rho, tf.float32), momentum=tf.constant(0.0, tf.float32),
        epsilon=tf.constant(self.epsilon, tf.float32), grad=grad, use_locking=False)
