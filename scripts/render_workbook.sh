#!/usr/bin/env bash
# Renders an export workbook (results.xlsx) through LibreOffice to PNG, to look at it as a reader would.
#   scripts/render_workbook.sh runs/export/<name>/<key>/results.xlsx [OUTDIR]
# Writes OUTDIR/screen-<sheet>-<n>.png (the first PAGES=4 pages of each sheet at 100% on A3 landscape: cells, wraps
# and row heights at their true size, as a screen shows them) and OUTDIR/print-<n>.png (every page as the
# workbook's own print setup prints it: landscape, fit to width, header repeated). LibreOffice 7.4's PNG
# filter cannot export a chosen sheet headless, so both go through PDF. Needs LibreOffice Calc (apt-get install -y libreoffice-calc) and pdftoppm
# (poppler-utils); neither is a dependency of coderig or of CI. Exit 2 when one is missing.
set -euo pipefail
if [ $# -lt 1 ] || [ ! -f "$1" ]; then echo "usage: scripts/render_workbook.sh WORKBOOK.xlsx [OUTDIR]" >&2; exit 2; fi
# Paths as the caller gave them (relative to the caller's directory), before moving to the repository.
xlsx=$(realpath "$1")
out=$(realpath -m "${2:-workbook-render}")
cd "$(dirname "$0")/.."
for tool in soffice pdftoppm; do
  command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install -y libreoffice-calc poppler-utils" >&2; exit 2; }
done
PY=${PY:-.venv/bin/python}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A private LibreOffice profile: a running LibreOffice or a first-start dialog must not interfere.
lo=(soffice "-env:UserInstallation=file://$work/profile" --headless --norestore)

# One copy per sheet, that sheet alone, printed at 100% (not fit to width) on A3 landscape: its first page.
"$PY" - "$xlsx" "$work" <<'PYEOF'
import sys
from pathlib import Path

import openpyxl

src, work = Path(sys.argv[1]), Path(sys.argv[2])
names = openpyxl.load_workbook(src, read_only=True).sheetnames
for name in names:
    wb = openpyxl.load_workbook(src)
    for other in [n for n in names if n != name]:
        del wb[other]
    ws = wb[name]
    ws.sheet_properties.pageSetUpPr.fitToPage = False
    ws.page_setup.scale = 100
    ws.page_setup.paperSize = ws.PAPERSIZE_A3
    ws.page_setup.pageOrder = "overThenDown"  # pages 1, 2, 3: across the columns first
    wb.save(work / f"screen-{name.replace(' ', '_')}.xlsx")
PYEOF
"${lo[@]}" --convert-to pdf --outdir "$work" "$work"/screen-*.xlsx >/dev/null
for pdf in "$work"/screen-*.pdf; do
  base=$(basename "${pdf%.pdf}")
  pdftoppm -png -r 80 -f 1 -l "${PAGES:-4}" "$pdf" "$out/$base"  # the first pages: across, then down
done
# The printed form: every sheet, as its page setup says.
cp "$xlsx" "$work/print.xlsx"
"${lo[@]}" --convert-to pdf --outdir "$work" "$work/print.xlsx" >/dev/null
pdftoppm -png -r 60 "$work/print.pdf" "$out/print"
ls "$out"/*.png
