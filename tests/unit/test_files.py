"""Writers of one folder (two evals, an eval and a report) in real processes and threads: nothing one
wrote is lost to the other, no raw OSError; staging folders of killed writers removed by the next
write; symlinks (dangling, looping, to another filesystem) handled up front or kept as they are."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fk_bench.errors import FkBenchError
from fk_bench.files import LOCK_NAME, STAGING_PREFIX, atomic_dir, check_writable_dir, is_staging, remove_stale_staging, write_text_atomic

WRITER = r"""
import random, sys, time
from pathlib import Path
from fk_bench.files import atomic_dir
run, kind, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
names = {"eval": ["results.json", "questions.csv"], "report": ["report.html", "report.json"]}[kind]
for i in range(rounds):
    with atomic_dir(run, keep_existing=True) as staging:
        for name in names:
            (staging / name).write_text(f"{kind} {i}")
        time.sleep(random.random() * 0.005)
print("done")
"""


def _user_files(run: Path) -> None:
    """What the user keeps in a run folder: a note, a folder of plots (enough that keeping them takes a
    while: without the lock, every run of the process test below loses files or fails with an OSError)."""
    run.mkdir(parents=True)
    (run / "notes.txt").write_text("mine")
    (run / "plots").mkdir()
    for i in range(100):
        (run / "plots" / f"{i}.png").write_bytes(b"png")


def _check_run(run: Path, last: dict[str, int]) -> None:
    assert (run / "notes.txt").read_text() == "mine" and all((run / "plots" / f"{i}.png").read_bytes() == b"png" for i in range(100))
    for kind, names in (("eval", ["results.json", "questions.csv"]), ("report", ["report.html", "report.json"])):
        for name in names:
            assert (run / name).read_text().startswith(f"{kind} "), f"{name} kept"
    assert (run / "report.html").read_text() == f"report {last['report']}", "the report's last write is the one left"
    assert [p.name for p in run.parent.iterdir() if p.name.startswith(STAGING_PREFIX)] == [], "no staging folder left"


def test_two_evals_and_a_report_in_processes_keep_each_others_files(tmp_path):
    run, rounds = tmp_path / "out" / "model", {"eval": 80, "report": 8}
    _user_files(run)
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(run), kind, str(rounds[kind])], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for kind in ("eval", "report", "eval")
    ]
    outputs = [writer.communicate(timeout=300) for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0, 0], [err for _, err in outputs]
    assert all(out.strip() == "done" and "Error" not in err for out, err in outputs), outputs
    _check_run(run, {"report": rounds["report"] - 1})


def test_writers_in_threads_keep_each_others_files(tmp_path):
    run, rounds, errors = tmp_path / "out" / "model", 25, []
    _user_files(run)

    def write(kind: str, names: list[str]) -> None:
        try:
            for i in range(rounds):
                with atomic_dir(run, keep_existing=True) as staging:
                    for name in names:
                        (staging / name).write_text(f"{kind} {i}")
        except Exception as err:
            errors.append(err)

    threads = [
        threading.Thread(target=write, args=args)
        for args in (("eval", ["results.json", "questions.csv"]), ("report", ["report.html", "report.json"]), ("eval", ["results.json"]))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    _check_run(run, {"report": rounds - 1})


KILLED = r"""
import os, sys
from pathlib import Path
from fk_bench.files import atomic_dir
with atomic_dir(Path(sys.argv[1]), keep_existing=True) as staging:
    (staging / "results.json").write_text("half")
    os.kill(os.getpid(), 9)
"""
HOLDING = r"""
import sys, time
from pathlib import Path
from fk_bench.files import atomic_dir
with atomic_dir(Path(sys.argv[1])) as staging:
    (staging / "results.json").write_text("slow")
    print("staged", flush=True)
    sys.stdin.readline()
