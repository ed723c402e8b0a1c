"""The Spark engine's discovery and planning at 1,000 / 10,000 / 100,000 files: the driver's memory stays flat.

`python bench/spark_scale.py` (part of `make bench`) writes a tree of small
generated files (100 folders; the bytes are not images: discovery and planning
never read them), then, for each size, runs in a fresh process a Spark session
on local[2], the engine's walk and plan (SparkRun.discover and .plan, the SQL
joins with the stat cache and the measured content) into an empty warehouse,
and counts the files the plan would read. It prints the peak resident memory
(VmHWM) of the driver's Python process and of its JVM (on local[N] the JVM is
the executor too, so it also holds the listing's checkpoint and the plan's
shuffles), and the wall time of the walk and the plan. Nothing is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "extract"))

SIZES = (1_000, 10_000, 100_000)
FOLDERS = 100


def make_tree(root: Path, n: int) -> Path:
    folder = root / f"files_{n}"
    marker = folder / f".complete-{n}"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    per_folder = max(1, n // FOLDERS)
    for i in range(n):
        sub = folder / f"d{i // per_folder:03d}"
        if i % per_folder == 0:
            sub.mkdir(parents=True, exist_ok=True)
        (sub / f"img_{i:06d}.jpg").write_bytes(i.to_bytes(4, "big") * 64)  # 256 bytes, distinct
    marker.touch()
    return folder


def _peak_kb(pid: int | str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _jvm_pid() -> int | None:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                ppid = int(stat[stat.rfind(")") + 2:].split()[1])
                if ppid == os.getpid() and "java" in Path(f"/proc/{entry.name}/comm").read_text():
                    return int(entry.name)
            except (OSError, ValueError, IndexError):
                continue
    return None


def child(folder: Path, warehouse: Path, master: str) -> None:
    from image_quality.engines import spark_tables as tables
    from image_quality.engines.spark_extract import SparkRun
    from image_quality.engines.spark_session import start_session
    from image_quality.metrics import all_families
    from image_quality.sources.local import check_sources

    shutil.rmtree(warehouse, ignore_errors=True)
    spark = start_session(master, warehouse)
    try:
        families = all_families()
        tables.ensure_schema(spark, families)
        run = SparkRun(spark, 1, families, check_sources([str(folder)]))
        started = time.monotonic()
        run.discover()
        (scanned,) = spark.sql("select count(*) from discovered").first()
        walked = time.monotonic()
        run.plan(verify=False)
        (to_read,) = spark.sql("select count(*) from to_measure").first()
        planned = time.monotonic()
        print(json.dumps({"files": scanned, "to_read": to_read, "walk_s": walked - started,
                          "plan_s": planned - walked, "python_peak_mb": _peak_kb("self") / 1024,
                          "jvm_peak_mb": _peak_kb(_jvm_pid()) / 1024 if _jvm_pid() else None}))
    finally:
        spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=HERE / "out")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "WAREHOUSE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), args.master)
        return
    root = args.work / "sets"
    root.mkdir(parents=True, exist_ok=True)
    lines = ["| files listed | planned to read | walk s | plan s | driver Python peak MB | driver JVM peak MB |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n in args.sizes:
        t = time.monotonic()
        folder = make_tree(root, n)
        print(f"  tree of {n} files ready in {time.monotonic() - t:.0f} s", flush=True)
        out = subprocess.run([sys.executable, __file__, "--master", args.master, "--child", str(folder),
                              str(args.work / "scale-warehouse")], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-3000:])
        r = json.loads(out.stdout.strip().splitlines()[-1])
        lines.append(f"| {r['files']:,} | {r['to_read']:,} | {r['walk_s']:.1f} | {r['plan_s']:.1f} | "
                     f"{r['python_peak_mb']:.0f} | {r['jvm_peak_mb']:.0f} |")
        print("  " + lines[-1], flush=True)
    text = "\n".join(lines)
    print("\n" + text)
    (args.work / "spark_scale.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
