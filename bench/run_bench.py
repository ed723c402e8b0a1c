"""The benchmarks, side by side in one run: `make bench` (or python bench/run_bench.py).

Contenders over the same files, same worker count:
  floor       decode every JPEG to grey at full size in a process pool, nothing else
  prototype   the seed's Make prototype: one Python process per metric per image, make -j N
  cleanvision CleanVision's property checks (skipped, with a note, when not installed)
  ours cold   image-quality extract into an empty warehouse
  ours re-run image-quality extract again, nothing changed / 1% of files changed (10,000 files)
  spark       image-quality extract --engine spark on local[N], cold; and a Spark session's start-up alone
  scoring     dbt's SQL scoring of 1,000,000 feature rows vs scikit-learn predict_proba in memory
Each figure is the median of --repeat runs; peak memory is the whole process tree's RSS.
The slow contenders (prototype, CleanVision) run on a subset and are compared per image.
"""

from __future__ import annotations

import argparse
import csv
import os
import pickle
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "extract"))

from harness import Measurement, machine_description, measure, run_measured  # noqa: E402
from make_images import write_set  # noqa: E402

PY = sys.executable
CLI = [PY, "-m", "image_quality.cli"]


def file_list(paths: list[Path], out: Path) -> Path:
    out.write_text("\n".join(str(p) for p in paths) + "\n")
    return out


def cached_set(root: Path, name: str, n: int, **kw) -> list[Path]:
    folder = root / name
    marker = folder / f".complete-{n}"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        t = time.perf_counter()
        write_set(folder, n, **kw)
        marker.touch()
        print(f"  made {name}: {n} images in {time.perf_counter() - t:.0f} s", flush=True)
    return sorted(folder.rglob("*.jpg"))


