"""Test session set-up: quiet TF logs and two logical CPU devices.

The CPU is split before any TensorFlow op runs, so MirroredStrategy over
"/cpu:0" and "/cpu:1" (a real cross-replica all-reduce) is available to every test
in this process; the default strategy still uses /cpu:0 only.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from aae_tf import distribute  # noqa: E402

distribute.split_cpu(2)
