"""Declares the C extension zenoo_retry._core; all metadata lives in pyproject.toml.

Environment knobs (used by scripts/, not needed by users):
  ZR_WERROR=1     add -Werror (the test build)
  ZR_SANITIZE=1   build with AddressSanitizer + UndefinedBehaviorSanitizer
  ZR_DEBUG=1      -O0 -g
"""
import os
from glob import glob

from setuptools import Extension, setup

sources = sorted(glob("src/core/*.c")) + sorted(glob("src/module/*.c"))
cflags = ["-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]
ldflags = []
if os.environ.get("ZR_WERROR") == "1":
    cflags.append("-Werror")
if os.environ.get("ZR_DEBUG") == "1":
    cflags += ["-O0", "-g"]
else:
    cflags += ["-O3"]
if os.environ.get("ZR_SANITIZE") == "1":
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
    cflags += san + ["-g"]
    ldflags += san

setup(
    ext_modules=[
        Extension(
            "zenoo_retry._core",
            sources=sources,
            include_dirs=["src"],
            depends=sorted(glob("src/core/*.h")) + sorted(glob("src/module/*.h")),
            extra_compile_args=cflags,
            extra_link_args=ldflags,
            libraries=["m"],
        )
    ],
)
