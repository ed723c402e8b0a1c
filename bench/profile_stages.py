"""Where one image's time goes: each stage of our extract beside the decode floor.

Runs in one process, one thread (as a pool worker does), over the same files:
read, hash, header, decode to grey at the analysis size, the steps families
share (Sobel gradients, the octave below, the histogram) and every metric
family, each timed on its own; then the floor's full-size grey decode
of the same file. Prints milliseconds per image per stage (mean over files)
and what the stages add up to against the floor.

Usage: python bench/profile_stages.py FILE_LIST [--limit N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "extract"))


def profile(paths: list[str]) -> dict[str, float]:
    """Mean seconds per image of each stage, in pipeline order, plus ``floor``."""
    import cv2
    import numpy as np

    from image_quality.decoding import AnalysisImage, decode, read_header
    from image_quality.measuring import content_hash
    from image_quality.metrics import all_families

    cv2.setNumThreads(1)
    families = all_families()
    totals: dict[str, float] = defaultdict(float)

    def timed(stage: str, fn, *args):
        t = time.perf_counter()
        value = fn(*args)
        totals[stage] += time.perf_counter() - t
        return value

    for path in paths:
        data = timed("read", Path(path).read_bytes)
        timed("sha256", content_hash, data)
        timed("header (Pillow)", read_header, data)  # decode() reads it again below; subtracted there
        image = timed("decode to grey + resize to analysis size", decode, data)
        image = AnalysisImage(image.header, image.grey, image.decoded_grey, image.is_jpeg)  # fresh caches: the shared steps timed alone
        timed("shared: Sobel gradients", lambda: image.sobel)
        timed("shared: one octave down (pyrDown)", lambda: image.coarse)
        timed("shared: grey histogram", lambda: image.grey_histogram)
        for family in families:
            timed(f"family: {family.name}", family.calculate, image)
        timed("floor: full-size grey decode", cv2.imdecode, np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    totals["decode to grey + resize to analysis size"] -= totals["header (Pillow)"]
    return {stage: seconds / len(paths) for stage, seconds in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file_list", type=Path)
    parser.add_argument("--limit", type=int, default=60)
    args = parser.parse_args()
    paths = args.file_list.read_text().splitlines()[: args.limit]
    profile(paths[:2])  # warm imports and caches
    stages = profile(paths)
    floor = stages.pop("floor: full-size grey decode")
    ours = sum(stages.values())
    print(f"per image, mean over {len(paths)} files, one thread:")
    print("| stage | ms per image | share of ours |")
    print("| --- | ---: | ---: |")
    for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"| {stage} | {seconds * 1e3:.1f} | {seconds / ours:.0%} |")
    print(f"| **ours, all stages** | **{ours * 1e3:.1f}** | 100% |")
    print(f"| decode floor (full-size grey) | {floor * 1e3:.1f} | ours / floor = {ours / floor:.2f} |")


if __name__ == "__main__":
    main()
