"""setup.py — only the cffi hook: the metadata is in pyproject.toml. The extension alim._alim
is built by alim_build.py (cffi API mode) against libalim (see that file for how it is found)."""
from setuptools import setup

setup(cffi_modules=["alim_build.py:ffibuilder"])
