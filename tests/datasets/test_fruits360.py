import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from sklearn_ckn.datasets import _fruits360 as fruits_module
from sklearn_ckn.datasets import load_fruits360

# Solid colours survive JPEG compression almost exactly.
COLOURS = {"Banana": (250, 220, 30), "Apple Red 1": (200, 20, 30), "Kiwi": (110, 90, 40)}
COUNTS = {
    "Training": {"Banana": 3, "Apple Red 1": 2, "Kiwi": 2},
    "Test": {"Banana": 1, "Apple Red 1": 2},
}


def make_tree(root, size=(12, 12)):
    """fruits-360/{Training,Test}/<class>/*.jpg of solid-colour images."""
    for tree, counts in COUNTS.items():
        for name, count in counts.items():
            folder = root / tree / name
            folder.mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", size, COLOURS[name]).save(folder / f"{i}_100.jpg", quality=95)
            (folder / "notes.txt").write_text("not an image")


@pytest.fixture
def home(tmp_path):
    make_tree(tmp_path / "fruits-360")
    return tmp_path


def test_train_tree(home):
    bunch = load_fruits360(home, download_if_missing=False)
    assert bunch.target_names == ["Apple Red 1", "Banana", "Kiwi"]  # sorted folder names
    assert bunch.images.shape == (7, 12, 12, 3) and bunch.images.dtype == np.uint8
    assert bunch.target.dtype == np.int64
    assert bunch.target.tolist() == [0, 0, 1, 1, 1, 2, 2]
    for image, label in zip(bunch.images, bunch.target):
        expected = COLOURS[bunch.target_names[label]]
        assert np.abs(image.astype(int) - expected).max() <= 3
    assert len(bunch.filenames) == 7 and bunch.filenames[0].endswith("0_100.jpg")
    assert "Muresan" in bunch.DESCR


def test_test_tree_uses_the_same_numbering(home):
    bunch = load_fruits360(home, subset="test")
    assert bunch.target_names == ["Apple Red 1", "Banana", "Kiwi"]  # Kiwi only in Training
    assert bunch.target.tolist() == [0, 0, 1]


def test_exact_pixels_with_png(tmp_path):
    folder = tmp_path / "fruits-360" / "Training" / "Noise"
    folder.mkdir(parents=True)
    (tmp_path / "fruits-360" / "Test").mkdir()
    pixels = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "a.png")
    Image.fromarray(pixels[..., 0]).save(folder / "b.png")  # grey: converted to RGB
    X, y = load_fruits360(tmp_path, return_X_y=True)
    np.testing.assert_array_equal(X[0], pixels)
    np.testing.assert_array_equal(X[1], np.repeat(pixels[..., :1], 3, axis=2))
    assert y.tolist() == [0, 0]


def test_data_home_can_be_the_fruits_folder_itself(home):
    a = load_fruits360(home, subset="test")
    b = load_fruits360(home / "fruits-360", subset="test")
    np.testing.assert_array_equal(a.images, b.images)


def test_classes_subset_and_order(home):
    bunch = load_fruits360(home, classes=["Kiwi", "Apple Red 1"])
    assert bunch.target_names == ["Kiwi", "Apple Red 1"]
    assert bunch.target.tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="unknown classes \\['Mango'\\]"):
        load_fruits360(home, classes=["Mango"])
    with pytest.raises(ValueError, match="duplicates"):
        load_fruits360(home, classes=["Kiwi", "Kiwi"])
    with pytest.raises(ValueError, match="list of class names"):
        load_fruits360(home, classes="Kiwi")


def test_image_size(home):
    assert load_fruits360(home, image_size=4).images.shape == (7, 4, 4, 3)
    X, _ = load_fruits360(home, image_size=(3, 5), return_X_y=True)  # (height, width)
    assert X.shape == (7, 3, 5, 3)
    for bad in (0, (3,), (3, 0), "32", 2.5, (True, 3)):
        with pytest.raises(ValueError, match="image_size"):
            load_fruits360(home, image_size=bad)


def test_mixed_sizes_need_image_size(home):
    Image.new("RGB", (8, 9)).save(home / "fruits-360" / "Training" / "Kiwi" / "odd.jpg")
    with pytest.raises(ValueError, match="odd.jpg.*pass image_size"):
        load_fruits360(home)
    assert load_fruits360(home, image_size=6).images.shape == (8, 6, 6, 3)


def test_n_samples_shuffle(home):
    first = load_fruits360(home, n_samples=2)
    assert first.target.tolist() == [0, 0] and first.images.shape[0] == 2
    a = load_fruits360(home, n_samples=4, shuffle=True, random_state=3)
    b = load_fruits360(home, n_samples=4, shuffle=True, random_state=3)
    assert a.filenames.tolist() == b.filenames.tolist()
    full = load_fruits360(home)
    index = [full.filenames.tolist().index(f) for f in a.filenames]
    np.testing.assert_array_equal(a.images, full.images[index])
    np.testing.assert_array_equal(a.target, full.target[index])


def test_invalid_subset(home):
    with pytest.raises(ValueError, match="subset"):
        load_fruits360(home, subset="Training")


def test_missing_data_message(tmp_path):
    for download in (True, False):
        with pytest.raises(FileNotFoundError) as info:
            load_fruits360(tmp_path, download_if_missing=download)
        msg = str(info.value)
        assert str(tmp_path / "fruits-360") in msg and "kaggle" in msg and "Training/" in msg


