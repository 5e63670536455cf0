"""Decoders return exactly the frames asked for; sampling and crops follow TSM's formulas."""

from fractions import Fraction

import numpy as np
import pytest
import torch
from videofiles import index_image, read_index, write_frames, write_video

from vbench.data import DecodeError, VideoRecord, open_reader
from vbench.data.decoding import PyAVReader
from vbench.data.sampling import dense_test, sample_clips, segment_test, segment_train
from vbench.data.transforms import crop_boxes, multiscale_box, resize_short_side, views_for_test


def _install_torchcodec(monkeypatch, decoder) -> None:
    """A stand-in ``torchcodec`` package whose VideoDecoder is ``decoder``."""
    import sys
    import types

    package = types.ModuleType("torchcodec")
    package.decoders = types.SimpleNamespace(VideoDecoder=decoder)
    monkeypatch.setitem(sys.modules, "torchcodec", package)
    monkeypatch.setitem(sys.modules, "torchcodec.decoders", package.decoders)


WANTED = [0, 3, 4, 17, 18, 30, 46, 49, 49, 12]  # unsorted, repeated, first and last


@pytest.mark.parametrize("suffix, options", [
    (".mp4", {}),  # H.264 with B-frames, scene-cut keyframes
    (".mp4", {"gop": 250}),  # one keyframe: every frame decoded forward from it
    (".avi", {}),  # MPEG-4 part 2 in AVI, as UCF101 and HMDB51
    (".webm", {}),  # VP9, as Something-Something V2
    (".mkv", {}),
    (".mp4", {"pts": [i * i + 3 * i for i in range(50)], "time_base": Fraction(1, 1000)}),  # variable frame rate
])
def test_pyav_gives_the_frames_asked_for(tmp_path, suffix, options):
    path = write_video(tmp_path / f"v{suffix}", 50, **options)
    reader = PyAVReader(str(path))
    assert reader.num_frames == 50
    assert [read_index(f) for f in reader.get(WANTED)] == WANTED
    assert reader._by_seeking(sorted(set(WANTED))) is not None  # the seeking path, not the fallback
    reader.close()


def test_avi_with_its_index_removed_still_gives_the_right_frames(tmp_path):
    path = write_video(tmp_path / "v.avi", 90, gop=30)
    broken = tmp_path / "broken.avi"
    broken.write_bytes(path.read_bytes().replace(b"idx1", b"JUNK"))
    reader = PyAVReader(str(broken))
    assert reader.num_frames == 90 and [read_index(f) for f in reader.get([5, 44, 45, 89])] == [5, 44, 45, 89]


def test_in_order_fallback_gives_the_same_frames(tmp_path):
    reader = PyAVReader(str(write_video(tmp_path / "v.mp4", 40)))
    reader._exact = False  # as for files whose timestamps cannot be trusted
    assert [read_index(f) for f in reader.get([39, 1, 20])] == [39, 1, 20]


@pytest.mark.parametrize("content, reason", [(b"", "empty file"), (b"\x00garbage" * 100, "cannot open")])
def test_unreadable_files_raise_a_short_decode_error(tmp_path, content, reason):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(DecodeError, match=reason) as info:
        PyAVReader(str(path))
    assert str(tmp_path) not in str(info.value)
    with pytest.raises(DecodeError, match="file not found"):
        open_reader(VideoRecord("x", 0, str(tmp_path / "absent.mp4")))


def test_frame_folders_any_common_naming(tmp_path):
    write_frames(tmp_path / "a", 9, template="img_{:05d}.jpg")
    write_frames(tmp_path / "b", 9, template="{:06d}.jpg", start=0)
    for folder in ("a", "b"):
        reader = open_reader(VideoRecord(folder, 0, str(tmp_path / folder)))
        assert reader.num_frames == 9 and [read_index(f) for f in reader.get([8, 0, 4])] == [8, 0, 4]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DecodeError, match="no frames"):
        open_reader(VideoRecord("e", 0, str(tmp_path / "empty")))


def test_segment_sampling_matches_tsm():
    # TSM _get_test_indices: int(tick / 2 + tick * x), 1-based there, 0-based here
    assert segment_test(20, 4) == [[2, 7, 12, 17]]
    assert segment_test(30, 8) == [[int(30 / 8 / 2 + 30 / 8 * k) for k in range(8)]]
    # twice_sample: the centres, then int(tick * x)
    assert segment_test(30, 8, clips=2)[1] == [int(30 / 8 * k) for k in range(8)]
    assert segment_test(3, 8) == [[0, 0, 0, 1, 1, 2, 2, 2]]  # short video: frames repeat
    rng = np.random.default_rng(0)
    for _ in range(50):
        draw = segment_train(37, 8, rng)
        assert all(4 * k <= i < 4 * k + 4 for k, i in enumerate(draw))  # one frame in each 37 // 8 segment
    assert segment_train(5, 8, rng) == [0, 0, 1, 1, 2, 3, 3, 4]


