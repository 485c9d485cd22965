"""The console scripts end their process without finalizing Python (kb/entry.py): every byte of the
output is out, the exit status is the command's, and a command that leaves a thread running still
waits for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

BIN = Path(sys.executable).parent


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def test_the_kb_script_answers_whole_and_exits_with_the_commands_status(kb_db):
    """A large answer through a pipe (the whole coverage report), a refusal, a usage error."""
    answer = _run([str(BIN / "kb"), "--db", str(kb_db), "coverage", "--json"])
    assert answer.returncode == 0, answer.stderr
    assert len(json.loads(answer.stdout)["pages"]) > 1000 and answer.stderr == ""
    refused = _run([str(BIN / "kb"), "--db", str(kb_db), "requirements", "NoSuchApi"])
    assert refused.returncode == 1 and refused.stderr.startswith("kb: ") and refused.stderr.count("\n") == 1
    usage = _run([str(BIN / "kb"), "--db", str(kb_db), "requirements"])
    assert usage.returncode == 2 and usage.stdout == ""


def test_the_ingest_script_and_python_dash_m_take_the_same_door(tmp_path):
    assert _run([str(BIN / "ingest"), "--help"]).returncode == 0
    missing = _run([sys.executable, "-m", "ingest", "build", "--db", str(tmp_path / "kb.db"), "--source",
                    str(tmp_path / "nowhere.md"), "--lang", "en"])
    assert missing.returncode == 1 and "nowhere.md" in missing.stderr and "Traceback" not in missing.stderr


def test_a_full_disk_under_the_output_is_one_line(kb_db):
    for args in (["requirements", "CreateModel"], ["coverage", "--json"]):  # a line, and a large answer
        with open("/dev/full", "w") as full:
            proc = subprocess.run([str(BIN / "kb"), "--db", str(kb_db), *args], stdout=full, stderr=subprocess.PIPE,
                                  text=True, timeout=120)
        assert proc.returncode == 1
        assert proc.stderr == "kb: cannot write the output: No space left on device\n", proc.stderr


def test_a_message_exit_and_a_closed_pipe_end_as_python_ends_them():
    said = _run([sys.executable, "-c", "from kb.entry import leave; leave('bye')"])
    assert (said.returncode, said.stderr) == (1, "bye\n")
    read, write = os.pipe()
    os.close(read)  # nobody reads: the flush of what is buffered fails
    try:
        proc = subprocess.run([sys.executable, "-c", "import sys; sys.stdout.write('x' * 10)\n"
                               "from kb.entry import leave; leave(0)"], stdout=write, stderr=subprocess.PIPE,
                              timeout=60, env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"})
    finally:
        os.close(write)
    assert proc.returncode == 120


def test_a_command_that_leaves_a_thread_running_waits_for_it(tmp_path):
    """A server's threads are joined as Python's own exit joins them: os._exit would cut them off."""
    done = tmp_path / "done"
    (tmp_path / "threaded_command.py").write_text(textwrap.dedent(f"""
        import threading, time

        def main():
            def finish():
                time.sleep(0.3)
                open({str(done)!r}, "w").write("finished")
            threading.Thread(target=finish).start()
    """), encoding="utf-8")
    proc = _run([sys.executable, "-c", "from kb.entry import run; run('threaded_command')"],
                env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert done.read_text() == "finished"


def test_a_bare_command_shows_its_help_as_written():
    for script in ("kb", "ingest"):
        proc = _run([str(BIN / script)])
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.startswith(f"Usage: {script} [OPTIONS] COMMAND [ARGS]...\n\n"), proc.stderr
        assert "\nCommands:\n" in proc.stderr and proc.stderr.count("\n") > 10