def test_missing_subset_tree(tmp_path):
    (tmp_path / "fruits-360" / "Training" / "Kiwi").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="Test"):
        load_fruits360(tmp_path, subset="test")


def test_corrupt_jpeg(home):
    bad = home / "fruits-360" / "Test" / "Banana" / "0_100.jpg"
    bad.write_bytes(bad.read_bytes()[:30])
    with pytest.raises(ValueError, match="0_100.jpg"):
        load_fruits360(home, subset="test")


def test_images_beyond_8_bits_are_refused(home):
    # Before: a 16-bit PNG of 40000s was read as 255 everywhere (convert("RGB") clips).
    path = home / "fruits-360" / "Test" / "Kiwi" / "deep.png"
    path.parent.mkdir(parents=True)
    Image.fromarray(np.full((12, 12), 40000, dtype=np.uint16)).save(path, format="PNG")
    assert Image.open(path).mode == "I;16"
    with pytest.raises(ValueError, match="'I;16' image .*clip") as info:
        load_fruits360(home, subset="test", classes=["Kiwi"])
    assert "deep.png" in str(info.value)


# -- issue 28: only JPEG and PNG, of a bounded size, every error a ValueError -----------
def _png_declaring(width, height):
    """A small PNG whose header declares ``width`` x ``height`` grey pixels."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(64))) + chunk(b"IEND", b""))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side, match", [
    (12_000, "declares 12000 x 12000 pixels, more than the 16777216"),
    (20_000, "declares 20000 x 20000 pixels|DecompressionBombError"),  # Pillow refuses first
])
def test_declared_size_is_checked_before_decoding(home, traced_memory, side, match):
    # Before: a 17 KB PNG of 12,000 x 12,000 pixels was decoded (550 MB); one of
    # 20,000 x 20,000 raised Pillow's bare DecompressionBombError, naming no file.
    path = home / "fruits-360" / "Test" / "Kiwi" / "huge.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(_png_declaring(side, side))
    assert path.stat().st_size < 1000
    with traced_memory() as trace, pytest.raises(ValueError, match=match) as info:
        load_fruits360(home, subset="test", classes=["Kiwi"])
    assert str(path) in str(info.value) and trace.peak < 20 << 20


def test_max_image_pixels_is_the_bound(home, monkeypatch):
    monkeypatch.setattr(fruits_module, "MAX_IMAGE_PIXELS", 12 * 12 - 1)
    with pytest.raises(ValueError, match="declares 12 x 12 pixels, more than the 143"):
        load_fruits360(home, subset="test")
    monkeypatch.setattr(fruits_module, "MAX_IMAGE_PIXELS", 12 * 12)
    assert load_fruits360(home, subset="test").images.shape == (3, 12, 12, 3)


@pytest.mark.parametrize("fmt", ["EPS", "TIFF", "GIF", "BMP"])
def test_only_jpeg_and_png_are_decoded(home, monkeypatch, fmt):
    # Before: whatever Pillow recognised was decoded, e.g. an EPS file named .jpg
    # through Ghostscript where installed.
    from PIL import EpsImagePlugin

    def no_ghostscript(*args, **kwargs):
        raise AssertionError("the EPS decoder was used")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", no_ghostscript)
    path = home / "fruits-360" / "Test" / "Banana" / "0_100.jpg"
    if fmt == "EPS":
        path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 12 12\n"
                         b"0 0 moveto 12 12 lineto stroke\nshowpage\n")
    else:
        Image.new("RGB", (12, 12)).save(path, format=fmt)
    with pytest.raises(ValueError, match="not a JPEG or PNG image") as info:
        load_fruits360(home, subset="test")
    assert str(path) in str(info.value)


def _valid_png(side=4):
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@settings(settings.get_profile("loaders"))
@given(
    base=st.sampled_from(["png", "jpeg", "declared", "random"]),
    side=st.sampled_from([0, 1, 12, 4097, 30_000, 2**31 - 1]),
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(1, 255)), max_size=4),
    cut=st.sampled_from([None, 8, 20, 33, 60]),
    name=st.sampled_from(["a.jpg", "a.png", "a.jpeg"]),
)
def test_any_image_file_loads_or_raises_a_value_error_naming_it(
    tmp_path_factory, traced_memory, base, side, flips, cut, name
):
    # The property that would have found the bare DecompressionBombError: whatever the
    # bytes, a ValueError naming the file or an image, at a bounded cost.
    home = tmp_path_factory.mktemp("fuzz")
    folder = home / "fruits-360" / "Training" / "Kiwi"
    folder.mkdir(parents=True)
    (home / "fruits-360" / "Test").mkdir()
    if base == "png":
        data = _valid_png()
    elif base == "jpeg":
        buffer = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buffer, format="JPEG")
        data = buffer.getvalue()
    elif base == "declared":
        data = _png_declaring(side, max(side, 1))
    else:
        data = bytes(np.random.default_rng(side).integers(0, 256, 64, dtype=np.uint8))
    data = bytearray(data[:cut])
    for where, value in flips:
        if where < len(data):
            data[where] ^= value
    path = folder / name
    path.write_bytes(bytes(data))
    with traced_memory() as trace:
        try:
            bunch = load_fruits360(home, image_size=4)
        except ValueError as exc:
            assert str(path) in str(exc)
        else:
            assert bunch.images.shape == (1, 4, 4, 3)
    assert trace.peak < 60 << 20
