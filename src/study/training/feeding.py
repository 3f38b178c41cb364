"""Training and validation batches, read from the memory-mapped prepared splits.

Under TensorFlow they come through tf.data (`tf_dataset`, the path the speed work
tuned); under JAX, which has no tf.data of its own, through a Keras PyDataset
(`EpochBatches`). Both give the same batches in the same order.
"""

from __future__ import annotations

import keras
import numpy as np

from study.specs import steps_per_epoch

PREFETCH_BATCHES = 2


def epoch_orders(n: int, seed: int, first_epoch: int, epochs: int) -> np.ndarray:
    """The order of the training images in each epoch, a function of (seed, epoch) alone.

    Drawing each epoch's permutation from its own seed makes a run resumed at
    epoch k see exactly the batches an uninterrupted run sees from epoch k on.
    """
    return np.stack([epoch_order(n, seed, epoch) for epoch in range(first_epoch, epochs)])


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    seed: int | None,
    first_epoch: int = 0,
    epochs: int = 1,
):
    """Batches of uint8 images for Keras' fit: every epoch from ``first_epoch`` on, reshuffled, when ``seed``
    is set; without one a single pass in file order. Fit it with ``steps_per_epoch``.

    Only indices are shuffled. Each batch is read from ``images`` as it is needed,
    so a memory-mapped split stays on disk, in the page cache, as its only copy:
    nothing is copied or converted to float until the model's input layer.
    """
    labels = np.asarray(labels, dtype=np.int32)
    if keras.backend.backend() == "tensorflow":
        return tf_dataset(images, labels, batch_size, seed, first_epoch, epochs)
    return EpochBatches(images, labels, batch_size, seed, first_epoch)


def tf_dataset(images, labels, batch_size: int, seed: int | None, first_epoch: int, epochs: int):
    """`make_dataset` as a tf.data pipeline: ``epochs - first_epoch`` epochs back to back."""
    import tensorflow as tf

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


class EpochBatches(keras.utils.PyDataset):
    """`make_dataset` as a Keras PyDataset: one epoch at a time, the next epoch's order drawn when Keras
    ends one."""

    def __init__(self, images, labels, batch_size: int, seed: int | None, first_epoch: int = 0):
        super().__init__()
        self.images, self.labels, self.batch_size, self.seed = images, labels, batch_size, seed
        self.epoch = first_epoch
        self.order = self.order_of(first_epoch)

    def order_of(self, epoch: int) -> np.ndarray:
        return np.arange(len(self.labels)) if self.seed is None else epoch_order(len(self.labels), self.seed, epoch)

    def __len__(self) -> int:
        return steps_per_epoch(len(self.labels), self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        indices = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return np.asarray(self.images[indices]), self.labels[indices]

    def on_epoch_end(self):
        self.epoch += 1
        self.order = self.order_of(self.epoch)