def test_dense_sampling_matches_tsm():
    # TSM dense test: 10 starts linspace(0, n - 64), stride 64 // T, wrapped modulo n
    clips = dense_test(300, 8, 8, 10)
    starts = np.linspace(0, 300 - 64, num=10, dtype=int)
    assert clips == [[int(s) + 8 * k for k in range(8)] for s in starts]
    assert dense_test(40, 8, 8, 2) == [[(8 * k) % 40 for k in range(8)]] * 2  # shorter than a clip: wraps
    draws = {tuple(sample_clips(300, frames=8, sampling="dense", interval=8, train=True,
                                rng=np.random.default_rng(s))[0]) for s in range(20)}
    assert len(draws) > 1 and all(d[-1] - d[0] == 56 for d in draws)


def test_crops_follow_tsm_offsets():
    assert crop_boxes(256, 341, 224, 1) == [(16, 58, False)]  # torchvision CenterCrop rounding
    # GroupFullResSample: left, right, centre at quarter steps of (341 - 256) // 4 = 21
    assert crop_boxes(256, 341, 256, 3) == [(0, 0, False), (0, 84, False), (0, 42, False)]
    assert crop_boxes(341, 256, 256, 3) == [(0, 0, False), (84, 0, False), (42, 0, False)]  # portrait: along height
    ten = crop_boxes(256, 341, 224, 10)
    assert len(ten) == 10 and ten[:2] == [(0, 0, False), (0, 0, True)] and ten[-1] == (16, 58, True)


def test_resize_short_side_like_torchvision_resize():
    frames = torch.zeros(2, 3, 240, 320, dtype=torch.uint8)
    assert resize_short_side(frames, 256).shape == (2, 3, 256, 341)
    assert resize_short_side(torch.zeros(1, 3, 320, 240, dtype=torch.uint8), 128).shape == (1, 3, 170, 128)


def test_ten_crop_views_are_mirrored_pairs():
    frames = np.stack([index_image(i, 80, 64) for i in range(3)])
    views = views_for_test(frames, [[0, 1, 2]], short_side=64, crop_size=48, crops=10)
    assert views.shape == (10, 3, 3, 48, 48)
    torch.testing.assert_close(views[1], views[0].flip(-1))


def test_multiscale_crop_sizes_are_tsm_pairs():
    rng = np.random.default_rng(0)
    sizes = {multiscale_box(256, 341, 224, rng)[2:] for _ in range(300)}
    allowed = {(h, w) for i, h in enumerate((256, 224, 192, 168)) for j, w in enumerate((256, 224, 192, 168))
               if abs(i - j) <= 1}
    assert sizes == allowed


def test_optional_decoders_plug_in(tmp_path, monkeypatch):
    """torchcodec's and decord's adapters, driven by stand-ins (neither is installed here)."""
    import sys
    import types

    class FakeTorchCodec:
        def __init__(self, path, seek_mode, dimension_order):
            assert (seek_mode, dimension_order) == ("exact", "NHWC")
            self._reader = PyAVReader(path)
            self.metadata = types.SimpleNamespace(num_frames=self._reader.num_frames)

        def get_frames_at(self, indices):
            return types.SimpleNamespace(data=torch.from_numpy(self._reader.get(indices)))

    _install_torchcodec(monkeypatch, FakeTorchCodec)
    path = write_video(tmp_path / "v.mp4", 20)
    reader = open_reader(VideoRecord("v", 0, str(path)), decoder="torchcodec")
    assert reader.num_frames == 20 and [read_index(f) for f in reader.get([19, 2])] == [19, 2]
    (tmp_path / "bad.mp4").write_bytes(b"x" * 64)
    with pytest.raises(DecodeError, match="cannot open"):
        open_reader(VideoRecord("b", 0, str(tmp_path / "bad.mp4")), decoder="torchcodec")
    monkeypatch.setitem(sys.modules, "decord", None)  # absent: one line saying how to install it
    with pytest.raises(Exception, match="pip install decord"):
        open_reader(VideoRecord("v", 0, str(path)), decoder="decord")


def test_errors_while_decoding_are_decode_errors_and_bad_frame_indices_are_not(tmp_path, monkeypatch):
    """A library's or the file system's error is the file's (DecodeError); an index outside the video is a bug."""
    import types

    class BrokenStream:
        def __init__(self, path, seek_mode, dimension_order):
            self.metadata = types.SimpleNamespace(num_frames=10)

        def get_frames_at(self, indices):
            raise RuntimeError("Could not decode packet at pts 3600")

    _install_torchcodec(monkeypatch, BrokenStream)
    path = write_video(tmp_path / "v.mp4", 6)
    library = open_reader(VideoRecord("v", 0, str(path)), decoder="torchcodec")
    with pytest.raises(DecodeError, match="^cannot decode: Could not decode packet at pts 3600$"):
        library.get([1, 2])
    with pytest.raises(IndexError, match="frame 10 of a 10-frame video"):
        library.get([1, 10])
    with pytest.raises(IndexError, match="frame -1 of a 6-frame video"):
        PyAVReader(str(path)).get([-1, 2])
    folder = open_reader(VideoRecord("f", 0, str(write_frames(tmp_path / "f", 5))))
    with pytest.raises(IndexError, match="frame 5 of a 5-frame video"):
        folder.get([0, 5])
    with pytest.raises(DecodeError, match="^cannot open: No such file or directory$"):
        PyAVReader(str(tmp_path / "gone.mp4"))
