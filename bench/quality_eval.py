"""How good the quality model is, printed in one run (make quality).

0. The real set (image_quality.lab.real_photographs: camera photographs no one
   here made, kept outside the repository), leave-one-source-out: each source
   repository's photographs scored by a model of the shipped recipe (its
   features and transforms, fitted on the other sources' photographs, and on
   the training generator's images when training.FIT_ON_GENERATED_IMAGES) that
   saw none of them; beside it the other recipes' accuracy. Accuracy, recall per class and size
   band, confusion. When the set is absent this says so and goes on.
1. Leave-one-photo-out on the training generator's set (600 images, seed 0,
   every installed training photograph; what `make train` fits on when the
   real set is absent): each source photograph's images scored by a model fitted on
   all the others; three-class accuracy, per-class AUC, confusion matrix.
2. The shipped model (seeds/gaussian_nb_params.csv) applied by dbt to a
   separately generated set (another seed: other crops, sizes, strengths,
   moire mechanisms and JPEG qualities) through `image-quality evaluate`.
3. The shipped model applied by dbt to the validation generator's set
   (`image-quality validation-data`: other physics, some scenes never trained
   on; about 600 images, fixed seed): accuracy, recall per class and size
   band, confusion (image_quality.lab.validation_report; its markdown is written
   beside the printout as validation_generator.md).
With --model-card PATH the validation figures (3.) are appended to that model
card, as `make train` does after fitting.
Usage: python bench/quality_eval.py [--work DIR] [--n 600] [--holdout-n 150] [--holdout-seed 7]
                                    [--validation-n 600] [--validation-seed S] [--skip-generated]
                                    [--model-card docs/quality_model.md]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "extract"))
CLI = [sys.executable, "-m", "image_quality.cli"]


def run(*args: str) -> str:
    out = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(f"image-quality {args[0]} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "quality")
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--holdout-n", type=int, default=150)
    parser.add_argument("--holdout-seed", type=int, default=7)
    parser.add_argument("--validation-n", type=int, default=None)
    parser.add_argument("--validation-seed", type=int, default=None)
    parser.add_argument("--skip-generated", action="store_true",
                        help="only the validation generator's figures (3.), not 1. and 2.")
    parser.add_argument("--model-card", type=Path, help="append the validation figures to this model card")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    real = real_set_figures(args)
    if not args.skip_generated:
        training_generator_figures(args)
    validation_generator_figures(args)
    if args.model_card and real is not None:
        shipped_real, on_training_generator = real
        card = args.model_card.read_text().rstrip("\n")
        args.model_card.write_text(card + "\n\n## Where and when\n\n"
                                   f"Measured by `make train` on {_machine()}; the date is this file's last commit "
                                   "(`git log -1 docs/quality_model.md`): the card holds no date, so a rebuild is "
                                   "bit for bit.\n\n## On real photographs (leave-one-source-out)\n\n"
                                   "Camera photographs no one here made (`image_quality.lab.real_photographs`; "
                                   "kept outside the repository, most carry no licence).\n\n"
                                   + "\n".join(shipped_real.markdown_lines()) + "\n\n"
                                   "## On the training generator\n\n"
                                   f"The shipped model on the training generator's images (`image-quality demo-data "
                                   f"--n {args.n} --seed {args.seed} --photographs installed`), scikit-learn's "
                                   "predictions on the extracted features.\n\n"
                                   + "\n".join(on_training_generator.markdown_lines()) + "\n")


def _machine() -> str:
    """The processor model and core count, as /proc/cpuinfo and os.cpu_count say."""
    import os

    model = "an unknown processor"
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def real_set_figures(args):
    """Part 0; returns the shipped recipe's figures, or None when the set is absent."""
    from image_quality.lab import real_photographs
    from image_quality.lab.training import (DEFAULT_FEATURES, FIT_ON_GENERATED_IMAGES, read_features,
                                            read_labelled_groups, transform_features)

    root = real_photographs.locate(REPO)
    if root is None:
        print(f"0. real set: absent on this machine (set ${real_photographs.REALDEV_ENV}, or place it at "
              f"{REPO / real_photographs.DEFAULT_LOCATION}); its figures are skipped")
        return None
    photos = real_photographs.read_set(root)
    real_db = args.work / "real.duckdb"
    run("extract", str(root / "images"), "--db", str(real_db), "--quiet")
    train_dir, train_db = args.work / "train", args.work / "train.duckdb"
    if not train_db.exists():
        run("demo-data", str(train_dir), "--n", str(args.n), "--seed", str(args.seed), "--photographs", "installed")
        run("extract", str(train_dir), "--db", str(train_db), "--quiet")
    names, transforms = list(DEFAULT_FEATURES), list(DEFAULT_FEATURES.values())
    labelled = read_labelled_groups(str(train_dir / "labels.csv"))
    found = read_features(str(train_db), [p for p, _, _ in labelled], names)
    Xg = transform_features(np.array([found[p] for p, _, _ in labelled if p in found]), transforms)
    yg = np.array([label for p, label, _ in labelled if p in found], dtype=object)
    recipes = {"real": dict(generated=None), "real+generated": dict(generated=(Xg, yg)),
               "generated": dict(generated=(Xg, yg), use_real=False)}
    shipped_recipe = "real+generated" if FIT_ON_GENERATED_IMAGES else "real"
    figures = {name: real_photographs.real_set_figures(str(real_db), photos, dict(DEFAULT_FEATURES), **kwargs)
               for name, kwargs in recipes.items()}
    shipped = figures[shipped_recipe]
    print(f"0. the real set ({root}), leave-one-source-out, features {', '.join(names)}; "
          f"the shipped model's recipe:")
    print("\n".join("   " + line for line in shipped.text_lines()))
    for name, other in figures.items():
        if name != shipped_recipe:
            ev = other.evaluation
            print(f"   beside it, fitted on {other.fitted_on}: accuracy {ev.accuracy:.3f} ("
                  + ", ".join(f"{c} {ev.accuracy_by_class[c]:.2f}" for c in ev.classes) + ")")
    from image_quality.lab.evaluation import Evaluation
    from image_quality.lab.training import load_gaussian_nb

    model, _, _, _ = load_gaussian_nb(str(REPO / "seeds" / "gaussian_nb_params.csv"))
    classes = [str(c) for c in model.classes_]
    on_generator = Evaluation.from_probabilities(list(yg), model.predict_proba(Xg), classes)
    print(f"   the shipped model on the training generator's {len(yg)} images: accuracy {on_generator.accuracy:.3f} ("
          + ", ".join(f"{c} {on_generator.accuracy_by_class[c]:.2f}" for c in classes) + ")")
    return shipped, on_generator


