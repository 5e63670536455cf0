"""Clips per second of vbench's test pipeline against decoding the same frames with PyAV alone.

    PYTHONPATH=. python benchmarks/data_pipeline.py               # writes its own videos in a temp folder
    PYTHONPATH=. python benchmarks/data_pipeline.py --videos DIR  # or times your videos (*.avi, *.mp4, *.webm)

For each video and protocol, three runs are interleaved and their medians reported:
- "PyAV alone": open the file, decode every frame in order up to the last wanted one,
  convert the wanted ones to RGB arrays (what a loader without seeking does);
- "vbench decode": vbench's reader (packet scan, then seek + decode only what is needed);
- "vbench pipeline": a full ``VideoDataset`` item (decode, sample, resize, crops,
  normalise), i.e. what ``vbench eval`` consumes on the CPU;
- "views on device": the same item with ``deferred_views`` (decode, sample, resize; the
  views are cut and normalised by the GPU after the copy, ``DeferredViews.materialise``),
  what ``vbench eval`` consumes on a GPU.
The generated videos imitate UCF101 (320x240 MPEG-4 AVI, 25 fps, 7 s) and Kinetics
(340x256 H.264 MP4, 25 fps, 10 s, x264's default keyframe interval of 250).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vbench.data import VideoDataset, VideoRecord, resolve_views
from vbench.data.decoding import PyAVReader
from vbench.data.memory import keep_freed_memory
from vbench.data.records import DatasetIndex


def write_realistic_video(path: Path, num_frames: int, size: tuple[int, int], codec: str, seed: int) -> None:
    """Textured content that moves (so the codec has work), not flat test bars."""
    import av

    rng = np.random.default_rng(seed)
    w, h = size
    texture = rng.integers(0, 256, size=(h // 4 + 64, w // 4 + 64, 3), dtype=np.uint8)
    texture = np.kron(texture, np.ones((4, 4, 1), dtype=np.uint8))
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if codec == "mpeg4":
            stream.codec_context.bit_rate, stream.codec_context.gop_size = 1_500_000, 12
        for i in range(num_frames):
            y, x = int(40 + 30 * np.sin(i / 15)), (2 * i) % 200
            image = texture[y:y + h, x:x + w].copy()
            image[(i * 3) % h:(i * 3) % h + 40, 50:120] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def pyav_alone(path: str, indices: list[int]) -> list[np.ndarray]:
    import av

    wanted, last = set(indices), max(indices)
    frames = {}
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for position, frame in enumerate(container.decode(stream)):
            if position in wanted:
                frames[position] = frame.to_ndarray(format="rgb24")
            if position >= last:
                break
    return [frames[i] for i in indices]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, help="folder of videos to time (default: generated)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--presets", default="1x1,tsm-2x3,kinetics-10x3")
    parser.add_argument("--release-memory", action="store_true",
                        help="leave glibc's defaults (freed views go back to the system) instead of eval's setting")
    args = parser.parse_args()
    torch.set_num_threads(1)
    kept = False if args.release_memory else keep_freed_memory()  # as `vbench eval` does
    with tempfile.TemporaryDirectory() as scratch:
        if args.videos:
            paths = sorted(p for p in args.videos.rglob("*") if p.suffix in (".avi", ".mp4", ".webm", ".mkv"))
            groups = {"your videos": paths}
        else:
            print("writing test videos ...", flush=True)
            groups = {"UCF101-like 320x240 mpeg4 avi, 175 frames": [], "Kinetics-like 340x256 h264 mp4, 250 frames": []}
            for i in range(4):
                ucf, kin = Path(scratch) / f"u{i}.avi", Path(scratch) / f"k{i}.mp4"
                write_realistic_video(ucf, 175, (320, 240), "mpeg4", i)
                write_realistic_video(kin, 250, (340, 256), "libx264", i)
                groups["UCF101-like 320x240 mpeg4 avi, 175 frames"].append(ucf)
                groups["Kinetics-like 340x256 h264 mp4, 250 frames"].append(kin)
        print(f"torch threads 1; PyAV alone decodes with frame threads (AUTO); {args.repeats} interleaved repeats, "
              f"medians; clips/s = videos/s with all views of a video; freed memory kept for reuse: {kept}")
        print(f"{'videos':44s} {'protocol':14s} {'views':>5s} {'PyAV alone':>11s} {'vbench decode':>14s} "
              f"{'vbench pipeline':>16s} {'views on device':>15s}")
        for group, paths in groups.items():
            records = [VideoRecord(id=p.stem, label=0, path=str(p)) for p in paths]
            index = DatasetIndex("bench", "", None, "test", ["x"], records)
            for preset in args.presets.split(","):
                dataset = VideoDataset(index, resolve_views(preset))
                deferred = VideoDataset(index, resolve_views(preset), deferred_views=True)
                plans = []
                for i, record in enumerate(records):
                    n = PyAVReader(record.path).num_frames
                    plans.append(sorted({f for clip in dataset.clip_indices(i, n) for f in clip}))
                times = {"alone": [], "decode": [], "pipeline": [], "deferred": []}
                for _ in range(args.repeats):
                    for name in times:
                        start = time.perf_counter()
                        for i, record in enumerate(records):
                            if name == "alone":
                                pyav_alone(record.path, plans[i])
                            elif name == "decode":
                                reader = PyAVReader(record.path)
                                reader.get(plans[i])
                                reader.close()
                            else:
                                assert (dataset if name == "pipeline" else deferred)[i]["video"] is not None
                        times[name].append(len(records) / (time.perf_counter() - start))
                rates = {k: statistics.median(v) for k, v in times.items()}
                print(f"{group:44s} {preset:14s} {dataset.views.views:5d} {rates['alone']:11.1f} "
                      f"{rates['decode']:14.1f} {rates['pipeline']:16.1f} {rates['deferred']:15.1f}", flush=True)


if __name__ == "__main__":
    main()