"""


def test_a_killed_writers_staging_folder_goes_with_the_next_write(tmp_path):
    out = tmp_path / "out"
    killed = subprocess.run([sys.executable, "-c", KILLED, str(out / "model")], capture_output=True)
    assert killed.returncode == -9
    (staging,) = [p for p in out.iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert is_staging(staging / "results.json") and not is_staging(out / "model" / "results.json")
    with atomic_dir(out / "other") as new:  # the next write into OUT/, minutes (not hours) later
        (new / "results.json").write_text("{}")
    assert not staging.exists()
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME, "other"]


def test_a_live_writers_staging_folder_is_left_alone(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", HOLDING, str(out / "slow")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "staged"
        (staging,) = [p for p in out.iterdir() if p.name.startswith(STAGING_PREFIX)]
        assert remove_stale_staging(out) == [] and staging.exists(), "its writer holds OUT's lock: alive"
        write_text_atomic(out / "leaderboard.md", "# board")  # a file beside it is written meanwhile
    finally:
        holder.communicate("go\n", timeout=60)
    assert holder.returncode == 0 and (out / "slow" / "results.json").read_text() == "slow" and not staging.exists()


@pytest.mark.parametrize("kind", ["dangling", "loop", "dangling parent"])
def test_out_that_is_a_broken_symlink_fails_up_front(tmp_path, kind):
    link = tmp_path / "out"
    if kind == "loop":
        os.symlink(tmp_path / "loop-b", tmp_path / "loop-a")
        os.symlink(tmp_path / "loop-a", tmp_path / "loop-b")
        link = tmp_path / "loop-a"
        expected = "is a symlink loop"
    else:
        os.symlink(tmp_path / "gone", link)
        expected = "is a symlink to .*gone, which does not exist"
    target = link / "run" if kind == "dangling parent" else link
    with pytest.raises(FkBenchError, match=expected):
        check_writable_dir(target)
    with pytest.raises(FkBenchError, match=expected), atomic_dir(target) as staging:
        (staging / "x").write_text("x")
    with pytest.raises(FkBenchError, match=expected):
        write_text_atomic(target / "x.md", "x")


def test_cli_refuses_a_dangling_out_before_loading_the_model(tmp_path, capsys):
    from fk_bench.cli import main

    os.symlink(tmp_path / "gone", tmp_path / "out")
    assert main(["eval", "--model", str(tmp_path / "no-model-here"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "is a symlink to" in err and "which does not exist" in err
    assert "no-model-here" not in err, "the output folder is checked first"


def _other_device(tmp_path: Path) -> Path:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK) or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no writable folder on another filesystem (/dev/shm)")
    return shm


def test_symlinks_inside_a_run_folder_to_another_filesystem_stay_symlinks(tmp_path):
    elsewhere = Path(os.environ.get("TMPDIR_OTHER", _other_device(tmp_path))) / f"fk-bench-test-{os.getpid()}"
    elsewhere.mkdir()
    try:
        (elsewhere / "big.bin").write_bytes(b"data")
        run = tmp_path / "out" / "model"
        run.mkdir(parents=True)
        (run / "data").symlink_to(elsewhere)
        (run / "big.bin").symlink_to(elsewhere / "big.bin")
        (run / "dangling").symlink_to(tmp_path / "nowhere")
        for i in range(2):  # every later run writes as the first did
            with atomic_dir(run, keep_existing=True) as staging:
                (staging / "results.json").write_text(str(i))
        assert (run / "results.json").read_text() == "1"
        for name in ("data", "big.bin", "dangling"):
            assert (run / name).is_symlink(), f"{name} is still a symlink"
        assert os.readlink(run / "data") == str(elsewhere) and (run / "data" / "big.bin").read_bytes() == b"data"
        assert sorted(p.name for p in elsewhere.iterdir()) == ["big.bin"], "what the link points to is untouched"
    finally:
        for item in elsewhere.iterdir():
            item.unlink()
        elsewhere.rmdir()


def test_a_run_folder_that_is_a_symlink_is_written_through(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "notes.txt").write_text("mine")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "model").symlink_to(real)
    with atomic_dir(tmp_path / "out" / "model", keep_existing=True) as staging:
        (staging / "results.json").write_text("{}")
    assert (tmp_path / "out" / "model").is_symlink() and sorted(p.name for p in real.iterdir()) == ["notes.txt", "results.json"]
    (tmp_path / "board.md").symlink_to(real / "board.md")
    write_text_atomic(tmp_path / "board.md", "# board")
    assert (tmp_path / "board.md").is_symlink() and (real / "board.md").read_text() == "# board"


def test_a_writer_holding_the_lock_writes_through_any_spelling_of_the_folder(tmp_path):
    """Nested writes in one thread (a report holds OUT's lock, then replaces OUT/<run>/) never wait on themselves."""
    from fk_bench.files import folder_lock

    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    done = threading.Event()

    def nested() -> None:
        with folder_lock(tmp_path / "real"), atomic_dir(tmp_path / "alias" / "run") as staging:
            (staging / "a").write_text("a")
            write_text_atomic(tmp_path / "alias" / "b.json", "{}")
        done.set()

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert done.is_set(), "the thread waited on its own lock"
    assert (tmp_path / "real" / "run" / "a").read_text() == "a"


# ---------------------------------------------------------------- the strict JSON reader


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b'{"x": NaN}', "holds NaN"),
        (b'{"x": -Infinity}', "holds -Infinity"),
        (b"[" * 5000 + b"]" * 5000, "nested 5000 levels deep"),
        (b'{"x": 1', "not valid JSON"),
        (b"\xff\xfe{\x00}\x00", "UTF-16"),
        (b'{"x": "\xe9"}', "not UTF-8"),
        (b"", "not valid JSON"),
    ],
)
def test_read_json_refuses_with_one_line(tmp_path: Path, raw: bytes, message: str) -> None:
    from fk_bench.files import read_json

    path = tmp_path / "bad.json"
    path.write_bytes(raw)
    with pytest.raises(FkBenchError, match=message) as err:
        read_json(path, "results file")
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_read_json_accepts_a_bom_and_brackets_inside_strings(tmp_path: Path) -> None:
    from fk_bench.files import read_json

    path = tmp_path / "ok.json"
    path.write_bytes(b'\xef\xbb\xbf{"s": "' + b"[" * 200 + b'\\"{", "t": []}')
    assert read_json(path) == {"s": "[" * 200 + '"{', "t": []}


def test_read_json_refuses_a_huge_file_before_reading_it(tmp_path: Path) -> None:
    from fk_bench.files import read_json

    path = tmp_path / "huge.json"
    path.write_bytes(b"[" + b"0," * 1000 + b"0]")
    with pytest.raises(FkBenchError, match="more than the 100 fk-bench reads"):
        read_json(path, max_bytes=100)


def test_read_json_refuses_a_fifo_without_hanging(tmp_path: Path) -> None:
    from fk_bench.files import read_json

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(FkBenchError, match="not a regular file"):
        read_json(fifo)
