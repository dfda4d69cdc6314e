"""test_python_package.py — builds and installs the Python package python/ (cffi, API mode)
into this venv against the freshly built shared library, then runs its pytest suite
python/tests/ (every function against the alim program's --json output, bad input raising
alim.Error, Ctrl-C, threads). Run with the interpreter of scripts/pyvenv.sh (cffi, pytest).

The library and the program come from the build directory of $ALIM (default build/alim);
`make` builds libalim.so there. The package is built from a copy of python/ in a temporary
directory, so the checkout gets no build products. Prints
    test_python_package: N passed, N failed
from pytest's counts (errors and a failed install count as failures)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main():
    alim = os.path.abspath(os.environ.get("ALIM", os.path.join(ROOT, "build", "alim")))
    build = os.path.dirname(alim)
    tmp = tempfile.mkdtemp(prefix="alim-py-")
    try:
        src = os.path.join(tmp, "python")
        shutil.copytree(os.path.join(ROOT, "python"), src,
                        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.so"))
        env = dict(os.environ, ALIM_BUILD_DIR=build, ALIM_INCLUDE_DIR=os.path.join(ROOT, "include"), ALIM=alim,
                   PYTHONDONTWRITEBYTECODE="1")
        if not os.path.exists(os.path.join(build, "libalim.so")):
            print(f"no {build}/libalim.so: run `make` first")
            print("test_python_package: 0 passed, 1 failed")
            return 1
        # --no-build-isolation: setuptools, wheel and cffi come from the venv (no download)
        pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              "--no-build-isolation", "--no-deps", "--force-reinstall", src],
                             env=env, capture_output=True, text=True)
        if pip.returncode != 0:
            print(pip.stdout[-3000:], pip.stderr[-3000:])
            print("test_python_package: 0 passed, 1 failed")
            return 1
        # the tests import the installed package: run them from a directory without python/alim
        tests = os.path.join(tmp, "tests")
        shutil.copytree(os.path.join(src, "tests"), tests)
        env["ALIM_SOURCE_ROOT"] = ROOT
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "console_output_style=classic",
                            tests], env=env, cwd=tmp, capture_output=True, text=True)
        out = p.stdout + p.stderr
        print(out[-20000:])
        last = [ln for ln in out.splitlines() if re.search(r"\d+ (passed|failed|error)", ln)]
        counts = {k: 0 for k in ("passed", "failed", "error", "errors")}
        if last:
            for num, word in re.findall(r"(\d+) (passed|failed|errors?)", last[-1]):
                counts[word] += int(num)
        passed = counts["passed"]
        failed = counts["failed"] + counts["error"] + counts["errors"]
        if p.returncode != 0 and failed == 0:
            failed = 1
        if passed == 0 and failed == 0:
            failed = 1
        print(f"test_python_package: {passed} passed, {failed} failed")
        return 0 if failed == 0 else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
