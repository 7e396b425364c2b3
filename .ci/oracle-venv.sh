#!/usr/bin/env bash
# The oracle environment for tests/test_birefnet_fidelity.py: a second venv, apart from the
# project's, in which BiRefNet's REAL code imports (torchvision from the registry needs the
# registry's torch 2.14.1 build, which cannot sit next to the project's CPU torch 2.13.0).
# Prints the venv's python on the last line. Reuses a venv that already imports everything.
# Measured: 10 min 10 s to create on the 2-core development VM (about 5.3 GB, mostly torch's
# CUDA libraries); a reused venv costs the import check only (a few seconds).
set -euo pipefail
VENV="${DIS_AUDIT_ORACLE_VENV:-$HOME/.cache/dis-audit/oracle-venv}"
PKGS=(
    torch==2.14.1 torchvision==0.29.1 opencv-python-headless==5.0.0.93 timm==1.0.31 kornia==0.9.0
    einops==0.8.2 prettytable==3.18.0 accelerate==1.15.0 colorama==0.4.6 PyYAML==6.0.4 tqdm==4.70.1
    scipy==1.17.1 scikit-image==0.26.0
    # dis_audit itself runs there too (on PYTHONPATH) for tests/test_birefnet_train.py: numpy and pillow
    # come with the above; these are the rest of what dis_audit.birefnet imports.
    pyarrow==26.0.1 rich==15.0.0
)
check() { "$VENV/bin/python" -c "import torch, torchvision, cv2, timm, kornia, einops, prettytable, accelerate, yaml, tqdm, scipy, skimage, pyarrow, rich" 2>/dev/null; }
if [ -x "$VENV/bin/python" ] && check; then
    echo "oracle venv reused: $VENV" >&2
else
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    start=$(date +%s)
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PKGS[@]}" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
    check || { echo "oracle venv $VENV does not import its packages" >&2; exit 1; }
    echo "oracle venv created in $(( $(date +%s) - start )) s: $VENV" >&2
fi
echo "$VENV/bin/python"
