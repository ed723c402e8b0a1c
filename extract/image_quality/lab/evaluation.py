"""How well labels are predicted: accuracy, per-class accuracy and AUC, the confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Evaluation:
    classes: list[str]
    accuracy: float
    accuracy_by_class: dict[str, float]
    auc_by_class: dict[str, float]        # one class against the rest
    confusion: list[list[int]]            # rows: true class, columns: predicted class
    n: int

    @classmethod
    def from_probabilities(cls, y_true: list[str], proba: np.ndarray, classes: list[str]) -> "Evaluation":
        from sklearn.metrics import confusion_matrix, roc_auc_score

        y = np.array([str(v) for v in y_true])
        predicted = np.array(classes)[np.argmax(proba, axis=1)]  # ties to the first class
        auc = {}
        for j, c in enumerate(classes):
            positive = y == c
            auc[c] = float(roc_auc_score(positive, proba[:, j])) if 0 < positive.sum() < len(y) else float("nan")
        by_class = {c: float((predicted[y == c] == c).mean()) if (y == c).any() else float("nan")
                    for c in classes}
        matrix = confusion_matrix(y, predicted, labels=classes).tolist()
        return cls(classes, float((predicted == y).mean()), by_class, auc, matrix, len(y))

    def markdown_lines(self) -> list[str]:
        lines = [f"Three-class accuracy: **{self.accuracy:.3f}** over {self.n} images.", "",
                 "| class | accuracy | AUC (one vs rest) |", "| --- | ---: | ---: |"]
        lines += [f"| {c} | {self.accuracy_by_class[c]:.3f} | {self.auc_by_class[c]:.3f} |" for c in self.classes]
        lines += ["", "Confusion matrix (rows: true class, columns: predicted):", "",
                  "| true class | " + " | ".join(self.classes) + " |",
                  "| --- | " + " | ".join("---:" for _ in self.classes) + " |"]
        lines += [f"| {c} | " + " | ".join(str(v) for v in row) + " |" for c, row in zip(self.classes, self.confusion)]
        return lines

    def text_lines(self) -> list[str]:
        width = max(len(c) for c in self.classes) + 2
        lines = [f"accuracy {self.accuracy:.3f} over {self.n} images",
                 "class".ljust(width) + "accuracy  AUC (one vs rest)"]
        lines += [c.ljust(width) + f"{self.accuracy_by_class[c]:8.3f}  {self.auc_by_class[c]:.3f}" for c in self.classes]
        lines += ["confusion (rows true, columns predicted):", " " * width + "".join(c.rjust(width) for c in self.classes)]
        lines += [c.ljust(width) + "".join(str(v).rjust(width) for v in row) for c, row in zip(self.classes, self.confusion)]
        return lines