def validation_generator_figures(args) -> None:
    from image_quality.lab.validation_report import VALIDATION_N, VALIDATION_SEED, validation_figures

    n = args.validation_n or VALIDATION_N
    seed = VALIDATION_SEED if args.validation_seed is None else args.validation_seed
    figures, markdown = validation_figures(args.work, n=n, seed=seed, project_dir=str(REPO))
    print(f"3. the shipped model applied by dbt to the validation generator's set ({figures.labelled} images, "
          f"seed {seed}; other physics, scenes of both splits):")
    print("\n".join("   " + line for line in figures.text_lines()))
    (args.work / "validation_generator.md").write_text(markdown)
    print(f"   (markdown: {args.work / 'validation_generator.md'})")
    if args.model_card:
        card = args.model_card.read_text().rstrip("\n")
        args.model_card.write_text(card + "\n\n## On the validation generator\n\n"
                                   "Images made by `image-quality validation-data` (docs/VALIDATION.md): other "
                                   "physics, ranges and scenes than the training generator's, never used to fit "
                                   "or choose the model; scored through `extract` and `dbt build`.\n\n" + markdown)


def training_generator_figures(args) -> None:
    from image_quality.lab.training import (DEFAULT_FEATURES, leave_one_group_out, read_features,
                                        read_labelled_groups, transform_features)

    train_dir, train_db = args.work / "train", args.work / "train.duckdb"
    if not train_db.exists():  # part 0 made it already when the real set is here
        run("demo-data", str(train_dir), "--n", str(args.n), "--seed", str(args.seed), "--photographs", "installed")
        run("extract", str(train_dir), "--db", str(train_db), "--quiet")
    labelled = read_labelled_groups(str(train_dir / "labels.csv"))
    names, transforms = list(DEFAULT_FEATURES), list(DEFAULT_FEATURES.values())
    found = read_features(str(train_db), [p for p, _, _ in labelled], names)
    X = transform_features(np.array([found[p] for p, _, _ in labelled]), transforms)
    y = np.array([label for _, label, _ in labelled], dtype=object)
    groups = np.array([g for _, _, g in labelled], dtype=object)
    result = leave_one_group_out(X, y, groups, sorted(set(y)))
    print(f"1. leave-one-photo-out, {len(y)} generated images (seed {args.seed}) from {len(set(groups))} photographs,"
          f" features {', '.join(names)}:")
    print("\n".join("   " + line for line in result.text_lines()))

    holdout_dir = args.work / "holdout"
    run("demo-data", str(holdout_dir), "--n", str(args.holdout_n), "--seed", str(args.holdout_seed))
    out = run("evaluate", "--labels", str(holdout_dir / "labels.csv"), "--db", str(args.work / "holdout.duckdb"),
              "--quiet")
    print(f"2. the shipped model applied by dbt to {args.holdout_n} images generated with seed {args.holdout_seed}:")
    print("\n".join("   " + line for line in out.strip().splitlines()))


if __name__ == "__main__":
    main()
