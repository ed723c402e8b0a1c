"""CleanVision's property checks over a file list (the checks that compare to our metrics).

Usage: python bench/cleanvision_run.py WORKERS FILE_LIST
"""

import sys


def main() -> None:
    from cleanvision import Imagelab

    workers = int(sys.argv[1])
    with open(sys.argv[2]) as f:
        paths = f.read().splitlines()
    lab = Imagelab(filepaths=paths)
    issue_types = {name: {} for name in ("blurry", "dark", "light", "low_information",
                                         "odd_aspect_ratio", "odd_size", "grayscale")}
    lab.find_issues(issue_types, n_jobs=workers, verbose=False)
    if len(lab.issues) != len(paths):
        sys.exit(f"cleanvision reported {len(lab.issues)} of {len(paths)} images")


if __name__ == "__main__":
    main()
