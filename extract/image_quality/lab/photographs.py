"""The catalogue of source photographs, each with a stable name and a fixed split.

A labelled set is only as honest as its scenes: a model validated on images
cut from the photographs it was fitted on measures how well it remembers them.
So every photograph here is assigned once, in this file, to either the
``train`` scenes or the held-out ``validation`` scenes; validation scenes are
never to be used to fit or choose a model.

Sources, all real photographs (no drawings, renders or illustrations):

* shipped with our dependencies, always there: scikit-learn's two sample
  photographs and scikit-image's data photographs that need no download;
* shipped by Debian packages (desktop wallpapers, matplotlib's sample data),
  installed by ``make photographs`` (which ``make train`` and ``make quality``
  run), never needed by the tests. A photograph whose file is not installed
  is skipped.

``kind`` says what the scene is, so a generator can treat smooth content
(sky, skin, microscopy, astronomy, documents) as the hard case it is for blur
detection.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

SPLITS = ("train", "validation")
# Larger photographs are reduced to this long side (area averaging keeps them
# sharp): 12 MP is the largest size a generator makes, and it bounds memory.
MAX_LONG_SIDE = 4032
# The Debian packages the catalogue reads (the Makefile installs them).
DEBIAN_PACKAGES = ("lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04", "mate-backgrounds",
                   "plasma-workspace-wallpapers", "python-matplotlib-data")


@dataclass(frozen=True)
class Photograph:
    name: str            # stable, file-name safe: it goes into generated file names and labels.csv
    origin: str          # "scikit-learn", "scikit-image" or "debian:<package>"
    kind: str            # scene, texture, document, sky, skin, microscopy, fundus, astronomy
    split: str           # "train" or "validation"
    locate: Callable[[], object]   # -> a file path, or an array for photographs a library loads

    @property
    def shipped(self) -> bool:
        return not self.origin.startswith("debian:")

    def image(self) -> np.ndarray | None:
        """The photograph as BGR uint8 (long side at most MAX_LONG_SIDE), or None if not installed."""
        import cv2

        try:
            found = self.locate()
        except Exception:  # a library photo that needs a download, a missing package
            return None
        if found is None:
            return None
        if isinstance(found, str):
            img = cv2.imread(found, cv2.IMREAD_COLOR)
            if img is None:
                return None
        else:
            img = np.asarray(found)
            if img.dtype == bool:
                return None
            if img.ndim == 2:
                img = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_GRAY2BGR)
            else:
                img = cv2.cvtColor(img[:, :, :3].astype(np.uint8), cv2.COLOR_RGB2BGR)
        long_side = max(img.shape[:2])
        if long_side > MAX_LONG_SIDE:
            s = MAX_LONG_SIDE / long_side
            img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(img)

    def installed(self) -> bool:
        try:
            found = self.locate()
        except Exception:
            return False
        return found is not None and (not isinstance(found, str) or os.path.isfile(found))


def _sklearn(file_name: str):
    def locate():
        from sklearn.datasets import load_sample_image

        return load_sample_image(file_name)
    return locate


def _skimage(name: str):
    def locate():
        import skimage.data as data

        if name == "motorcycle":
            return data.stereo_motorcycle()[0]
        return getattr(data, name)()
    return locate


def _file(pattern: str):
    """The largest file matching ``pattern`` (wallpapers ship one file per screen size)."""
    def locate():
        matches = glob.glob(pattern)
        return max(matches, key=lambda p: (os.path.getsize(p), p)) if matches else None
    return locate


_BG = "/usr/share/backgrounds"
_PLASMA = "/usr/share/wallpapers/{}/contents/images/*.jpg"
_LOMIRI = "debian:lomiri-wallpapers"

# name, origin, kind, split, locate. The split is decided here once, by hand, so that
# each side has smooth content (sky, skin, microscopy, documents) and its own scenes.
# Left out on purpose: drawings and renders, and photographs that are mostly bokeh
# (a crop of them would be "sharp" by label and blurry to the eye).
CATALOGUE: tuple[Photograph, ...] = tuple(Photograph(*row) for row in (
    ("china", "scikit-learn", "scene", "train", _sklearn("china.jpg")),
    ("flower", "scikit-learn", "scene", "train", _sklearn("flower.jpg")),
    ("astronaut", "scikit-image", "skin", "train", _skimage("astronaut")),
    ("brick", "scikit-image", "texture", "train", _skimage("brick")),
    ("camera", "scikit-image", "scene", "train", _skimage("camera")),
    ("cell", "scikit-image", "microscopy", "train", _skimage("cell")),
    ("chelsea", "scikit-image", "scene", "train", _skimage("chelsea")),
    ("coffee", "scikit-image", "scene", "validation", _skimage("coffee")),
    ("coins", "scikit-image", "scene", "train", _skimage("coins")),
    ("grass", "scikit-image", "texture", "train", _skimage("grass")),
    ("gravel", "scikit-image", "texture", "validation", _skimage("gravel")),
    ("hubble_deep_field", "scikit-image", "astronomy", "train", _skimage("hubble_deep_field")),
    ("immunohistochemistry", "scikit-image", "microscopy", "validation", _skimage("immunohistochemistry")),
    ("moon", "scikit-image", "astronomy", "train", _skimage("moon")),
    ("motorcycle", "scikit-image", "scene", "train", _skimage("motorcycle")),
    ("page", "scikit-image", "document", "train", _skimage("page")),
    ("retina", "scikit-image", "fundus", "validation", _skimage("retina")),
    ("rocket", "scikit-image", "scene", "train", _skimage("rocket")),
    ("text", "scikit-image", "document", "validation", _skimage("text")),
    ("grace_hopper", "debian:python-matplotlib-data", "skin", "validation",
     _file("/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg")),
    ("bridge_sky", _LOMIRI, "sky", "validation", _file(f"{_BG}/Bridge_by_Sander_Klootwijk.jpg")),
    ("dragonfly_leaves", _LOMIRI, "scene", "train", _file(f"{_BG}/Dragonfly_by_Bolly.jpg")),
    ("fig_bowl", _LOMIRI, "scene", "train", _file(f"{_BG}/Picture_0B_by_freespace.jpg")),
    ("paint_brushes", _LOMIRI, "scene", "validation", _file(f"{_BG}/Picture_1A_by_freespace.jpg")),
    ("wine_room", _LOMIRI, "scene", "train", _file(f"{_BG}/Wine_by_Jakkub_Mede.jpg")),
    ("aitzgorri", _LOMIRI, "scene", "validation", _file(f"{_BG}/aitzgorri_by_Aitzol_Berasategi.jpg")),
    ("dogs_fence", _LOMIRI, "scene", "train", _file(f"{_BG}/friends_by_Aitzol_Berasategi.jpg")),
    ("forest_stream", _LOMIRI, "scene", "train", _file(f"{_BG}/life_by_Aitzol_Berasategi.jpg")),
    ("picos_de_europa", _LOMIRI, "scene", "validation", _file(f"{_BG}/picosdeeuropa_by_Aitzol_Berasategi.jpg")),
    ("sunset_hills", _LOMIRI, "sky", "train", _file(f"{_BG}/sunset_by_Aitzol_Berasategi.jpg")),
    ("dune", "debian:mate-backgrounds", "scene", "train", _file(f"{_BG}/mate/nature/Dune.jpg")),
    ("rain_drops", "debian:mate-backgrounds", "scene", "train", _file(f"{_BG}/mate/nature/RainDrops.jpg")),
    ("storm_sky", "debian:mate-backgrounds", "sky", "validation", _file(f"{_BG}/mate/nature/Storm.jpg")),
    ("wood", "debian:mate-backgrounds", "texture", "train", _file(f"{_BG}/mate/nature/Wood.jpg")),
    ("by_the_water", "debian:plasma-workspace-wallpapers", "scene", "train", _file(_PLASMA.format("BytheWater"))),
    ("cold_ripple", "debian:plasma-workspace-wallpapers", "sky", "validation", _file(_PLASMA.format("ColdRipple"))),
    ("colorful_cups", "debian:plasma-workspace-wallpapers", "scene", "train", _file(_PLASMA.format("ColorfulCups"))),
    ("darkest_hour", "debian:plasma-workspace-wallpapers", "sky", "train", _file(_PLASMA.format("DarkestHour"))),
    ("evening_glow", "debian:plasma-workspace-wallpapers", "scene", "validation", _file(_PLASMA.format("EveningGlow"))),
    ("grey_facade", "debian:plasma-workspace-wallpapers", "scene", "train", _file(_PLASMA.format("Grey"))),
    ("kite_sky", "debian:plasma-workspace-wallpapers", "sky", "train", _file(_PLASMA.format("Kite"))),
    ("moss", "debian:plasma-workspace-wallpapers", "texture", "validation", _file(_PLASMA.format("OneStandsOut"))),
    ("forest_path", "debian:plasma-workspace-wallpapers", "scene", "train", _file(_PLASMA.format("Path"))),
    ("summer_night_lake", "debian:plasma-workspace-wallpapers", "sky", "validation",
     _file(_PLASMA.format("summer_1am"))),
    ("beach_aerial", "debian:plasma-workspace-wallpapers", "scene", "train", _file(_PLASMA.format("Volna"))),
))


def catalogue(split: str = "all", *, shipped_only: bool = False) -> list[Photograph]:
    """The installed photographs of ``split`` ("train", "validation" or "all"), in catalogue order."""
    if split not in (*SPLITS, "all"):
        raise ValueError(f"split must be one of train, validation, all; not {split!r}")
    return [p for p in CATALOGUE
            if (split == "all" or p.split == split) and (p.shipped or not shipped_only) and p.installed()]


def photographs(split: str = "all", *, shipped_only: bool = False) -> list[tuple[str, np.ndarray]]:
    """(name, BGR uint8 image) for every installed photograph of ``split``; all are loaded at once."""
    found = []
    for photo in catalogue(split, shipped_only=shipped_only):
        img = photo.image()
        if img is not None:
            found.append((photo.name, img))
    return found


def split_of(name: str) -> str | None:
    """The split a photograph's name belongs to, or None for a name not in the catalogue."""
    return next((p.split for p in CATALOGUE if p.name == name), None)
