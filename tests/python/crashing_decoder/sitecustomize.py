"""Test-only: an OpenCV decoder that dies on hostile bytes, as a decoder bug would.

A test puts this folder on PYTHONPATH of a real extract. Python imports
``sitecustomize`` when any interpreter starts, so it runs in the extract, in its
forkserver and in every pool worker. It wraps ``cv2.imdecode`` (OpenCV's code,
not ours) so that a buffer containing a marker kills the process from inside
the decode with a real signal:

* ``SEGFAULT-IN-THE-DECODER``: SIGSEGV, as a decoder overrunning a buffer;
* ``OOM-KILL-IN-THE-DECODER``: SIGKILL, as the kernel's OOM killer.

Any other bytes decode as usual. Nothing in image_quality knows of this.
"""

import os
import signal

MARKERS = {b"SEGFAULT-IN-THE-DECODER": signal.SIGSEGV, b"OOM-KILL-IN-THE-DECODER": signal.SIGKILL}


def _install() -> None:
    import cv2

    real_imdecode = cv2.imdecode

    def imdecode(buf, flags, *args, **kwargs):
        data = bytes(memoryview(buf))
        for marker, signum in MARKERS.items():
            if marker in data:
                os.kill(os.getpid(), signum)
        return real_imdecode(buf, flags, *args, **kwargs)

    cv2.imdecode = imdecode


_install()
