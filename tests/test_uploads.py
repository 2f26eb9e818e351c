"""Uploads and files: bounded zips, regular files only, safe upload names, configured data
roots, and every loader failure as one clear line on the Data page."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import make_panel

from alpha_core.data.panel import PanelError, load_panel

ROOT = Path(__file__).resolve().parents[1]


def long_csv(n_assets: int = 3, n_days: int = 30) -> bytes:
    panel = make_panel(n_assets=n_assets, n_days=n_days).drop("sector", "asset_class")
    return panel.write_csv().encode()


# ----------------------------------------------------------------------------- zips
def test_zip_over_the_size_limit_is_refused_before_inflating(tmp_path, monkeypatch):
    monkeypatch.setenv("ALPHA_LAB_MAX_UNZIPPED_MB", "1")
    src = tmp_path / "big.zip"
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.csv", b"date,asset,close\n" + b"2024-01-02,A,1\n" * 150_000)  # 2.1 MB
    with pytest.raises(PanelError) as err:
        load_panel(src)
    assert str(err.value) == (
        f"{src}: zip inflates to 2 MB, more than the limit of 1 MB (ALPHA_LAB_MAX_UNZIPPED_MB)"
    )
    monkeypatch.setenv("ALPHA_LAB_MAX_UNZIPPED_MB", "3")
    assert load_panel(src).height == 150_000


def test_zip_with_too_many_members_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("ALPHA_LAB_MAX_ZIP_MEMBERS", "3")
    src = tmp_path / "many.zip"
    with zipfile.ZipFile(src, "w") as zf:
        for k in range(5):
            zf.writestr(f"T{k}.csv", "date,close\n2024-01-02,1\n")
    with pytest.raises(PanelError, match=r"zip holds 5 entries, more than the limit of 3 \("):
        load_panel(src)
    folder = tmp_path / "folder"
    folder.mkdir()
    for k in range(5):
        (folder / f"T{k}.csv").write_text("date,close\n2024-01-02,1\n")
    with pytest.raises(PanelError, match="folder holds 5 CSV files, more than the limit of 3"):
        load_panel(folder)


def test_a_member_larger_than_its_directory_entry_is_never_inflated_beyond_it(tmp_path):
    """A lying central directory (a small declared size over a big member) cannot make the
    reader inflate more than declared: the read stops there and fails its CRC check."""
    src = tmp_path / "liar.zip"
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.csv", b"date,asset,close\n" + b"2024-01-02,A,1\n" * 100_000)
    data = bytearray(src.read_bytes())
    true_size = 17 + 15 * 100_000
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local, central header
        at = data.find(sig)
        assert struct.unpack_from("<I", data, at + offset)[0] == true_size
        struct.pack_into("<I", data, at + offset, 100)
    src.write_bytes(bytes(data))
    with pytest.raises(PanelError, match=r"liar.zip:a.csv: cannot read this zip member \(Bad"):
        load_panel(src)


def test_damaged_and_fake_zips_are_one_clear_error(tmp_path):
    fake = tmp_path / "fake.zip"
    fake.write_text("date,asset,close\n")
    with pytest.raises(PanelError, match="fake.zip: not a readable zip file"):
        load_panel(fake)
    crc = tmp_path / "crc.zip"
    with zipfile.ZipFile(crc, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.csv", "date,asset,close\n2024-01-02,A,1\n")
    data = crc.read_bytes().replace(b"2024-01-02,A,1", b"2024-01-02,A,9")
    crc.write_bytes(data)
    with pytest.raises(PanelError, match=r"crc.zip:a.csv: cannot read this zip member \(Bad CRC"):
        load_panel(crc)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "no csv here")
    with pytest.raises(PanelError, match="empty.zip: zip contains no CSV files"):
        load_panel(empty)


def test_symlink_and_device_members_of_a_zip_are_skipped(tmp_path):
    src = tmp_path / "links.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("A.csv", "date,close\n2024-01-02,1\n")
        link = zipfile.ZipInfo("B.csv")
        link.external_attr = (0o120777) << 16  # a symbolic link entry
        zf.writestr(link, "/etc/passwd")
    panel = load_panel(src)
    assert panel["asset"].unique().to_list() == ["A"]


# ----------------------------------------------------------------------------- regular files
def test_named_pipes_and_devices_are_refused_without_opening_them(tmp_path):
    fifo = tmp_path / "prices.csv"
    os.mkfifo(fifo)  # opening it would block forever
    with pytest.raises(PanelError, match="prices.csv: not a regular file"):
        load_panel(fifo)
    device = tmp_path / "zero.csv"
    device.symlink_to("/dev/zero")  # reading it would never end
    with pytest.raises(PanelError, match="zero.csv: not a regular file"):
        load_panel(device)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "A.csv").write_text("date,close\n2024-01-02,1\n")
    os.mkfifo(folder / "B.csv")
    with pytest.raises(PanelError, match="B.csv: not a regular file"):
        load_panel(folder)
    meta = tmp_path / "meta.csv"
    os.mkfifo(meta)
    (tmp_path / "ok.csv").write_bytes(long_csv())
    with pytest.raises(PanelError, match="meta.csv: not a regular file"):
        load_panel(tmp_path / "ok.csv", metadata=meta)


def test_library_errors_are_one_short_line(tmp_path):
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1" + os.urandom(3000))
    with pytest.raises(PanelError) as err:
        load_panel(garbage)
    message = str(err.value)
    assert message.startswith(f"{garbage}: cannot parse Parquet file (")
    assert "\n" not in message and len(message) < 300 + len(str(garbage))


# ----------------------------------------------------------------------------- upload names
@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("prices.csv", "prices.csv"),
        ("données 2024.CSV", "donnees_2024.csv"),
        ("データ.csv", "upload.csv"),
        ("../../etc/passwd.csv", "passwd.csv"),
        ("C:\\Users\\me\\p.zip", "p.zip"),
        (".hidden.csv", "hidden.csv"),
        ("a\nb<img src=x>.csv", "a_b_img_src_x.csv"),
        ("..", "upload"),
    ],
)
def test_upload_names_are_stored_safely(name, stored):
    from alpha_ui.uploads import safe_name

    assert safe_name(name) == stored


def test_a_long_non_ascii_upload_is_stored_and_loads(tmp_path, monkeypatch):
    from alpha_ui import uploads

    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(tmp_path))
    name = "ü" * 300 + "é" * 300 + ".csv"
    data = long_csv()
    path = uploads.save_upload(name, io.BytesIO(data))  # streamed from a file object
    assert path.parent == tmp_path / ".uploads"
    assert len(path.name) <= 13 + uploads.MAX_NAME_CHARS and path.name.endswith(".csv")
    assert path.name.split("_", 1)[1] == "u" * 76 + ".csv"
    assert path.read_bytes() == data
    assert uploads.save_upload(name, data) == path  # same content, same file
    assert load_panel(path).height == 90


# ----------------------------------------------------------------------------- data roots
def test_server_paths_can_be_restricted_to_configured_roots(tmp_path, monkeypatch):
    from alpha_ui import uploads

    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    inside = allowed / "p.csv"
    inside.write_bytes(long_csv())
    secret = outside / "secret.csv"
    secret.write_bytes(long_csv())
    (allowed / "link.csv").symlink_to(secret)
    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(tmp_path / "runs"))
    monkeypatch.delenv("ALPHA_LAB_DATA_ROOTS", raising=False)
    assert uploads.check_server_path(str(secret)) == str(secret)  # off by default
    monkeypatch.setenv("ALPHA_LAB_DATA_ROOTS", f"{allowed}{os.pathsep}{tmp_path / 'other'}")
    assert uploads.check_server_path(str(inside)) == str(inside)
    for path in (secret, allowed / "link.csv", allowed / ".." / "outside" / "secret.csv"):
        with pytest.raises(PanelError, match="outside the folders this server reads data from"):
            uploads.check_server_path(str(path))
    stored = uploads.save_upload("x.csv", long_csv())
    assert uploads.check_server_path(str(stored)) == str(stored)  # uploads stay allowed


# ----------------------------------------------------------------------------- the Data page
@pytest.fixture
def data_page(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ALPHA_LAB_ARTIFACTS", str(tmp_path / "runs"))
    monkeypatch.setenv("ALPHA_LAB_NO_FIRST_RUN", "1")

    def use(path: Path):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.switch_page("pages/1_Data.py").run()
        at.radio(key="data_kind").set_value("File path on the server").run()
        at.text_input(key="data_path").set_value(str(path)).run()
        at.button(key="use_data").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.session_state["source"]["data"] == "demo"  # nothing adopted
        (error,) = [e.value for e in at.error]
        assert "Traceback" not in error and "\n" not in error
        return error

    return use


def test_data_page_shows_each_loader_failure_as_one_line(tmp_path, data_page, monkeypatch):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert "not a regular file" in data_page(fifo)
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1" + b"\x00" * 64)
    assert "cannot parse Parquet file" in data_page(garbage)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(os.urandom(2000))
    assert data_page(binary).startswith("This file cannot be used: ")
    monkeypatch.setenv("ALPHA_LAB_MAX_UNZIPPED_MB", "1")
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.csv", b"0" * (3 * 2**20))
    assert "more than the limit of 1 MB \\(ALPHA\\_LAB\\_MAX\\_UNZIPPED\\_MB\\)" in data_page(big)
    monkeypatch.setenv("ALPHA_LAB_DATA_ROOTS", str(tmp_path / "nowhere"))
    ok = tmp_path / "ok.csv"
    ok.write_bytes(long_csv())
    assert "outside the folders this server reads data from" in data_page(ok)


def test_an_unanticipated_loader_failure_is_logged_not_shown(data_page, tmp_path, monkeypatch):
    import alpha_core.data.panel as data

    def broken(path):
        raise KeyError("internal detail")

    monkeypatch.setitem(data.READERS, ".csv", broken)
    ok = tmp_path / "ok.csv"
    ok.write_bytes(long_csv())
    error = data_page(ok)
    assert "internal detail" not in error
    assert error.startswith("This file cannot be used: it could not be read as a price table")


# ----------------------------------------------------------------------------- the zip bomb
@pytest.mark.slow
def test_a_small_zip_inflating_to_2_gib_is_refused_in_little_memory(tmp_path):
    bomb = tmp_path / "bomb.zip"
    chunk = b"0" * 2**20
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open("prices.csv", "w", force_zip64=True) as member,
    ):
        member.write(b"date,asset,close\n")
        for _ in range(2048):
            member.write(chunk)
    assert bomb.stat().st_size < 5 * 2**20
    with zipfile.ZipFile(bomb) as zf:
        assert zf.infolist()[0].file_size > 2 * 2**30
    child = (
        "import sys\n"
        "from alpha_core.data.panel import PanelError, load_panel\n"
        "try:\n"
        "    load_panel(sys.argv[1])\n"
        "except PanelError as exc:\n"
        "    print(exc)\n"
        # VmHWM: this process's own peak (ru_maxrss would also count the parent's memory at
        # fork, which survives exec on Linux)
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ALPHA_LAB_MAX_UNZIPPED_MB", None)
    out = subprocess.run(
        [sys.executable, "-c", child, str(bomb)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    ).stdout.splitlines()
    assert out[0] == (
        f"{bomb}: zip inflates to 2,048 MB, more than the limit of 1,024 MB "
        "(ALPHA_LAB_MAX_UNZIPPED_MB)"
    )
    peak_mb = int(out[1]) / 1024  # VmHWM is in KiB
    assert peak_mb < 500, peak_mb
