"""Build shim: the metadata lives in setup.cfg; this file only adds the optional C encoder.

``post_office._speedups`` is the DATA encoder's inner loop in C (see post_office/wire.py).
It is optional: without a C compiler the build skips it with a warning and the package
runs on its pure-Python encoder, which gives the same bytes.  Set POST_OFFICE_PURE_PYTHON=1
to skip it on purpose.
"""

import os

from setuptools import Extension, setup

SPEEDUPS = Extension("post_office._speedups", ["post_office/_speedups.c"], optional=True)

setup(ext_modules=[] if os.environ.get("POST_OFFICE_PURE_PYTHON") else [SPEEDUPS])
