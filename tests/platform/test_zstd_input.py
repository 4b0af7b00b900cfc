"""Reddit ``.zst`` dumps read in bounded memory: decompressed in bounded steps, windows capped,
endless lines given up, truncated files said to be truncated (summary and exit code).

The bombs are made here: a few hundred KB that expand to gigabytes without a newline, and a
frame declaring a 2 GiB window. They are imported in a child process whose own peak resident
memory (``VmHWM``) is read at the end, so that nothing of this test process is counted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from consentry.platform.lines import MAX_LINE_BYTES, ZstdFrames
from consentry.platform.quarantine import read_quarantine
from consentry.platform.reddit import import_reddit
from consentry.workspace import Workspace

from .test_reddit import COMMENT, LINK_POST, SELF_POST, ndjson, zst

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_REDDIT = REPO_ROOT.parent / "shared" / "conformance" / "real-exports" / "reddit"
#: The child's peak resident memory must stay under this (an import's usual bound).
RSS_BOUND_KB = 600 * 1024


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``consentry ARGS…`` in a child process that prints its own peak RSS (KB) last."""
    script = (
        "import sys\n"
        "from benchmarks.common import own_peak_rss_kb\n"
        "from consentry.cli.main import app\n"
        "try:\n"
        "    code = app(sys.argv[1:], standalone_mode=False) or 0\n"
        "except SystemExit as exc:\n"
        "    code = exc.code or 0\n"
        "except Exception as exc:\n"
        "    code = getattr(exc, 'exit_code', 99)\n"
        "print('PEAK_RSS_KB', own_peak_rss_kb())\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=600,
        check=False,
    )


def peak_kb(result: subprocess.CompletedProcess[str]) -> int:
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("PEAK_RSS_KB")]
    return int(line.split()[1])


def endless(path: Path, total: int, *, window_log: int | None = None, head: bytes = b"") -> Path:
    """``head`` then ``total`` bytes without a newline, streamed (the size is not declared,
    so the frame header says the window: a reader cannot size anything from it)."""
    params = (
        zstandard.ZstdCompressionParameters.from_level(
            1, window_log=window_log, enable_ldm=window_log > 27
        )
        if window_log
        else zstandard.ZstdCompressionParameters.from_level(1)
    )
    block = b"a" * (1 << 20)
    with path.open("wb") as out:
        writer = zstandard.ZstdCompressor(compression_params=params).stream_writer(out)
        writer.write(head)
        for _ in range(total >> 20):
            writer.write(block)
        writer.flush(zstandard.FLUSH_FRAME)
    return path


# ---- bombs (child processes, peak memory measured) ----


@pytest.mark.slow
def test_a_small_file_expanding_to_gigabytes_without_a_newline_stays_in_bounds(
    tmp_path: Path,
) -> None:
    bomb = endless(tmp_path / "RC_bomb.zst", 2 << 30, head=ndjson([SELF_POST]))
    assert bomb.stat().st_size < 1 << 20  # a few hundred KB
    ws = Workspace.init(tmp_path / "ws")
    result = cli("import", "reddit", str(bomb), "-w", str(ws.root))
    assert result.returncode == 8, result.stdout + result.stderr
    assert "not read to its end" in result.stderr and "without a newline" in result.stderr
    assert peak_kb(result) < RSS_BOUND_KB, peak_kb(result)
    # The row before the endless line was imported (an account and a post).
    (row,) = [x for x in result.stdout.splitlines() if "RC_bomb.zst" in x and "content" in x]
    assert row.split("│")[4].strip() == "1"


@pytest.mark.slow
def test_a_frame_declaring_a_2_gib_window_stays_in_bounds_or_is_refused(tmp_path: Path) -> None:
    bomb = endless(tmp_path / "RS_window.zst", 1 << 30, window_log=31, head=ndjson([SELF_POST]))
    assert zstandard.get_frame_parameters(bomb.read_bytes()[:18]).window_size == 2**31
    ws = Workspace.init(tmp_path / "ws")
    # Accepted by default (real dumps use this window), and the endless line is given up.
    result = cli("import", "reddit", str(bomb), "-w", str(ws.root))
    assert result.returncode == 8, result.stdout + result.stderr
    assert peak_kb(result) < RSS_BOUND_KB, peak_kb(result)
    # With a lower cap, refused at once, naming the file and the window it asks for.
    result = cli("import", "reddit", str(bomb), "-w", str(ws.root), "--max-zstd-window", "128")
    assert result.returncode == 8
    assert str(bomb) in result.stderr and "2,048 MiB window" in result.stderr
    assert "limit of 128 MiB" in result.stderr
    assert peak_kb(result) < RSS_BOUND_KB


# ---- long lines, truncation, window cap (in process) ----


