#!/usr/bin/env bash
# Set up the pinned environment in .venv and run the pipeline (`dvc repro`) on the demo study.
# Usage: bash scripts/repro.sh            (from the project root, on Debian with Python 3.11)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "error: $PY not found; install Python 3.11 (Debian: apt-get install python3.11)" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    # Debian splits venv out of the interpreter package.
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11-venv
      rm -rf .venv && "$PY" -m venv .venv
    else
      echo "error: '$PY -m venv' failed; install python3.11-venv" >&2
      exit 2
    fi
  fi
fi
# The programs the print checks need, from Debian (tests/test_report_print.py: LibreOffice turns
# reports/report.docx into PDF pages; the HTML check drives Debian's Chromium; poppler-utils' pdftoppm
# renders pages to PNG for docs/; fonts-noto-cjk gives both the Chinese faces). Measured on Debian 12:
# about 45 s and 141 MB downloaded, 335 MB on disk for LibreOffice, the fonts and poppler-utils;
# chromium adds about 360 MB. Only what is missing is installed. Without root or apt-get it says what
# to install and goes on: the print tests then skip with that reason, and fail under CI=true.
install_system_checks() {
  local missing=() pkg
  # LibreOffice + fonts + poppler: the Word report printed to PDF (tests/test_report_print.py); Chromium: the
  # HTML report in a browser (tests/test_report_browser.py); TeX Live with ctex: every .tex table compiled
  # with xelatex (tests/test_latex.py). About 1 GB on disk, 3-4 minutes the first time.
  for pkg in libreoffice-writer-nogui fonts-noto-cjk poppler-utils chromium \
             texlive-xetex texlive-lang-chinese texlive-latex-extra texlive-science; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "note: not installed: ${missing[*]} (for the print, browser and LaTeX checks of the report);" \
         "as root on Debian: apt-get install ${missing[*]}" >&2
    return 0
  fi
  echo "installing the print checks' programs: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${missing[@]}" \
    || echo "warning: apt-get install ${missing[*]} failed; the print checks will not run" >&2
}
install_system_checks

.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
export PATH="$PWD/.venv/bin:$PATH"
# Reproducible defaults for every stage (see README, "Determinism").
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0
# Python's bytecode (__pycache__/) is written beside the code: .dvcignore keeps it out of the
# stages' code dependencies and .gitignore out of git, and every later stage loads it instead of
# compiling the modules it imports again.
.venv/bin/dvc repro
