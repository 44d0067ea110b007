#!/bin/sh
# test_fresh.sh - the committed wsdl/*.wsdl and wsdl/*.xsd are exactly what
# wsdl/gen-wsdl.py writes from the contract tables today.
#
# The WSDL is generated, never edited: a hand edit (or a table change without
# a re-run) would make the served contract drift from the facts without the
# contract test noticing where it came from.  This re-runs the generator into
# a temporary directory and compares byte for byte.
#
# Environment (set by `make check`): PA_SRCDIR (project root), PA_SHARED (the
# shared directory with contract/).
set -u
srcdir=${PA_SRCDIR:-.}
shared=${PA_SHARED:-$srcdir/../shared}
python=${PYTHON:-python3}

if ! command -v "$python" >/dev/null 2>&1; then
  echo "test_fresh: $python not found (scripts/deps installs python3)" >&2
  exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pa-wsdl.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

if ! "$python" "$srcdir/wsdl/gen-wsdl.py" --contract "$shared/contract" --out "$tmp"; then
  echo "test_fresh: wsdl/gen-wsdl.py failed" >&2
  exit 1
fi
status=0
for f in serviceV3.wsdl serviceV2.wsdl powerAuthV3.xsd powerAuthV2.xsd; do
  if cmp -s "$tmp/$f" "$srcdir/wsdl/$f"; then
    echo "ok: wsdl/$f is what gen-wsdl.py writes"
  else
    echo "FAIL: wsdl/$f differs from gen-wsdl.py's output (first lines of the diff):"
    diff -u "$tmp/$f" "$srcdir/wsdl/$f" | head -40
    status=1
  fi
done
[ $status -eq 0 ] || echo "re-run: python3 wsdl/gen-wsdl.py --contract ../shared/contract --out wsdl"
exit $status