def prototype_model(path: Path) -> Path:
    """A GaussianNB over the seed's (vol, sob, fft), fitted on a small labelled demo set."""
    import cv2
    from sklearn.naive_bayes import GaussianNB

    from image_quality.lab.demo_data import write_demo_set

    demo = path.parent / "prototype_training"
    labels = write_demo_set(str(demo), n=30, seed=1)
    rows, y = [], []
    with open(labels, newline="") as fh:
        labelled = [(row["path"], row["label"]) for row in csv.DictReader(fh)]
    for name, label in labelled:
        grey = cv2.cvtColor(cv2.imread(str(demo / name)), cv2.COLOR_BGR2GRAY)
        f = np.fft.fftshift(np.fft.fft2(grey))
        h, w = grey.shape
        f[h // 2 - 60:h // 2 + 60, w // 2 - 60:w // 2 + 60] = 0
        rows.append([cv2.Laplacian(grey, cv2.CV_64F).var(), cv2.Sobel(grey, cv2.CV_64F, 0, 1).var(),
                     np.mean(20 * np.log(np.abs(np.fft.ifft2(f))))])
        y.append(label)
    path.write_bytes(pickle.dumps(GaussianNB().fit(np.array(rows), y)))
    return path


def bench_prototype(paths, work: Path, workers: int, repeat: int) -> Measurement:
    folder = work / "prototype_images"
    model = prototype_model(work / "prototype_model.pkl")

    def reset():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for p in paths:
            os.symlink(p, folder / p.name)

    env = dict(os.environ, PROTOTYPE_MODEL=str(model))
    command = ["make", "-s", "-f", str(HERE / "prototype" / "Makefile"), f"-j{workers}",
               f"IMAGES={folder}", f"PYTHON={PY}"]
    m = measure("seed prototype (make -j)", len(paths), command, repeat, before=reset, env=env)
    produced = len(list(folder.glob("*.cls")))
    if produced != len(paths):
        raise RuntimeError(f"the prototype classified {produced} of {len(paths)} images")
    return m


def bench_ours_cold(paths, folder: Path, work: Path, workers: int, repeat: int, name="ours: cold extract"):
    db = work / "cold.duckdb"

    def reset():
        for suffix in ("", ".wal"):
            Path(str(db) + suffix).unlink(missing_ok=True)

    return measure(name, len(paths), CLI + ["extract", str(folder), "--db", str(db), "--workers",
                                            str(workers), "--quiet"], repeat, before=reset)


def bench_spark_cold(paths, folder: Path, work: Path, workers: int, repeat: int):
    """The Spark engine's cold extract on local[workers], and the session start-up it includes, measured apart.

    Returns (extract, start-up) Measurements, or None with the reason when Spark cannot run here.
    """
    sys.path.insert(0, str(REPO / "extract"))
    from image_quality.engines.spark_session import SparkUnavailable, check_java, check_pyspark

    try:
        check_java()
        check_pyspark()
    except SparkUnavailable as exc:
        return None, str(exc)
    warehouse = work / "spark-warehouse"
    env = dict(os.environ, IMAGE_QUALITY_SPARK_WAREHOUSE=str(warehouse))
    master = f"local[{workers}]"

    def reset():
        shutil.rmtree(warehouse, ignore_errors=True)

    extract = measure(f"ours on Spark ({master}): cold extract", len(paths),
                      CLI + ["extract", str(folder), "--engine", "spark", "--spark-master", master, "--quiet"],
                      repeat, before=reset, env=env)
    start_only = ("import sys; from pathlib import Path; from image_quality.engines.spark_session import start_session; "
                  "start_session(sys.argv[1], Path(sys.argv[2])).stop()")
    startup = measure(f"Spark session start-up alone ({master})", len(paths),
                      [PY, "-c", start_only, master, str(warehouse)], repeat, before=reset, env=env)
    return (extract, startup), None


def bench_rerun(root: Path, work: Path, workers: int, repeat: int, n_files: int):
    """Re-runs over n_files small images: nothing changed, then 1% changed."""
    paths = cached_set(root, f"many_{n_files}", n_files, size=(320, 240), seed=3)
    folder = root / f"many_{n_files}"
    db = work / "rerun.duckdb"
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    command = CLI + ["extract", str(folder), "--db", str(db), "--workers", str(workers), "--quiet"]
    cold_wall, cold_rss = run_measured(command)
    cold = Measurement(f"ours: cold extract, {n_files} small files", n_files, [cold_wall], cold_rss)
    unchanged = measure(f"ours: re-run, nothing changed ({n_files} files)", n_files, command, repeat)
    rng = random.Random(11)
    changed_n = max(1, n_files // 100)
    counter = iter(range(10**9))

    def change_one_percent():
        import cv2

        for p in rng.sample(paths, changed_n):
            img = cv2.imread(str(p))
            img[0:8, 0:8] = next(counter) % 256  # new bytes, new content
            cv2.imwrite(str(p), img)

    changed = measure(f"ours: re-run, 1% changed ({changed_n} files)", n_files, command, repeat,
                      before=change_one_percent)
    return cold, unchanged, changed, changed_n


def bench_scoring(work: Path, repeat: int, rows: int):
    """dbt's scoring SQL over `rows` feature rows vs scikit-learn's predict_proba (see scoring_bench.py)."""
    script = HERE / "scoring_bench.py"
    if not (REPO / "dbt_project.yml").exists() or not script.exists():
        return None
    out = subprocess.run([PY, str(script), "--rows", str(rows), "--repeat", str(repeat),
                          "--work", str(work / "scoring")], capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        raise RuntimeError(f"scoring bench failed: {out.stderr[-2000:]}")
    return [line for line in out.stdout.splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=HERE / "out")
    parser.add_argument("--images", type=int, default=600, help="mixed-size set for throughput (and Spark)")
    parser.add_argument("--prototype-images", type=int, default=24)
    parser.add_argument("--cleanvision-images", type=int, default=100)
    parser.add_argument("--rerun-files", type=int, default=10_000)
    parser.add_argument("--memory-images", type=int, default=40, help="12 MP set; memory also at 10x this")
    parser.add_argument("--scoring-rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--spark-only", action="store_true",
                        help="only the local pool's cold extract and the Spark engine's, side by side")
    args = parser.parse_args()
    work = args.work
    root = work / "sets"
    root.mkdir(parents=True, exist_ok=True)
    w, r = args.workers, args.repeat
    print(f"machine: {machine_description()}", flush=True)
    print(f"date: {time.strftime('%Y-%m-%d')}, workers: {w}, runs per figure: {r} (median)\n", flush=True)

    print("image sets:", flush=True)
    mixed = cached_set(root, f"mixed_{args.images}", args.images, mix="mixed", seed=0)
    mixed_mp = np.mean([_megapixels(p) for p in mixed])
    mixed_list = file_list(mixed, work / "mixed.txt")

    print("running contenders:", flush=True)
    if args.spark_only:
        _spark_only(mixed, root / f"mixed_{args.images}", work, w, r)
        return
    floor = measure("decode floor (grey, full size)", len(mixed), [PY, str(HERE / "decode_floor.py"), str(w),
                                                                  str(mixed_list)], r)
    print(f"  floor {floor.wall:.2f} s", flush=True)
    ours = bench_ours_cold(mixed, root / f"mixed_{args.images}", work, w, r)
    print(f"  ours cold {ours.wall:.2f} s", flush=True)
    spark, spark_missing = bench_spark_cold(mixed, root / f"mixed_{args.images}", work, w, r)
    if spark:
        print(f"  spark cold {spark[0].wall:.2f} s, of which session start-up {spark[1].wall:.2f} s", flush=True)
    else:
        print(f"  spark: {spark_missing}; row skipped", flush=True)
    proto = bench_prototype(mixed[: args.prototype_images], work, w, r)
    print(f"  prototype {proto.wall:.2f} s for {proto.images}", flush=True)
    try:
        import cleanvision  # noqa: F401

        cv_paths = mixed[: args.cleanvision_images]
        cv = measure("CleanVision property checks", len(cv_paths),
                     [PY, str(HERE / "cleanvision_run.py"), str(w), str(file_list(cv_paths, work / "cv.txt"))], r)
        print(f"  cleanvision {cv.wall:.2f} s for {cv.images}", flush=True)
    except ImportError:
        cv = None
        print("  cleanvision: not installed (pip install '.[bench]'), row skipped", flush=True)

    cold_many, unchanged, changed, changed_n = bench_rerun(root, work, w, r, args.rerun_files)
    print(f"  re-runs: nothing changed {unchanged.wall:.2f} s, 1% changed {changed.wall:.2f} s", flush=True)

    phone_small = cached_set(root, f"phone_{args.memory_images}", args.memory_images, mix="phone", seed=5)
    phone_large = cached_set(root, f"phone_{args.memory_images * 10}", args.memory_images * 10, mix="phone", seed=6)
    mem_small = bench_ours_cold(phone_small, root / f"phone_{args.memory_images}", work, w, 1,
                                f"ours: cold extract, {len(phone_small)} x 12 MP")
    mem_large = bench_ours_cold(phone_large, root / f"phone_{args.memory_images * 10}", work, w, 1,
                                f"ours: cold extract, {len(phone_large)} x 12 MP")
    print(f"  memory: {mem_small.peak_rss_mb:.0f} MB / {mem_large.peak_rss_mb:.0f} MB", flush=True)
    scoring = bench_scoring(work, r, args.scoring_rows)

    # ---- the table ----
    lines = [f"Machine: {machine_description()}",
             f"Date: {time.strftime('%Y-%m-%d')}; workers: {w}; median of {r} runs; "
             f"mixed set: {len(mixed)} JPEGs, mean {mixed_mp:.1f} MP",
             "",
             "| contender | images | wall s | images/s | peak RSS MB | theirs / ours (per image) |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]

    def row(m: Measurement, ratio: str):
        lines.append(f"| {m.name} | {m.images} | {m.wall:.2f} | {m.images_per_s:.1f} | "
                     f"{m.peak_rss_mb:.0f} | {ratio} |")

    row(ours, "1.00")
    if spark:
        spark_extract, startup = spark
        spark_wall = spark_extract.wall - startup.wall
        row(spark_extract, f"{spark_extract.per_image_s / ours.per_image_s:.2f}")
        lines.append(f"| {startup.name} (included in the row above) | - | {startup.wall:.2f} | - | "
                     f"{startup.peak_rss_mb:.0f} | without it: {spark_wall / ours.wall:.2f} |")
    else:
        lines.append(f"| ours on Spark: cold extract | - | - | - | - | skipped: {spark_missing} |")
    row(floor, f"{floor.per_image_s / ours.per_image_s:.2f}")
    row(proto, f"{proto.per_image_s / ours.per_image_s:.0f}x")
    if cv:
        row(cv, f"{cv.per_image_s / ours.per_image_s:.1f}x")
    else:
        lines.append("| CleanVision property checks | - | - | - | - | not installed: `pip install '.[bench]'` |")
    row(cold_many, "")
    row(unchanged, "")
    row(changed, "")
    row(mem_small, "")
    row(mem_large, "")
    lines += ["", "Targets:",
              _target("cold extract >= 100x the seed prototype (per image)", proto.per_image_s / ours.per_image_s, 100, ">="),
              _target("cold extract >= 10x CleanVision (per image)",
                      cv.per_image_s / ours.per_image_s if cv else None, 10, ">="),
              _target("cold extract wall <= 1.5x the decode floor", ours.wall / floor.wall, 1.5, "<="),
              _target(f"re-run, nothing changed, {args.rerun_files} files: < 3 s wall", unchanged.wall, 3.0, "<"),
              _target("re-run, 1% changed: <= nothing-changed + the changed files' cold cost (ratio)",
                      changed.wall / (unchanged.wall + changed_n * cold_many.per_image_s), 1.0, "<="),
              _target("peak memory, 12 MP images, default workers: < 1000 MB",
                      max(mem_small.peak_rss_mb, mem_large.peak_rss_mb), 1000, "<"),
              _target("memory flat as images grow 10x (large / small peak RSS)",
                      mem_large.peak_rss_mb / mem_small.peak_rss_mb, 1.25, "<=")]
    if spark:
        per_core_ours = ours.images / ours.wall / w
        per_core_spark = spark_extract.images / spark_wall / w
        lines += [f"- images/s per core, cold extract: ours (local pool) {per_core_ours:.1f}, "
                  f"Spark on local[{w}] {per_core_spark:.1f} (session start-up excluded)",
                  _target(f"Spark on local[{w}] wall, start-up excluded, <= 1.5x the local pool's (aim 1.1x)",
                          spark_wall / ours.wall, 1.5, "<=")]
    if scoring:
        lines += [""] + scoring
    else:
        lines.append("- SQL scoring vs scikit-learn: skipped (no dbt project or bench/scoring_bench.py)")
    text = "\n".join(lines)
    print("\n" + text)
    (work / "results.md").write_text(text + "\n")


def _spark_only(mixed, folder: Path, work: Path, w: int, r: int) -> None:
    """The Spark rows alone: the local pool's cold extract and Spark's, measured alternately in one run."""
    ours = Measurement("ours: cold extract", len(mixed))
    spark_extract = startup = None
    for _ in range(r):
        one = bench_ours_cold(mixed, folder, work, w, 1)
        ours.walls += one.walls
        ours.peak_rss_mb = max(ours.peak_rss_mb, one.peak_rss_mb)
        spark, missing = bench_spark_cold(mixed, folder, work, w, 1)
        if not spark:
            print(f"  spark: {missing}")
            return
        if spark_extract is None:
            spark_extract, startup = spark
        else:
            spark_extract.walls += spark[0].walls
            startup.walls += spark[1].walls
            spark_extract.peak_rss_mb = max(spark_extract.peak_rss_mb, spark[0].peak_rss_mb)
        print(f"  ours {one.wall:.2f} s; spark {spark[0].wall:.2f} s, start-up {spark[1].wall:.2f} s", flush=True)
    spark_wall = spark_extract.wall - startup.wall
    print(f"\n| contender | images | wall s | images/s per core |\n| --- | ---: | ---: | ---: |")
    print(f"| {ours.name} | {ours.images} | {ours.wall:.2f} | {ours.images / ours.wall / w:.1f} |")
    print(f"| {spark_extract.name}, start-up excluded | {spark_extract.images} | {spark_wall:.2f} | "
          f"{spark_extract.images / spark_wall / w:.1f} |")
    print(f"| {startup.name} | - | {startup.wall:.2f} | - |")
    print(_target(f"Spark on local[{w}] wall, start-up excluded, <= 1.5x the local pool's (aim 1.1x)",
                  spark_wall / ours.wall, 1.5, "<="))


def _target(label: str, value, limit, op: str) -> str:
    if value is None:
        return f"- {label}: not measured"
    ok = {">=": value >= limit, "<=": value <= limit, "<": value < limit}[op]
    return f"- {label}: {value:.2f} ({'met' if ok else 'NOT met'}; target {op} {limit})"


def _megapixels(path: Path) -> float:
    from PIL import Image

    with Image.open(path) as img:
        return img.width * img.height / 1e6


if __name__ == "__main__":
    main()
