"""What a variant spec describes, read without building it: filter counts and arithmetic per image.

Pure Python, so that the workflow's planning and the tables side need no TensorFlow;
`study.training.models` builds the same layers.
"""

from __future__ import annotations

# The activations whose unit health the diagnostics count, and what they count: ReLU-family units that
# output at most 0 for every probe image (dead), sigmoid and tanh units near their bounds (saturated). Other
# activations (elu, gelu) record no unit statistics, and a run of them is never said to have none.
# The optimizers a variant can name (study.training.optimizers builds them), as prose writes them.
OPTIMIZER_NAMES = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD"}
UNIT_HEALTH = {
    "relu": "dead_fraction",
    "leaky_relu": "dead_fraction",
    "sigmoid": "saturated_fraction",
    "tanh": "saturated_fraction",
}


def conv_filters(spec: dict) -> list[list[int]]:
    """Filter counts per block after the variant's width multiplier."""
    width = spec.get("width", 1.0)
    return [[max(1, round(f * width)) for f in block] for block in spec["blocks"]]


def conv_count(spec: dict) -> int:
    return sum(len(block) for block in spec["blocks"])


def forward_flops(spec: dict, input_shape: tuple[int, ...], classes: int) -> int:
    """Multiply-adds x 2 of every conv (3x3, 'same') and Dense layer (the softmax: ``classes`` units) for one
    image's forward pass."""
    height, width, channels = input_shape
    flops = 0
    for filters in conv_filters(spec):
        block_input = channels
        for f in filters:
            flops += 2 * height * width * 9 * channels * f
            channels = f
        if spec.get("skip"):  # a strided 3x3 conv of the block's input, at the pooled size
            flops += 2 * -(-height // 2) * -(-width // 2) * 9 * block_input * channels
        height, width = height // 2, width // 2
    features = height * width * channels
    for units in [*spec.get("dense", []), classes]:
        flops += 2 * features * units
        features = units
    return flops


def training_flops(spec: dict, input_shape: tuple[int, ...], classes: int, images: int) -> int:
    """Arithmetic of training on ``images`` images for the spec's epochs: forward and backward, about 3 forward."""
    return 3 * forward_flops(spec, input_shape, classes) * images * spec["epochs"]


def steps_per_epoch(images: int, batch_size: int) -> int:
    """Batches in an epoch of ``images`` images, the last one possibly short."""
    return -(-images // batch_size)


def planned_steps(spec: dict, images: int) -> int:
    """The training steps a spec's epochs take on ``images`` images."""
    return steps_per_epoch(images, spec["batch_size"]) * spec["epochs"]
