"""What a model's code can do in a session: run, keep its variables, read the files it was given,
show charts and write files that come back."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from assistctl.local.sandbox import DataFile, ExecutionStatus, Limits
from assistctl.local.sandbox.executor import CodeExecutor

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def executor(sandbox_available: None) -> Iterator[CodeExecutor]:
    with CodeExecutor(Limits(wall_seconds=60)) as executor:
        yield executor


def test_python_code_solving_an_equation_really_runs(executor: CodeExecutor) -> None:
    """A fresh session: no name of the sandbox's own start-up code is left for the model."""
    code = "a, b, c = 3, 11, 14\nx = (c - b) / a\nassert a * x + b == c\nprint(f'x = {x:g}')"
    result = executor.execute("solve", code)
    assert result.status is ExecutionStatus.OK
    assert result.logs == "x = 1\n"
    assert result.message is None and not result.truncated and not result.restarted
    names = executor.execute("solve", "print(sorted(n for n in globals() if 'assistctl' in n))")
    assert names.logs == "[]\n"


def test_variables_persist_within_a_session_and_not_across_sessions(
    executor: CodeExecutor,
) -> None:
    assert executor.execute("persist-a", "answer = 42").status is ExecutionStatus.OK
    assert executor.execute("persist-a", "print(answer)").logs == "42\n"
    other = executor.execute("persist-b", "print(answer)")
    assert other.status is ExecutionStatus.ERROR
    assert "NameError: name 'answer' is not defined" in other.logs


def test_stdout_stderr_and_shown_values_are_in_the_logs_in_order(executor: CodeExecutor) -> None:
    code = "import sys\nprint('out')\nsys.stdout.flush()\nprint('err', file=sys.stderr)\n6 * 7"
    result = executor.execute("logs", code)
    assert result.logs == "out\nerr\n42\n"


def test_an_exception_is_an_error_with_its_traceback_and_the_session_lives_on(
    executor: CodeExecutor,
) -> None:
    executor.execute("raise", "kept = 'yes'")
    result = executor.execute("raise", "1 / 0")
    assert result.status is ExecutionStatus.ERROR
    assert "ZeroDivisionError: division by zero" in result.logs
    assert "\x1b[" not in result.logs
    assert executor.execute("raise", "print(kept)").logs == "yes\n"


def test_a_csv_given_as_a_file_is_summarised_with_pandas(executor: CodeExecutor) -> None:
    pytest.importorskip("pandas")
    csv = DataFile("sales.csv", b"city,sales\nOslo,10\nBergen,30\nOslo,20\n")
    code = (
        "import pandas as pd\n"
        "frame = pd.read_csv('/mnt/data/sales.csv')\n"
        "print(frame.groupby('city')['sales'].sum().to_dict(), len(frame))"
    )
    result = executor.execute("csv", code, [csv])
    assert result.status is ExecutionStatus.OK, result.tool_logs
    assert result.logs == "{'Bergen': 30, 'Oslo': 30} 3\n"
    assert result.files == ()


def test_a_matplotlib_chart_comes_back_as_png_bytes(executor: CodeExecutor) -> None:
    pytest.importorskip("matplotlib")
    code = (
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3], [1, 4, 9])\n"
        "plt.title('squares')\n"
        "plt.show()"
    )
    result = executor.execute("chart", code)
    assert result.status is ExecutionStatus.OK, result.tool_logs
    assert len(result.images) == 1
    assert result.images[0].startswith(PNG_SIGNATURE)
    assert len(result.images[0]) > 1000


def test_files_written_under_mnt_data_come_back_once_and_again_when_changed(
    executor: CodeExecutor,
) -> None:
    code = (
        "import os\n"
        "os.makedirs('charts', exist_ok=True)\n"
        "open('/mnt/data/report.txt', 'w').write('done')\n"
        "open('charts/a.txt', 'w').write('A')"
    )
    result = executor.execute("outputs", code)
    assert sorted((item.name, item.data) for item in result.files) == [
        ("charts/a.txt", b"A"),
        ("report.txt", b"done"),
    ]
    assert executor.execute("outputs", "print('nothing written')").files == ()
    changed = executor.execute("outputs", "open('report.txt', 'a').write(' twice')")
    assert [(item.name, item.data) for item in changed.files] == [("report.txt", b"done twice")]


def test_input_files_are_written_once_so_the_codes_changes_to_them_stay(
    executor: CodeExecutor,
) -> None:
    given = [DataFile("n.txt", b"1")]
    first = executor.execute("inputs", "print(open('n.txt').read())", given)
    assert first.logs == "1\n" and first.files == ()
    edited = executor.execute("inputs", "open('n.txt', 'w').write('2')", given)
    assert [(item.name, item.data) for item in edited.files] == [("n.txt", b"2")]
    assert executor.execute("inputs", "print(open('n.txt').read())", given).logs == "2\n"
    replaced = executor.execute("inputs", "print(open('n.txt').read())", [DataFile("n.txt", b"3")])
    assert replaced.logs == "3\n"


@pytest.mark.parametrize("name", ["", ".", "..", "../up.txt", "a/b.txt", "nul\0.txt"])
def test_input_file_names_must_be_plain_names(executor: CodeExecutor, name: str) -> None:
    with pytest.raises(ValueError, match="not a plain file name"):
        executor.execute("names", "1", [DataFile(name, b"x")])


def test_logs_are_cut_at_the_output_cap(executor: CodeExecutor) -> None:
    result = executor.execute("cap", "print('z' * 200_000)")
    assert result.status is ExecutionStatus.OK
    assert result.truncated
    cap = executor.limits.output_bytes
    assert result.logs.startswith("z" * cap)
    assert result.logs.endswith(f"\n[output truncated after {cap} bytes]")


def test_sessions_run_in_parallel(executor: CodeExecutor) -> None:
    for name in ("parallel-a", "parallel-b"):
        executor.execute(name, "import time")
    results = {}

    def run(name: str) -> None:
        results[name] = executor.execute(name, "time.sleep(1.5)")

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(name,)) for name in ("parallel-a", "parallel-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started < 2.8
    assert all(result.status is ExecutionStatus.OK for result in results.values())
