"""Run a REAL BiRefNet ``dataset.MyData`` over a data tree and print what it does with every image.

Runs in the oracle virtual environment (torch + torchvision + BiRefNet's imports; see
``.ci/oracle-venv.sh``), never in the project's own: it imports nothing from dis_audit.

    python birefnet_oracle.py CODEBASE IMAGE_DIR MASK_DIR DATA_ROOT TASK OUT.json DATASET [DATASET ...]

CODEBASE is a BiRefNet checkout (copied to a temp dir first: the shared copies are read-only).
Only config attributes are set. For each dataset the JSON holds either the labels of the
images MyData lists (``{"path": label}``, or ``{"path": "raise: ..."}`` where ``__getitem__``
raises), or ``init_error`` when building MyData raised; then ``culprits`` lists the images whose
mask MyData reported missing, and ``after_removal`` holds the outcome once those images are moved
away (what BiRefNet does with the rest of the data once the run-stopping files are fixed).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import re
import shutil
import sys
import tempfile


def _load(codebase: str):
    work = tempfile.mkdtemp(prefix="birefnet-oracle-")
    atexit.register(shutil.rmtree, work, True)  # one copy of the codebase per run: do not leave them in /tmp
    src = os.path.join(work, "code")
    shutil.copytree(codebase, src, ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))
    os.chdir(src)
    sys.path.insert(0, src)
    import dataset

    cfg = dataset.config
    cfg.auxiliary_classification = True
    cfg.load_all = False
    cfg.preproc_methods = []
    cfg.dynamic_size = None
    if hasattr(cfg, "background_color_synthesis"):
        cfg.background_color_synthesis = False
    return dataset, cfg


def _items(dataset, name: str, root: str) -> dict:
    ds = dataset.MyData(datasets=name, data_size=(32, 32), is_train=True)
    out = {}
    for i, path in enumerate(ds.image_paths):
        rel = os.path.relpath(path, root)
        try:
            item = ds[i]
            out[rel] = int(item[2])
        except Exception as exc:
            out[rel] = f"raise: {type(exc).__name__}: {exc}"[:300]
    return out


def main(argv: list[str]) -> int:
    codebase, image_dir_name, mask_dir_name, data_root, task, out_path, *names = argv
    dataset, cfg = _load(codebase)
    cfg.data_root_dir = data_root
    cfg.task = task
    root = os.path.join(data_root, task)
    result = {}
    for name in names:
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                result[name] = {"items": _items(dataset, name, root)}
            continue
        except Exception as exc:
            entry: dict = {"init_error": f"{type(exc).__name__}: {exc}"[:300]}
        # MyData prints 'Not exists: <mask path tried last>' for each image without a mask; the
        # images are those whose path, folder swapped and last extension cut, gives that prefix.
        prefixes = {m.group(1).rsplit(".", 1)[0] for m in re.finditer(r"Not exists: (.*)", printed.getvalue())}
        image_dir = os.path.join(root, name, image_dir_name)
        culprits = []
        with contextlib.suppress(OSError):
            for f in os.listdir(image_dir):
                q = os.path.join(image_dir, f).replace(f"/{image_dir_name}/", f"/{mask_dir_name}/")
                if q.rsplit(".", 1)[0] in prefixes:
                    culprits.append(os.path.relpath(os.path.join(image_dir, f), root))
        entry["culprits"] = sorted(set(culprits))
        if culprits:
            parked = tempfile.mkdtemp(prefix="parked-")
            for k, rel in enumerate(entry["culprits"]):
                shutil.move(os.path.join(root, rel), os.path.join(parked, str(k)))
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    entry["after_removal"] = _items(dataset, name, root)
            except Exception as exc:
                entry["after_removal_error"] = f"{type(exc).__name__}: {exc}"[:300]
            for k, rel in enumerate(entry["culprits"]):
                shutil.move(os.path.join(parked, str(k)), os.path.join(root, rel))
        result[name] = entry
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
