import numpy as np
import pytest

from study.specs import forward_flops
from study.training.models import REFERENCE_MODELS, build_model


@pytest.mark.parametrize("name", list(REFERENCE_MODELS))
def test_reference_models_match_the_lecture(name):
    builder, lecture_count = REFERENCE_MODELS[name]
    assert builder().count_params() == lecture_count


def conv(c_in, c_out):
    return 9 * c_in * c_out + c_out


def test_small_variant_hand_count(small_spec):
    # conv 3->4 and 4->8 at 32x32, two pools to 8x8x8, Dense 512->16, Dense 16->10
    expected = conv(3, 4) + conv(4, 8) + (8 * 8 * 8 * 16 + 16) + (16 * 10 + 10)
    assert build_model(small_spec, (32, 32, 3), classes=10).count_params() == expected


def test_fixes_add_exactly_their_weights(small_spec):
    base = build_model(small_spec, (32, 32, 3), classes=10).count_params()
    batchnorm = build_model(small_spec | {"batchnorm": True}, (32, 32, 3), classes=10).count_params()
    skip = build_model(small_spec | {"skip": True}, (32, 32, 3), classes=10).count_params()
    assert batchnorm - base == 4 * (4 + 8)  # gamma, beta, moving mean and variance per channel
    assert skip - base == conv(3, 4) + conv(4, 8)  # one strided 3x3 conv per block
    he = build_model(small_spec | {"initializer": "he_normal"}, (32, 32, 3), classes=10).count_params()
    assert he == base


def test_the_variants_batchnorm_momentum_reaches_every_batchnorm_layer(small_spec):
    spec = small_spec | {"batchnorm": True, "batchnorm_momentum": 0.9}
    momenta = [layer.momentum for layer in build_model(spec, (32, 32, 3), classes=10).layers if "_bn" in layer.name]
    assert momenta == [0.9, 0.9]


def test_width_scales_conv_filters(small_spec):
    model = build_model(small_spec | {"width": 0.5}, (32, 32, 3), classes=10)
    assert model.get_layer("block1_conv1").filters == 2
    assert model.get_layer("block2_conv1").filters == 4
    assert model.get_layer("dense1").units == 16


def test_standardize_uses_the_given_statistics(small_spec):
    stats = {"mean": [100.0, 50.0, 10.0], "std": [20.0, 10.0, 5.0]}
    model = build_model(small_spec | {"normalization": "standardize"}, (32, 32, 3), stats, classes=10)
    pixels = np.full((1, 32, 32, 3), [120, 40, 20], dtype=np.uint8)
    out = model.get_layer("standardize")(pixels.astype("float32"))
    np.testing.assert_allclose(np.asarray(out)[0, 0, 0], [1.0, -1.0, 2.0], rtol=1e-6)


def test_standardize_without_statistics_is_an_error(small_spec):
    with pytest.raises(ValueError, match="channel statistics"):
        build_model(small_spec | {"normalization": "standardize"}, (32, 32, 3), classes=10)


def test_model_takes_uint8_pixels(small_spec):
    model = build_model(small_spec, (32, 32, 3), classes=10)
    assert model.inputs[0].dtype == "uint8"
    probabilities = model.predict(np.zeros((2, 32, 32, 3), dtype=np.uint8), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def keras_forward_flops(model) -> int:
    """Multiply-adds x 2 of every Conv2D and Dense layer of a built model, for one image."""
    import keras

    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw, c_in, _ = layer.kernel.shape
            flops += 2 * h * w * kh * kw * c_in * c_out
        elif isinstance(layer, keras.layers.Dense):
            c_in, c_out = layer.kernel.shape
            flops += 2 * c_in * c_out
    return flops


@pytest.mark.parametrize(
    "changes",
    [{}, {"skip": True}, {"width": 0.5, "batchnorm": True}, {"blocks": [[8, 8], [16], [4, 4, 4]], "dense": [32, 8]}],
)
def test_the_spec_arithmetic_counts_what_the_builder_builds(small_spec, changes):
    spec = small_spec | changes
    for shape in [(32, 32, 3), (28, 28, 1)]:
        assert forward_flops(spec, shape, 10) == keras_forward_flops(
            build_model(spec, shape, {"mean": [0] * 3, "std": [1] * 3}, classes=10)
        )


def test_the_lecture_way_is_the_same_model_fed_pixels_it_scaled_itself(small_spec):
    pipeline = build_model(small_spec, (32, 32, 3), classes=10)
    lecture = build_model(small_spec, (32, 32, 3), classes=10, pixels="scaled")
    assert "scale01" not in [layer.name for layer in lecture.layers]
    lecture.set_weights(pipeline.get_weights())
    pixels = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype(np.uint8)
    np.testing.assert_allclose(
        lecture.predict(pixels / 255.0, verbose=0), pipeline.predict(pixels, verbose=0), rtol=1e-5
    )
