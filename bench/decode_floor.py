"""The decode floor: decode every JPEG to grey at full size, in a process pool, and nothing else.

Any extractor has to decode the pixels, so this is the floor it sits on. Same
worker count and start method as ours; start-up included in the wall time.
Usage: python bench/decode_floor.py WORKERS FILE_LIST
"""

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor


def decode_grey(path: str) -> int:
    import cv2

    cv2.setNumThreads(1)
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    return 0 if image is None else image.shape[0]


def main() -> None:
    workers = int(sys.argv[1])
    with open(sys.argv[2]) as f:
        paths = f.read().splitlines()
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        decoded = sum(1 for rows in pool.map(decode_grey, paths, chunksize=4) if rows)
    if decoded != len(paths):
        sys.exit(f"decoded {decoded} of {len(paths)}")


if __name__ == "__main__":
    main()
