"""Tests of the plain-torch architectures (no scikit-learn involved)."""

import numpy as np
import pytest
import torch

from sklearn_ckn.cnn._architectures import (
    ARCHITECTURES,
    ImageClassifierNet,
    LeNet5,
    ResNetSmall,
    Standardize,
    build_architecture,
    count_parameters,
)


SIZES = [(1, 1), (1, 2), (2, 2), (1, 10), (3, 5), (7, 7), (8, 8), (28, 28), (32, 32), (100, 100)]


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shape_for_any_image_size(name, size, channels):
    params = {"widths": (4, 8, 8)} if name == "resnet-small" else {}
    net = build_architecture(name, in_channels=channels, n_classes=5, image_size=size, **params)
    assert isinstance(net, ImageClassifierNet)
    net.eval()
    x = torch.rand(2, channels, *size)
    with torch.no_grad():
        out = net(x)
        feats = net.forward_features(x)
    assert out.shape == (2, 5)
    assert torch.isfinite(out).all()
    # Feature maps never shrink below 1x1 and have the advertised shape.
    assert feats.shape[1:] == net.feature_shape
    assert min(feats.shape[2:]) >= 1
    # forward is head(features(normalize(x))).
    torch.testing.assert_close(net.head(net.features(net.normalize(x))), out)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_layout_features_head_last_conv_block(name):
    net = build_architecture(name, in_channels=3, n_classes=10, image_size=(32, 32))
    assert isinstance(net.features, torch.nn.Sequential)
    assert isinstance(net.head, torch.nn.Module)
    block = net.last_conv_block
    assert block is net.get_submodule(net.last_conv_block_name)
    assert net.last_conv_block_name.startswith("features.")
    assert any(isinstance(m, torch.nn.Conv2d) for m in block.modules())
    # The Grad-CAM target's output is a 4-D feature map.
    seen = {}
    handle = block.register_forward_hook(lambda m, i, o: seen.setdefault("out", o))
    net.eval()(torch.rand(1, 3, 32, 32))
    handle.remove()
    assert seen["out"].ndim == 4
    # No duplicated sub-module names in the state dict (last_conv_block is a property).
    assert not any(k.startswith("last_conv_block") for k in net.state_dict())


def test_parameter_counts():
    # Classic LeNet-5 on 28x28 (same-padded first convolution): 61,706 parameters.
    lenet = LeNet5(in_channels=1, n_classes=10, image_size=(28, 28))
    assert count_parameters(lenet) == 61706
    # 32x32 inputs also reach the 16x5x5 map of the original network.
    assert LeNet5(in_channels=1, n_classes=10, image_size=(32, 32)).feature_shape == (16, 5, 5)
    resnet = ResNetSmall(in_channels=3, n_classes=10, image_size=(32, 32))
    assert 1.0e6 < count_parameters(resnet) < 1.3e6
    assert resnet.feature_shape == (256, 4, 4)
    # Large images are pooled in the stem: 100x100 -> 50x50 -> ... -> 7x7.
    big = ResNetSmall(in_channels=3, n_classes=6, image_size=(100, 100))
    assert big.feature_shape == (256, 7, 7)
    # 8x8 digits end at 1x1.
    assert ResNetSmall(in_channels=1, n_classes=10, image_size=(8, 8)).feature_shape[1:] == (1, 1)


def test_count_parameters_trainable_only():
    net = ResNetSmall(in_channels=1, n_classes=3, image_size=(8, 8), widths=(4, 8))
    total = count_parameters(net)
    for p in net.features.parameters():
        p.requires_grad_(False)
    n_head = sum(p.numel() for p in net.head.parameters())
    assert count_parameters(net, trainable_only=True) == n_head
    assert count_parameters(net) == total


def test_rebuild_from_config_gives_same_network():
    net = ResNetSmall(in_channels=3, n_classes=4, image_size=(12, 9), widths=(4, 8), dropout=0.2)
    clone = type(net)(**net.config)
    clone.load_state_dict(net.state_dict())
    x = torch.rand(3, 3, 12, 9)
    net.eval(), clone.eval()
    torch.testing.assert_close(net(x), clone(x), rtol=0, atol=0)


def test_standardize():
    norm = Standardize(3)
    x = torch.rand(2, 3, 4, 4)
    torch.testing.assert_close(norm(x), x)
    norm.set_statistics([0.1, 0.2, 0.3], [2.0, 4.0, 1.0])
    expected = (x - torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1)) / torch.tensor(
        [2.0, 4.0, 1.0]
    ).view(1, 3, 1, 1)
    torch.testing.assert_close(norm(x), expected)
    assert set(norm.state_dict()) == {"mean", "std"}


def test_build_architecture_errors_and_callables():
    with pytest.raises(ValueError, match="Unknown architecture"):
        build_architecture("vgg99", in_channels=1, n_classes=2, image_size=(8, 8))
    with pytest.raises(ValueError, match="name or a callable"):
        build_architecture(3, in_channels=1, n_classes=2, image_size=(8, 8))
    net = build_architecture(LeNet5, in_channels=1, n_classes=2, image_size=(8, 8), widths=(2, 3))
    assert net.config["widths"] == (2, 3)


def test_dropout_only_in_head():
    net = ResNetSmall(in_channels=1, n_classes=2, image_size=(8, 8), widths=(4,), dropout=0.5)
    assert any(isinstance(m, torch.nn.Dropout) and m.p == 0.5 for m in net.head.modules())
    assert not any(isinstance(m, torch.nn.Dropout) for m in net.features.modules())


@pytest.mark.parametrize(
    "architecture, widths", [("resnet-small", (0, 4)), ("lenet5", (6, 0)), ("lenet5", (6,))]
)
def test_bad_widths_get_a_clear_error(architecture, widths):
    from sklearn_ckn import CNNClassifier

    X = np.random.RandomState(0).rand(8, 8, 8).astype(np.float32)
    with pytest.raises(ValueError, match="widths must hold"):
        CNNClassifier(architecture, architecture_params={"widths": widths}, epochs=1,
                      device="cpu").fit(X, np.arange(8) % 2)
