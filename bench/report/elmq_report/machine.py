"""The machine a report ran on: CPU, SIMD, the build of elmq, library versions, load."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

#: /proc/cpuinfo flags that matter to elmq's kernels (quant/cpu_features.h) and to PyTorch.
_SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni",
               "avx_vnni")
_PYTHON_PACKAGES = ("numpy", "matplotlib", "jsonschema", "scikit-learn", "elmq")
_DEBIAN_PACKAGES = ("libeigen3-dev", "libopenblas0")


def describe(elmq_path: Path, elmq_version: str, torch_version: str | None,
             kernel_paths: list[str], load_at_start: list[float]) -> dict:
    """`kernel_paths`: the kernel paths the tools reported while the report ran (may be empty);
    `load_at_start`: os.getloadavg() when the run began (others' work skews timings)."""
    flags = _cpu_flags()
    simd = [f for f in _SIMD_FLAGS if f in flags]
    return {
        "cpu_model": _cpuinfo_field("model name") or platform.processor() or "unknown",
        "logical_cpus": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": _os_name(),
        "kernel": platform.release(),
        "simd_flags": simd,
        "simd_path": _simd_path(simd, kernel_paths),
        "load_average": {"at_start": load_at_start, "at_end": list(os.getloadavg())},
        "elmq": {"path": str(elmq_path), "version": elmq_version, **_build(elmq_path)},
        "versions": {"python": platform.python_version(), **_python_versions(),
                     "torch": torch_version, **_debian_versions()},
    }


def _cpuinfo_field(name: str) -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    m = re.search(rf"^{re.escape(name)}\s*:\s*(.*)$", text, re.MULTILINE)
    return m.group(1).strip() if m else None


def _cpu_flags() -> set[str]:
    return set((_cpuinfo_field("flags") or "").split())


def _simd_path(simd: list[str], reported: list[str]) -> dict:
    if reported:
        return {"path": ", ".join(sorted(set(reported))), "source": "reported by elmq"}
    flags = set(simd)
    best = "avx2" if {"avx2", "fma", "f16c"} <= flags else "scalar"
    # quant/cpu_features.cpp's choice, highest first
    if best == "avx2" and {"avx512f", "avx512bw", "avx512_vnni", "avx512_bf16"} <= flags:
        best = "avx512bf16"
    elif best == "avx2" and {"avx512f", "avx512bw", "avx512_vnni"} <= flags:
        best = "avx512vnni"
    elif best == "avx2" and "avx_vnni" in flags:
        best = "avxvnni"
    forced = os.environ.get("ELMQ_KERNEL_PATH")
    return {"path": best, "source": "inferred from /proc/cpuinfo (no elmq eval reported its "
                                    "kernel path)",
            "ELMQ_KERNEL_PATH": forced or "unset"}


def _memory_gib() -> float | None:
    try:
        m = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    except OSError:
        return None
    return round(int(m.group(1)) / 2**20, 1) if m else None


def _os_name() -> str:
    try:
        m = re.search(r'^PRETTY_NAME="?(.*?)"?$', Path("/etc/os-release").read_text(), re.MULTILINE)
    except OSError:
        m = None
    return m.group(1) if m else platform.platform()


def _build(elmq_path: Path) -> dict:
    """Build settings from the CMakeCache.txt of the build tree holding the executable."""
    cache = next((d / "CMakeCache.txt" for d in elmq_path.resolve().parents
                  if (d / "CMakeCache.txt").exists()), None)
    if cache is None:
        return {}
    values = dict(re.findall(r"^([A-Za-z_]+):[A-Z]+=(.*)$", cache.read_text(), re.MULTILINE))
    compiler = values.get("CMAKE_CXX_COMPILER", "")
    return {
        "build_type": values.get("CMAKE_BUILD_TYPE"),
        "ELMQ_NATIVE": values.get("ELMQ_NATIVE"),
        "ELMQ_USE_BLAS": values.get("ELMQ_USE_BLAS"),
        "compiler": _first_line([compiler, "--version"]) if compiler else None,
    }


def _first_line(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError:
        return None
    return done.stdout.splitlines()[0] if done.returncode == 0 and done.stdout else None


def _python_versions() -> dict:
    out: dict[str, str | None] = {}
    for name in _PYTHON_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _debian_versions() -> dict:
    return {name: _first_line(["dpkg-query", "-W", "-f", "${Version}\n", name])
            for name in _DEBIAN_PACKAGES}
