"""numba kernels cached on disk by their module's content (the DMM's sampler,
:mod:`pipeline.text.gsdmm`; LDA's E-step, :mod:`pipeline.text.ldavb`).

numba's own locators key a cache by the source file's path and mtime, which every fresh clone
changes, so each clone compiled again. :class:`ContentCacheLocator` keys it by the module's
content instead, in the machine's cache (:func:`pipeline.core.machine.machine_cache_dir`:
``~/.cache/pipeline/numba``), outside the project and no stage's dependency: the kernels are
compiled once per machine and module version (by the set-up's first run), and a fresh clone's
stage loads them. numba's index still checks the numba version, the CPU and the signatures.
The code and the results are the same either way.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

from pipeline.core.machine import machine_cache_dir

_MODULES: dict[str, tuple[str, ...]] = {}    # the files whose kernels this locator caches: the files they call into


class ContentCacheLocator(numba.core.caching._CacheLocator):
    """numba's cache of a registered module's kernels, found by the module's content."""

    def __init__(self, py_func, py_file):
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(machine_cache_dir("numba"))
        digest = hashlib.sha256()
        for f in (os.path.abspath(py_file), *_MODULES[os.path.abspath(py_file)]):
            digest.update(Path(f).read_bytes())
        self._stamp = digest.hexdigest()

    def get_cache_path(self) -> str:
        return self._cache_path

    def get_source_stamp(self) -> str:
        return self._stamp

    def get_disambiguator(self) -> str:
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.path.abspath(py_file) not in _MODULES:
            return None
        self = cls(py_func, py_file)
        try:
            self.ensure_cache_path()
        except OSError:          # not writable: numba's own locators (or no cache) instead
            return None
        return self


if ContentCacheLocator not in numba.core.caching.CacheImpl._locator_classes:
    numba.core.caching.CacheImpl._locator_classes.insert(0, ContentCacheLocator)


def jit_for(module_file: str, uses: tuple[str, ...] = ()):
    """The decorator of a module's kernels (``_jit = jit_for(__file__)``): compiled without the
    GIL and cached by the module's content and that of the modules ``uses`` whose kernels they
    call (compiled into them: a change there must compile them again)."""
    _MODULES[os.path.abspath(module_file)] = tuple(os.path.abspath(u) for u in uses)
    return numba.njit(cache=True, nogil=True)
