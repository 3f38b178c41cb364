"""Training and validation batches, read from the memory-mapped prepared splits."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

PREFETCH_BATCHES = 2


def epoch_orders(n: int, seed: int, first_epoch: int, epochs: int) -> np.ndarray:
    """The order of the training images in each epoch, a function of (seed, epoch) alone.

    Drawing each epoch's permutation from its own seed makes a run resumed at
    epoch k see exactly the batches an uninterrupted run sees from epoch k on.
    """
    return np.stack([np.random.default_rng([seed, epoch]).permutation(n) for epoch in range(first_epoch, epochs)])


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    seed: int | None,
    first_epoch: int = 0,
    epochs: int = 1,
) -> tf.data.Dataset:
    """Batches of uint8 images: every epoch from ``first_epoch`` on, reshuffled, when ``seed`` is set.

    With a seed the dataset holds ``epochs - first_epoch`` epochs back to back (fit
    it with ``steps_per_epoch``); without one it is a single pass in file order.
    Only indices are shuffled. Each batch is read from ``images`` as it is needed,
    so a memory-mapped split stays on disk, in the page cache, as its only copy:
    nothing is copied into TensorFlow or converted to float until the model's
    input layer.
    """
    labels = np.asarray(labels, dtype=np.int32)
    if seed is None:
        batches = tf.data.Dataset.range(len(labels)).batch(batch_size)
    else:
        orders = tf.data.Dataset.from_tensor_slices(epoch_orders(len(labels), seed, first_epoch, epochs))
        batches = orders.flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))

    def read_batch(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(images[indices]), labels[indices]

    def load(indices):
        pixels, targets = tf.numpy_function(read_batch, [indices], (tf.uint8, tf.int32), stateful=False)
        pixels.set_shape((None, *images.shape[1:]))
        targets.set_shape((None,))
        return pixels, targets

    batches = batches.map(load)
    # A fixed prefetch depth with autotuning off: tf.data's autotune thread made
    # epochs end late while the iterator was torn down (docs/performance.md).
    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.prefetch(PREFETCH_BATCHES).with_options(options)


def steps_per_epoch(images: int, batch_size: int) -> int:
    return -(-images // batch_size)
