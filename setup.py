"""Build shim: the metadata and options live in setup.cfg; the package is pure Python."""

from setuptools import setup

setup()
