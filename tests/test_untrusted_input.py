"""Files received from someone else (tables, run folders, latency and proxy folders, compare runs, result
stores, pickles) that are crafted or damaged are refused with one ``nasbench: error:`` line: no
traceback, no code run, no memory taken beyond what the file holds."""
from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Callable

import pytest

from nasbench_suite.cli import main
from tests.fixture_runs import few_runs_copy, figures_not_rendered

REPO = Path(__file__).resolve().parents[1]
DEEP = "[" * 100_000 + "]" * 100_000  # json.loads: RecursionError, not a ValueError
LONG = '{"schema_version": 1, "n": ' + "9" * 5000 + "}"  # json.loads: ValueError, not a JSONDecodeError


def _table(tmp: Path) -> Path:
    return Path(shutil.copytree(REPO / "benchmarks_data" / "digits-sample", tmp / "table"))


def _run_folder(tmp: Path) -> Path:
    folder = tmp / "run"
    (folder / "shards").mkdir(parents=True)
    shutil.copy(REPO / "benchmarks_data" / "runs" / "cifar10-16px" / "run.json", folder / "run.json")
    return folder


def _latency(tmp: Path) -> Path:
    return Path(shutil.copytree(REPO / "benchmarks_data" / "latency" / "digits-cpu-e5b222917fb5", tmp / "latency"))


def _runs(tmp: Path) -> Path:
    return Path(shutil.copytree(REPO / "reports" / "digits-default" / "runs", tmp / "runs"))


# (how to make the input, the file in it to craft, the command reading it)
READERS = {
    "table manifest": (_table, "manifest.json", ["info", "{}"]),
    "run file": (_run_folder, "run.json", ["info", "{}"]),
    "latency folder": (_latency, "latency.json",
                       ["search", "--table", "digits-sample", "--strategy", "random", "--seeds", "0", "--max-queries",
                        "5", "--workers", "1", "--latency", "{}", "--out", "OUT"]),
    "compare runs": (_runs, "compare.json", ["report", "{}", "--out", "OUT"]),
    "search results manifest": (_runs, "replayed/rea/manifest.json", ["report", "{}", "--out", "OUT"]),
}


