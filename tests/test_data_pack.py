"""Row packs (``nasbench_suite.data_pack``, ``nasbench data pack``): the images a protocol reads, in a
smaller file that loads as the same dataset."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nasbench_suite.cli import main
from nasbench_suite.data import CIFAR10_16PX_FILE, file_sha256, load_dataset
from nasbench_suite.data_pack import write_pack
from nasbench_suite.errors import DatasetError

from test_data import _fake_cifar, _write_npz


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "full"
    _write_npz(folder, _fake_cifar(n_train=400, n_test=60))
    return folder


def test_a_pack_loads_as_the_same_dataset_as_its_source_and_holds_only_the_rows_read(source, tmp_path):
    out = tmp_path / "pack"
    out.mkdir()
    pack = write_pack("cifar10-16px", source, out, max_train=50, max_valid=30)
    assert pack.rows == {"train": 80, "test": 60} and pack.of == {"train": 400, "test": 60}
    assert pack.source_sha256 == file_sha256(source / CIFAR10_16PX_FILE)
    full = load_dataset("cifar10-16px", source, max_train=50, max_valid=30)
    packed = load_dataset("cifar10-16px", out, max_train=50, max_valid=30)
    assert packed.describe() == full.describe()  # sha256 of the source, splits, normalization
    for split in full.splits:
        for field in ("x", "y", "index"):
            np.testing.assert_array_equal(getattr(packed.splits[split], field), getattr(full.splits[split], field))
    # nested subsets: smaller ones are served too, and give the full file's result
    assert np.array_equal(load_dataset("cifar10-16px", out, max_train=20, max_valid=10).splits["train"].x,
                          load_dataset("cifar10-16px", source, max_train=20, max_valid=10).splits["train"].x)


@pytest.mark.parametrize("subsets", [{"max_train": 60, "max_valid": 30}, {"max_train": 50},
                                     {"max_valid": 31, "max_train": 50}])
def test_a_split_that_needs_rows_the_pack_lacks_is_refused(source, tmp_path, subsets):
    write_pack("cifar10-16px", source, tmp_path, max_train=50, max_valid=30)
    with pytest.raises(DatasetError, match="row pack holding 80 of 400 train images.*pack it again"):
        load_dataset("cifar10-16px", tmp_path, **subsets)


def test_a_damaged_pack_is_refused(source, tmp_path):
    write_pack("cifar10-16px", source, tmp_path, max_train=50, max_valid=30)
    path = tmp_path / CIFAR10_16PX_FILE
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["x_train"][0, 0, 0, 0] ^= 1
    with zipfile.ZipFile(path, "w") as z:  # rewritten with one pixel changed, digest kept
        for key, value in arrays.items():
            with z.open(f"{key}.npy", "w") as f:
                np.lib.format.write_array(f, value)
    with pytest.raises(DatasetError, match="do not match the digest"):
        load_dataset("cifar10-16px", tmp_path, max_train=50, max_valid=30)


def test_packing_never_replaces_its_source_or_another_file_unasked(source, tmp_path):
    before = file_sha256(source / CIFAR10_16PX_FILE)
    with pytest.raises(DatasetError, match="would replace its source"):
        write_pack("cifar10-16px", source, source, max_train=50, overwrite=True)
    out = tmp_path / "pack"
    out.mkdir()
    write_pack("cifar10-16px", source, out, max_train=50)
    with pytest.raises(DatasetError, match="exists; pass --overwrite"):
        write_pack("cifar10-16px", source, out, max_train=40)
    write_pack("cifar10-16px", source, out, max_train=40, overwrite=True)
    assert file_sha256(source / CIFAR10_16PX_FILE) == before
    with pytest.raises(DatasetError, match="cannot be packed"):
        write_pack("digits", None, out)
    assert not list(out.glob(".*.tmp"))


def test_cli_packs_for_a_run_folders_protocol(source, tmp_path, capsys):
    protocol = tmp_path / "run.json"
    protocol.write_text(json.dumps({"identity": {"protocol": {
        "dataset": "cifar10-16px", "channels": 8, "cells": 1, "epochs": 1, "batch_size": 32,
        "train_subset": 50, "valid_subset": 30}}}))
    out = tmp_path / "pack"
    out.mkdir()
    assert main(["data", "pack", "--protocol", str(protocol), "--data-dir", str(source), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "80 of 400 train images, 60 of 60 test images" in said and "train_subset=50, valid_subset=30" in said
    assert main(["data", "pack", "--protocol", str(protocol), "--data-dir", str(source), "--out", str(out)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err


def test_cli_makes_a_missing_out_folder_and_refuses_a_file(source, tmp_path, capsys):
    """README: `nasbench data pack ... --out SMALLDIR` writes SMALLDIR/cifar10_16px.npz; SMALLDIR need not exist
    (it said 'output folder SMALLDIR does not exist', unlike every other --out folder)."""
    protocol = tmp_path / "run.json"
    protocol.write_text(json.dumps({"identity": {"protocol": {
        "dataset": "cifar10-16px", "channels": 8, "cells": 1, "epochs": 1, "batch_size": 32,
        "train_subset": 50, "valid_subset": 30}}}))
    out = tmp_path / "new" / "pack"
    assert main(["data", "pack", "--protocol", str(protocol), "--data-dir", str(source), "--out", str(out)]) == 0
    assert (out / CIFAR10_16PX_FILE).is_file()
    capsys.readouterr()
    blocker = tmp_path / "a-file"
    blocker.write_text("keep")
    assert main(["data", "pack", "--protocol", str(protocol), "--data-dir", str(source), "--out", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasbench: error: ") and "is a file" in err and len(err.strip().splitlines()) == 1
    assert blocker.read_text() == "keep"


def test_two_packs_into_one_folder_never_mix(source, tmp_path, monkeypatch):
    """Two packs into one --out at once: each writes a temporary file of its own (both wrote the shared
    .NAME.tmp: one died on the name the other had renamed away while the other reported its own rows over the
    first one's file), and one without --overwrite never replaces a pack another wrote while it ran."""
    import nasbench_suite.data_pack as data_pack

    out = tmp_path / "pack"
    out.mkdir()
    theirs = out / f".{CIFAR10_16PX_FILE}.tmp"  # what another pack, still writing, holds (the old shared name)
    theirs.write_bytes(b"being written")
    pack = write_pack("cifar10-16px", source, out, max_train=50, max_valid=30)
    assert theirs.read_bytes() == b"being written" and pack.rows["train"] == 80
    pack.path.unlink()
    real = data_pack.split_rows

    def another_pack_finishes_meanwhile(*args, **kwargs):
        pack.path.write_bytes(b"the other pack")
        return real(*args, **kwargs)

    monkeypatch.setattr(data_pack, "split_rows", another_pack_finishes_meanwhile)
    with pytest.raises(DatasetError, match="written while this pack was made\\); pass --overwrite"):
        write_pack("cifar10-16px", source, out, max_train=40)
    assert pack.path.read_bytes() == b"the other pack"
    assert sorted(p.name for p in out.iterdir()) == sorted([theirs.name, CIFAR10_16PX_FILE])


def _rewrite_pack(path: Path, edit) -> None:
    """The pack at ``path`` with ``edit`` applied to its arrays and the digest written again to match them."""
    from nasbench_suite.data import PACK_DIGEST_KEY, PACK_SOURCE_KEY, pack_digest

    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    extra = {k: arrays.pop(k) for k in (PACK_SOURCE_KEY, PACK_DIGEST_KEY)}
    edit(arrays)
    extra[PACK_DIGEST_KEY] = np.array(pack_digest(arrays))
    with open(path, "wb") as f:
        np.savez(f, **arrays, **extra)


def _repeat_a_row(a):
    a["rows_train"][1] = a["rows_train"][0]


def _negative_first_row(a):
    a["rows_train"][0] = -1


def _row_past_the_end(a):
    a["rows_train"][-1] = len(a["y_train"])  # still ascending, one past the last source row


def _one_row_short(a):
    a["rows_train"] = a["rows_train"][:-1]


def _no_test_rows(a):
    del a["rows_test"]


def _label_10(a):
    a["y_train"][0] = 10


@pytest.mark.parametrize("edit, says", [
    (_repeat_a_row, "rows_train should be 80 ascending rows of 0..399"),
    (_negative_first_row, "rows_train should be 80 ascending rows of 0..399"),
    (_row_past_the_end, "rows_train should be 80 ascending rows of 0..399"),
    (_one_row_short, "rows_train should be 80 ascending rows"),
    (_no_test_rows, "cannot be read as a row pack"),
    (_label_10, "y_train has labels outside 0..9"),
], ids=["repeated row", "negative row", "row past the end", "row count", "missing key", "label 10"])
def test_a_malformed_pack_with_a_matching_digest_is_refused(source, tmp_path, edit, says):
    """A pack whose rows do not say where its images go (written by other code, digest and all) is refused,
    not read with images at the wrong rows."""
    write_pack("cifar10-16px", source, tmp_path, max_train=50, max_valid=30)
    _rewrite_pack(tmp_path / CIFAR10_16PX_FILE, edit)
    with pytest.raises(DatasetError, match=says):
        load_dataset("cifar10-16px", tmp_path, max_train=50, max_valid=30)


def test_packing_refuses_its_source_by_another_name_and_reports_the_bytes_written(source, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(source, target_is_directory=True)
    before = file_sha256(source / CIFAR10_16PX_FILE)
    with pytest.raises(DatasetError, match="would replace its source"):
        write_pack("cifar10-16px", source, link, max_train=50, overwrite=True)
    assert file_sha256(source / CIFAR10_16PX_FILE) == before
    pack = write_pack("cifar10-16px", source, tmp_path / "pack", max_train=50)
    assert pack.bytes == pack.path.stat().st_size > 0


def test_pack_out_folder_may_start_with_a_tilde(source, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    pack = write_pack("cifar10-16px", source, "~/pack", max_train=50)
    assert pack.path == tmp_path / "home" / "pack" / CIFAR10_16PX_FILE and pack.path.is_file()
    assert not (Path.cwd() / "~").exists()


def test_pack_into_a_file_is_refused_before_the_source_is_read(source, tmp_path, monkeypatch):
    """write_pack's own check (not only the CLI's): --out naming a file is one DatasetError, the file kept."""
    import nasbench_suite.data_pack as data_pack

    blocker = tmp_path / "a-file"
    blocker.write_text("keep")
    monkeypatch.setattr(data_pack, "split_rows", lambda *a, **k: pytest.fail("the source was read"))
    with pytest.raises(DatasetError) as info:
        write_pack("cifar10-16px", source, blocker, max_train=50)
    assert str(info.value) == f"--out {blocker} is a file; the pack is written into a folder"
    assert blocker.read_text() == "keep"


def test_cli_overwrite_replaces_a_pack_with_one_for_other_subsets(source, tmp_path, capsys):
    """`nasbench data pack --overwrite` reaches write_pack: the second pack (other subsets) replaces the first."""
    out = tmp_path / "pack"
    base = ["data", "pack", "--dataset", "cifar10-16px", "--data-dir", str(source), "--out", str(out)]
    assert main([*base, "--train-subset", "50", "--valid-subset", "30"]) == 0
    assert main([*base, "--train-subset", "20", "--valid-subset", "10", "--overwrite"]) == 0
    assert "30 of 400 train images, 60 of 60 test images" in capsys.readouterr().out.splitlines()[-1]
    with np.load(out / CIFAR10_16PX_FILE) as npz:
        assert len(npz["rows_train"]) == 30
