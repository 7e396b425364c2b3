"""Build hook for the one optional C extension; the project's metadata lives in pyproject.toml.

``dis_audit._fastprobe`` reads the headers of well-formed JPEG and PNG files faster than the
Python code in ``dis_audit.probe``, with the same results. It is optional: where no C compiler
or Python headers are available the build skips it with a warning, and the scan runs the
Python code alone.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("dis_audit._fastprobe", ["dis_audit/_fastprobe.c"], optional=True)])