def test_a_line_over_the_cap_is_rejected_and_the_next_rows_imported(tmp_path: Path) -> None:
    long_line = b'{"body": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n'
    dump = tmp_path / "RC_long.zst"
    dump.write_bytes(zst(ndjson([SELF_POST]) + long_line + ndjson([COMMENT, LINK_POST])))
    ws = Workspace.init(tmp_path / "ws")
    report = import_reddit(ws, dump)
    assert report.total.rejected == 1 and report.total.imported == 5  # 2 accounts, 3 items
    assert not report.incomplete
    assert report.quarantine is not None
    (rejection,) = read_quarantine(report.quarantine)
    assert rejection.line == 2 and "longer than" in rejection.reason


def test_a_truncated_zst_says_so_and_exits_non_zero(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from consentry.cli.main import app

    rows = [dict(COMMENT, id=f"c{i}", body=f"commentaire {i} " * 40) for i in range(2000)]
    whole = zst(ndjson(rows))
    dump = tmp_path / "RC_cut.zst"
    dump.write_bytes(whole[: len(whole) * 2 // 3])
    ws = Workspace.init(tmp_path / "ws")
    result = CliRunner().invoke(
        app, ["import", "reddit", str(dump), "-w", str(ws.root)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 8, result.output
    assert "RC_cut.zst was not read to its end" in result.output
    assert "truncated" in result.output
    report_rows = [x for x in result.output.splitlines() if "RC_cut.zst" in x and "│" in x]
    assert report_rows  # the rows before the cut were imported and are in the summary
    again = import_reddit(ws, dump)  # what was read before the cut was kept
    assert again.total.unchanged > 500 and again.total.imported == 0 and again.incomplete


def test_a_window_over_the_cap_is_refused_naming_the_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from consentry.cli.main import app

    dump = tmp_path / "RC_big_window.zst"
    dump.write_bytes(zst(ndjson([SELF_POST]), window_log=24))  # 16 MiB
    ws = Workspace.init(tmp_path / "ws")
    args = ["import", "reddit", str(dump), "-w", str(ws.root), "--max-zstd-window", "8"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 8, result.output
    assert "RC_big_window.zst" in result.output and "16 MiB window" in result.output
    assert "Traceback" not in result.output
    args[-1] = "16"
    assert CliRunner().invoke(app, args).exit_code == 0


def test_real_dumps_read_whole_with_the_default_window(tmp_path: Path) -> None:
    dump = REAL_REDDIT / "germanrap-2023" / "GermanRap_comments_small.zst"
    if not dump.is_file():
        if _in_ci():
            pytest.fail(f"{dump} is missing: CI must run the real-dump checks")
        pytest.skip(f"no real Reddit dump at {dump} (shared/ is not beside this checkout)")
    frames = ZstdFrames(2**31)
    frames.feed(dump.read_bytes())
    assert frames.between_frames
    lines = zstandard.ZstdDecompressor().stream_reader(dump.open("rb")).read().count(b"\n")
    ws = Workspace.init(tmp_path / "ws")
    report = import_reddit(ws, dump)
    assert not report.incomplete and report.total.adds_up
    assert report.by_kind["content"].read == lines


# ---- the frame walker ----


def _frames(parts: list[tuple[bytes, bool, int]]) -> tuple[bytes, set[int]]:
    data, ends = b"", {0}
    for payload, checksum, level in parts:
        params = zstandard.ZstdCompressionParameters.from_level(level, write_checksum=checksum)
        data += zstandard.ZstdCompressor(compression_params=params).compress(payload)
        ends.add(len(data))
    return data, ends


@given(
    st.lists(
        st.tuples(
            st.binary(max_size=3000) | st.just(b"z" * 300_000),
            st.booleans(),
            st.integers(1, 5),
        ),
        min_size=1,
        max_size=3,
    ),
    st.integers(1, 4096),
)
def test_frame_walker_says_a_stream_is_whole_only_at_a_frame_end(
    parts: list[tuple[bytes, bool, int]], step: int
) -> None:
    data, ends = _frames(parts)
    skippable = b"\x50\x2a\x4d\x18" + (3).to_bytes(4, "little") + b"abc"
    data, ends = data + skippable, ends | {len(data) + len(skippable)}
    for cut in sorted({*ends, *range(0, len(data), max(1, len(data) // 50))}):
        frames = ZstdFrames(2**31)
        for at in range(0, cut, step):
            frames.feed(data[at : min(at + step, cut)])
        assert frames.between_frames == (cut in ends), (cut, sorted(ends))


@pytest.mark.parametrize("size", [0, 200, 300, 70_000, 3_000_000])
@pytest.mark.parametrize("streamed", [False, True])
def test_frame_walker_reads_the_window_zstandard_reads(size: int, streamed: bool) -> None:
    from consentry.platform.lines import ZstdWindowError

    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    compressor = zstandard.ZstdCompressor(level=3)
    if streamed:
        chunks = compressor.compressobj()
        data = chunks.compress(payload) + chunks.flush()
    else:
        data = compressor.compress(payload)
    window = zstandard.get_frame_parameters(data).window_size
    exact = ZstdFrames(window)
    exact.feed(data)
    assert exact.between_frames
    with pytest.raises(ZstdWindowError):
        ZstdFrames(window - 1).feed(data)
