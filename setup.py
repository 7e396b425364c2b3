"""Build hook for the two optional C extensions; the project's metadata lives in pyproject.toml.

``dis_audit._fastprobe`` reads the headers of well-formed JPEG and PNG files faster than the
Python code in ``dis_audit.probe``, with the same results; ``dis_audit._fastpixels`` computes the
deep scan's pixel measures (blur lines, mask statistics, mask–image agreement) with the same values
as their numpy definitions. Both are optional: where no C compiler or Python headers are available
the build skips them with a warning, and the scan runs the Python code alone.
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("dis_audit._fastprobe", ["dis_audit/_fastprobe.c"], optional=True),
    Extension(
        "dis_audit._fastpixels",
        ["dis_audit/_fastpixels.c", "dis_audit/_fastpixels_mask.c", "dis_audit/_fastpixels_contrast.c",
         "dis_audit/_fastpixels_reduce.c"],
        depends=["dis_audit/_fastpixels.h"], optional=True,
    ),
])