@pytest.mark.parametrize("text", [DEEP, LONG], ids=["deep", "long-number"])
@pytest.mark.parametrize("reader", list(READERS))
def test_crafted_json_is_one_error_line(reader: str, text: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A JSON file nested 100,000 deep or holding a 5,000-digit number: RecursionError / ValueError
    tracebacks from every reader before (json.loads raises neither as a JSONDecodeError)."""
    make, name, argv = READERS[reader]
    folder = make(tmp_path)
    (folder / name).write_text(text)
    argv = [str(folder) if a == "{}" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasbench: error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("reader", list(READERS))
def test_a_key_named_twice_is_one_error_line(reader: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The file's first key written twice, with the same value: json.loads takes the last one silently, so
    before, a hand-edited file whose key appeared twice with two values ran with one of them."""
    make, name, argv = READERS[reader]
    folder = make(tmp_path)
    text = (folder / name).read_text()
    key, value = next(iter(json.loads(text).items()))
    (folder / name).write_text("{" + json.dumps(key) + ": " + json.dumps(value) + ", " + text.lstrip()[1:])
    argv = [str(folder) if a == "{}" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasbench: error: ") and err.count("\n") == 1, err
    assert f"the key {key!r} appears more than once in one object" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", [DEEP, 7], ids=["deep", "integer"])
def test_a_result_store_whose_meta_is_not_json_is_damaged(value: object, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """table build opens the run folder's store.sqlite (a working copy, which a received folder may hold):
    a meta value that is not JSON text was a RecursionError or TypeError traceback."""
    folder = _run_folder(tmp_path)
    db = sqlite3.connect(folder / "store.sqlite")
    db.execute("CREATE TABLE meta (key, value)")  # no TEXT affinity: an integer stays one
    db.execute("INSERT INTO meta VALUES ('dataset', ?)", (value,))
    db.commit()
    db.close()
    assert main(["table", "build", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: the result store {folder / 'store.sqlite'} is damaged") and \
        err.count("\n") == 1, err


@pytest.mark.parametrize("which, label", [("replayed", "rea"), ("weight_sharing", "gdas")])
@pytest.mark.parametrize("listed", [5, [["LABEL"]], [["LABEL", "OTHER"]], [["LABEL", "../other"]],
                                    [['=HYPERLINK("http://x")', "FOLDER"]]],
                         ids=["not-a-list", "no-folder", "absolute", "dot-dot", "formula-label"])
def test_a_compare_json_naming_runs_elsewhere_is_refused(which: str, label: str, listed: object, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """report read the runs compare.json named wherever they were (/elsewhere, ../other) and showed them
    as this folder's; a replayed (or weight-sharing) list of another shape was a TypeError or ValueError
    traceback."""
    runs = _runs(tmp_path)
    shutil.copytree(runs / which / label, tmp_path / "other")
    path = runs / "compare.json"
    record = json.loads(path.read_text())
    assert [label, f"{which}/{label}"] in record[which]
    names = {"LABEL": label, "FOLDER": f"{which}/{label}", "OTHER": str(tmp_path / "other")}
    record[which] = [[names.get(x, x) for x in pair] for pair in listed] if isinstance(listed, list) else listed
    path.write_text(json.dumps(record))
    assert main(["report", str(runs), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: {path} is damaged: {which} should be a list") and err.count("\n") == 1, err
    assert not (tmp_path / "out" / "index.html").exists()


@pytest.mark.parametrize("field,value", [("arrays", 5), ("seeds", 5), ("arrays", {"train": {}}),
                                         ("arrays", {"train": {"measures": 5}}), ("epochs", [None])])
def test_a_table_manifest_of_the_wrong_shape_is_refused(field: str, value: object, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A manifest without manifest_hash (tables written before it existed) whose fields have other types:
    TypeError and KeyError tracebacks while the table was opened."""
    folder = _table(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["manifest_hash"]
    manifest[field] = value
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert main(["info", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: {folder / 'manifest.json'} is malformed") and err.count("\n") == 1, err


def test_a_scalars_npz_that_unpacks_to_more_than_a_table_holds_is_refused_unread(tmp_path: Path,
                                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """scalars.npz is read whole before its shapes are checked: 1 MB of deflated zeros declaring 1 GiB
    took 1 GiB of memory (20 MB would take 20 GiB). Here 65 MiB in 65 kB, refused from its zip directory."""
    import io
    import zipfile

    import numpy as np

    folder = _table(tmp_path)
    n = 65 << 17  # float64: 65 MiB, over tablefile.MAX_SCALARS_BYTES (64 MiB)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (n,)})
    with zipfile.ZipFile(folder / "scalars.npz", "a", zipfile.ZIP_DEFLATED) as z, z.open("bomb.npy", "w") as f:
        f.write(header.getvalue())
        for _ in range(n >> 17):
            f.write(bytes(1 << 20))
    assert (folder / "scalars.npz").stat().st_size < 1 << 20
    assert main(["info", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: table file {folder / 'scalars.npz'} unpacks to ") and err.count("\n") == 1, err


# ----- symbolic links planted in a received output folder ----------------------------------------------
def _victim(tmp: Path) -> Path:
    victim = tmp / "victim"
    victim.mkdir()
    (victim / "bashrc").write_text("precious\n")
    (victim / "holiday.png").write_text("photo\n")
    return victim


def _report_folder(tmp: Path) -> Path:
    report = tmp / "report"
    report.mkdir()
    few_runs_copy(report / "runs")
    return report


def test_a_report_does_not_write_or_delete_through_a_linked_figures_folder(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """report RUNS (in place) with figures/ a link to another folder: it deleted every *.png there that it
    does not make (holiday.png) and wrote its figures there."""
    victim, report = _victim(tmp_path), _report_folder(tmp_path)
    (report / "figures").symlink_to(victim)
    assert main(["report", str(report / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: {report / 'figures'} is a symbolic link") and err.count("\n") == 1, err
    assert sorted(p.name for p in victim.iterdir()) == ["bashrc", "holiday.png"]


@pytest.mark.parametrize("planted", ["final.csv", "index.html", ".ranks.csv.tmp"])
def test_a_report_does_not_write_through_a_linked_file(planted: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """final.csv (or another output, or the temporary name a file is written under) a link to ~/.bashrc:
    the report overwrote it with CSV. Now the link is replaced, or refused (and removed) at the temporary
    name, and the file it leads to is untouched."""
    figures_not_rendered(monkeypatch)  # figures are written as before (stub bytes), and the links are checked
    victim, report = _victim(tmp_path), _report_folder(tmp_path)
    (report / planted).symlink_to(victim / "bashrc")
    main(["report", str(report / "runs")])
    assert (victim / "bashrc").read_text() == "precious\n"
    assert main(["report", str(report / "runs")]) == 0
    assert (victim / "bashrc").read_text() == "precious\n"
    assert not (report / planted).is_symlink()


@pytest.mark.parametrize("planted", [".trajectories.parquet.tmp", ".manifest.json.tmp", ".partial"])
def test_search_does_not_write_through_a_link_in_its_out_folder(planted: str, tmp_path: Path) -> None:
    """search --out OUT wrote its results through OUT/.trajectories.parquet.tmp (a link to ~/.bashrc), and
    its finished runs into wherever OUT/.partial led (and read back those found there as its own)."""
    victim, out = _victim(tmp_path), tmp_path / "out"
    out.mkdir()
    (out / planted).symlink_to(victim if planted == ".partial" else victim / "bashrc")
    argv = ["search", "--table", "digits-sample", "--strategy", "random", "--seeds", "0-3", "--max-queries", "5",
            "--workers", "1", "--out", str(out)]
    main(argv)
    assert main(argv + ["--overwrite"]) == 0
    assert sorted(p.name for p in victim.iterdir()) == ["bashrc", "holiday.png"]
    assert (victim / "bashrc").read_text() == "precious\n"


# ----- FIFOs (which tar keeps): reading one waited for a writer forever ---------------------------------
@pytest.mark.parametrize("name", ["scalars.npz", "train.npy"])
def test_a_fifo_in_a_table_is_refused_not_waited_on(name: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import os

    folder = _table(tmp_path)
    (folder / name).unlink()
    os.mkfifo(folder / name)
    assert main(["info", str(folder)]) == 2  # before: blocked in open() until killed
    err = capsys.readouterr().err
    assert err == f"nasbench: error: table file {folder / name} is not a regular file (a folder, FIFO, device or " \
                  "broken link)\n", err


@pytest.mark.filterwarnings("error::ResourceWarning", "error::pytest.PytestUnraisableExceptionWarning")  # folder listing closed
def test_a_fifo_among_nats_arch_files_is_refused_not_waited_on(generated: Callable[..., Path], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import os

    src = generated(tmp_path / "src", [0, 1], 0)
    os.mkfifo(src / "000002.pickle.pbz2")
    assert main(["import", "nats-tss", str(src), "--out", str(tmp_path / "out"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasbench: error: ") and "000002.pickle.pbz2 is not a regular file" in err, err


@pytest.mark.parametrize("field", ["params", "latency"])
def test_a_nats_record_with_a_number_too_large_for_a_float_is_malformed(field: str, generated: Callable[..., Path], tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """params = 10**400 in an arch file: float() raised OverflowError, which _decode did not catch (a
    traceback, from a worker)."""
    from nats_generator import arch_record, nb201_order, write_pbz2

    src = generated(tmp_path / "src", [0, 1], 0)
    record = arch_record(2, nb201_order(0)[2])
    record["12"]["all_results"][("cifar10", 111)][field] = 10**400 if field == "params" else [10**400]
    write_pbz2(record, src / "000002.pickle.pbz2")
    assert main(["import", "nats-tss", str(src), "--out", str(tmp_path / "out"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err == "nasbench: error: NB201 arch 2: malformed record (OverflowError: int too large to convert to " \
                  "float)\n", err
    assert not (tmp_path / "out").exists()


def test_a_nats_arch_file_that_unpacks_to_more_than_the_limit_is_refused(generated: Callable[..., Path], tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """An arch file of 100 kB unpacking to a 65 MiB bytes value (bz2 packs zeros some 10^6 to 1; 10 GB
    is as easy): the restricted unpickler built it whole, in each worker."""
    import bz2

    src = generated(tmp_path / "src", [0, 1], 0)
    n = 65 << 20
    packer = bz2.BZ2Compressor()
    parts = [packer.compress(b"\x80\x04\x8e" + n.to_bytes(8, "little"))]
    parts += [packer.compress(bytes(1 << 20)) for _ in range(n >> 20)]
    (src / "000002.pickle.pbz2").write_bytes(b"".join(parts) + packer.compress(b".") + packer.flush())
    assert (src / "000002.pickle.pbz2").stat().st_size < 1 << 20
    assert main(["import", "nats-tss", str(src), "--out", str(tmp_path / "out"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasbench: error: ") and "000002.pickle.pbz2" in err and "unpacks to more than" in err, err


@pytest.mark.parametrize("odd", ["view", "trigger"])
def test_a_result_store_holding_a_view_or_trigger_is_refused(odd: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A received run folder's store.sqlite (a working copy) whose results table is a view: of an endless
    recursive query, table build read it forever (here 3 rows, so that the old code ends); a trigger runs
    SQL of the file's author on the store's writes. No store of the package has either."""
    from nasbench_suite.pre_evaluate import read_run_file
    from nasbench_suite.store import ResultStore

    folder = _run_folder(tmp_path)
    ResultStore(folder / "store.sqlite", read_run_file(folder)["identity"]).close()
    db = sqlite3.connect(folder / "store.sqlite")
    if odd == "view":
        columns = [row[1] for row in db.execute("PRAGMA table_info(results)")]
        db.execute("DROP TABLE results")
        db.execute("CREATE VIEW results AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 3) "
                   f"SELECT {', '.join(['x AS arch', '0 AS seed', '1 AS epoch', *(f'0.0 AS {c}' for c in columns[3:])])} "
                   "FROM c")
    else:
        db.execute("CREATE TRIGGER planted AFTER INSERT ON files BEGIN DELETE FROM meta; END")
    db.commit()
    db.close()
    assert main(["table", "build", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: the result store {folder / 'store.sqlite'} is damaged (it holds a {odd} ") \
        and err.count("\n") == 1, err


def test_table_build_does_not_follow_a_linked_shards_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A received run folder whose shards/ links elsewhere: table build read the shard files there, and
    wrote there the ones its store held without a file (files outside the folder named)."""
    run = Path(shutil.copytree(REPO / "benchmarks_data" / "runs" / "cifar10-16px", tmp_path / "run"))
    (run / "shards").rename(tmp_path / "elsewhere")
    (run / "shards").symlink_to(tmp_path / "elsewhere")
    assert main(["table", "build", str(run), "--out", str(tmp_path / "table")]) == 2
    err = capsys.readouterr().err
    assert err == f"nasbench: error: {run / 'shards'} is a symbolic link; a run's committed files are read and " \
                  "written in a folder of its own: replace the link with a copy of the folder it leads to\n", err
    assert not (tmp_path / "table").exists()


def test_a_staged_part_declaring_a_huge_array_is_skipped(tmp_path: Path) -> None:
    """A .npz in a staging folder whose identity member's header declares 1 TiB: numpy allocates the array
    before reading it, and the MemoryError was not among the errors that skip a damaged part (a traceback
    from search or compare)."""
    import io
    import zipfile

    import numpy as np

    from nasbench_suite.partial_runs import load_runs, spec_key

    identity = {"code_sha256": "x"}
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (1 << 40,)})
    with zipfile.ZipFile(tmp_path / f"{spec_key(identity)}.abc.npz", "w") as z:
        z.writestr("identity.npy", header.getvalue() + bytes(16))
    assert load_runs(tmp_path, identity, [0]) == {}


@pytest.mark.parametrize("value", ["[" * 50_000 + "]" * 50_000, "{b = " * 5000 + "1" + "}" * 5000, "9" * 5000],
                         ids=["deep-array", "deep-table", "long-number"])
def test_a_crafted_compare_config_is_one_error_line(value: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """tomllib raises RecursionError on nesting thousands deep and a plain ValueError on a 5,000-digit
    integer, neither a TOMLDecodeError: tracebacks from compare --config."""
    config = tmp_path / "received.toml"
    config.write_text(f'name = "x"\nseeds = {value}\n')
    assert main(["compare", "--config", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: {config} is not valid TOML: ") and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_a_store_that_is_a_symbolic_link_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A received run folder whose store.sqlite links elsewhere: SQLite followed the link, and table build
    made (or wrote into) the database there, outside the folder named."""
    run = Path(shutil.copytree(REPO / "benchmarks_data" / "runs" / "cifar10-16px", tmp_path / "run"))
    (tmp_path / "elsewhere").mkdir()
    (run / "store.sqlite").symlink_to(tmp_path / "elsewhere" / "victim.sqlite")
    assert main(["table", "build", str(run), "--out", str(tmp_path / "table")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nasbench: error: the result store {run / 'store.sqlite'} is damaged (store.sqlite is a "
                          "symbolic link") and err.count("\n") == 1, err
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_parquet_bomb_among_the_runs_is_refused_before_it_is_read(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A trajectories.parquet of 40 kB holding 9,000,000 equal values (run length encoded): read whole
    (72 MB here; 50,000,000 rows in 228 kB took 1 GB, and a file of some MB takes all memory)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    runs = _runs(tmp_path)
    path = runs / "replayed" / "rea" / "trajectories.parquet"
    pq.write_table(pa.table({"seed": pa.array(np.zeros(9_000_000, np.int64))}), path, compression="zstd")
    assert path.stat().st_size < 1 << 20
    assert main(["report", str(runs), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == f"nasbench: error: cannot read the run in {path.parent}: trajectories.parquet declares 9,000,000 " \
                  f"rows of 1 columns in {path.stat().st_size:,} bytes: a decompression bomb, or not a file of runs\n", err


@pytest.mark.parametrize("rel, column", [("replayed/rea", "finish_time"), ("replayed/rea", "incumbent_index"),
                                         ("weight_sharing/gdas", "measured_time")])
def test_a_runs_parquet_without_a_column_the_report_reads_is_one_error_line(
        rel: str, column: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A trajectories.parquet lacking a column the report reads was a KeyError traceback mid-report."""
    import pandas as pd

    runs = _runs(tmp_path)
    path = runs / rel / "trajectories.parquet"
    pd.read_parquet(path).drop(columns=[column]).to_parquet(path, index=False)
    assert main(["report", str(runs), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == f"nasbench: error: {path} lacks the column(s) {column}: not the results of a run made by nasbench " \
                  "compare; make the runs again with nasbench compare into a new folder\n", err


def test_jsonread_refusals_are_json_errors_that_survive_a_worker_and_name_no_int_setting() -> None:
    """jsonread.loads: an ordinary malformed document keeps json's own error (its position); a too long
    number is named without Python's advice to raise sys.set_int_max_str_digits; a refusal pickles as
    itself (a search or compare worker raising it reaches the parent as the same error, not a TypeError)."""
    import pickle

    from nasbench_suite import jsonread

    with pytest.raises(json.JSONDecodeError) as malformed:
        jsonread.loads('{"a": }')
    assert type(malformed.value) is json.JSONDecodeError and malformed.value.pos == 6
    with pytest.raises(jsonread.RefusedJSON) as long:
        jsonread.loads(LONG)
    assert long.value.msg == str(long.value)  # Python 3.10 says "(4300)", 3.11 "(4300 digits)"
    assert re.fullmatch(r"a number is too long: Exceeds the limit \(4300( digits)?\) for integer string conversion: "
                        r"value has 5000 digits", long.value.msg)
    with pytest.raises(jsonread.RefusedJSON, match="^the key 'b' appears more than once in one object$"):
        jsonread.loads('[{"a": {"b": 1, "c": 2, "b": 1}}]')  # inside another object too
    assert jsonread.loads('{"a": {"b": 1}, "b": [{"b": 2}]}') == {"a": {"b": 1}, "b": [{"b": 2}]}  # one per object
    with pytest.raises(jsonread.RefusedJSON, match="nested too deeply") as deep:
        jsonread.loads(DEEP)
    again = pickle.loads(pickle.dumps(deep.value))
    assert type(again) is jsonread.RefusedJSON and again.msg == deep.value.msg and str(again) == str(deep.value)


@pytest.mark.filterwarnings("error::ResourceWarning", "error::pytest.PytestUnraisableExceptionWarning")
def test_a_damaged_zip_is_refused_and_its_file_closed(tmp_path: Path) -> None:
    """``np.load(path)`` leaves the file it opened open when the zip inside is damaged (a ResourceWarning
    in a library user's session): the dataset and table readers open the file themselves."""
    import gc

    from nasbench_suite.data import load_dataset
    from nasbench_suite.errors import DatasetError, TableCorruptedError
    from nasbench_suite.tablefile import read_scalars

    damaged = b"PK\x03\x04" + bytes(200)
    (tmp_path / "cifar10_16px.npz").write_bytes(damaged)
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "scalars.npz").write_bytes(damaged)
    with pytest.raises(DatasetError, match="cannot be read"):
        load_dataset("cifar10-16px", data_dir=tmp_path)
    with pytest.raises(TableCorruptedError, match="cannot be read"):
        read_scalars(tmp_path / "t")
    gc.collect()


def test_jsonread_keeps_a_decoding_error_its_own() -> None:
    """Bytes that are no UTF-8 text keep their UnicodeDecodeError (a ValueError every reader names the file
    for), not a RefusedJSON calling them a number too long."""
    from nasbench_suite import jsonread

    with pytest.raises(UnicodeDecodeError, match="can't decode byte 0xff in position 1"):
        jsonread.loads(b'"\xff"')
