"""arrowlists builds the same arrays as pa.array, and the header scan never imports pandas."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from dis_audit.arrowlists import ints_of, to_arrow, to_list

REPO = Path(__file__).resolve().parents[1]

CASES = [
    (["a", "bb", ""], pa.string()),
    (["a", None, "ü/ß#1", "日本"], pa.string()),
    ([None, None], pa.string()),
    (["only"], pa.string()),
    ([""], pa.string()),
    (["", ""], pa.string()),
    (["a\0b", "", "\0", None, "c"], pa.string()),  # NULs inside values: not taken for separators
    (["\0\0"], pa.string()),
    ([None, "x", None], pa.string()),
    (["DIS-TR/im/1#Accessories#1#Bag#2.jpg", "é" * 300, "x"], pa.string()),
    ([], pa.string()),
    ([1, None, -3, 2**31 - 1], pa.int32()),
    ([0, 2**63 - 1, None], pa.int64()),
    ([2**64 - 1, 0, None], pa.uint64()),
    ([0.25, None, float("nan"), 1e-9], pa.float32()),
    ([1, 2.5], pa.float64()),
    ([True, None, False], pa.bool_()),
    ([["DA101", "DA2"], [], None, ["ü"]], pa.list_(pa.string())),
    ([[], []], pa.list_(pa.string())),
    ([[None, "x"]], pa.list_(pa.string())),
    ([["a\0", ""], ["\0"], []], pa.list_(pa.string())),
    ([[], None, ()], pa.list_(pa.string())),  # every list empty, one null
    ([None, []], pa.list_(pa.string())),
    ([type("Codes", (list,), {})(["DA1"]), []], pa.list_(pa.string())),  # a list subclass
]


@pytest.mark.parametrize(("values", "type_"), CASES)
def test_to_arrow_equals_pa_array(values, type_):
    built = to_arrow(values, type_)
    expected = pa.array(values, type=type_)
    built.validate(full=True)
    assert built.type == expected.type
    assert built.null_count == expected.null_count
    assert built.to_pylist() == expected.to_pylist() or type_ == pa.float32()  # nan != nan
    assert built.equals(expected) or type_ == pa.float32()


def test_float32_nan_kept_as_value():
    built = to_arrow([float("nan"), None], pa.float32())
    assert built.null_count == 1 and np.isnan(built[0].as_py())


@pytest.mark.parametrize(
    ("values", "type_"),
    [([2**31], pa.int32()), ([-1], pa.uint64()), ([1, "x"], pa.int32()), ([1.5], pa.string()), (["\udcff"], pa.string())],
)
def test_values_that_do_not_fit_get_pyarrows_error(values, type_):
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, UnicodeEncodeError)):
        pa.array(values, type=type_)
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, UnicodeEncodeError)):
        to_arrow(values, type_)


def test_numpy_input_and_readers():
    mask = np.array([True, False, True, True, False, False, False, False, True])
    assert to_arrow(mask, pa.bool_()).to_pylist() == mask.tolist()
    column = pa.chunked_array([pa.array([1, 2], pa.int32()), pa.array([3], pa.int32())])
    assert ints_of(column).tolist() == [1, 2, 3]
    assert ints_of(column.combine_chunks().slice(1)).tolist() == [2, 3]
    nullable = pa.array([5, None, 7, None, 9, 10, 11, 12, None, 13], pa.int64()).slice(1)
    assert to_list(nullable) == nullable.to_pylist()
    assert to_list(pa.array(["a", None])) == ["a", None]
    with pytest.raises(ValueError):
        ints_of(nullable)


def test_header_scan_does_not_import_pandas(tmp_path):
    """Scan and --incremental by the CLI (text report, worker pool) leave pandas unloaded: 0.3-0.4 s a run."""
    root = REPO / "examples" / "dis-mini"
    code = (
        "import sys\n"
        "import dis_audit._pool as pool\n"
        "pool.PARALLEL_THRESHOLD = 1  # the forked workers too, on this small tree\n"
        "sys.argv = ['dis-audit', *sys.argv[1:]]\n"
        # main(), not the program (`python -m dis_audit`), which ends a scan with os._exit (cli.run).
        "from dis_audit.cli import main\n"
        "try:\n    main()\n"
        "except SystemExit:\n    pass\n"
        "print('PANDAS' if 'pandas' in sys.modules else 'NO-PANDAS')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    manifest = tmp_path / "m.parquet"
    for extra in ([], ["--incremental"]):
        out = subprocess.run(
            [sys.executable, "-c", code, "scan", str(root), "--manifest", str(manifest), "--workers", "2", *extra],
            capture_output=True, text=True, env=env, check=False,
        )
        assert manifest.is_file()
        assert out.stdout.strip().endswith("NO-PANDAS"), (extra, out.stdout[-500:], out.stderr[-2000:])
