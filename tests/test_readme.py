"""README's Python examples run as written (on the shipped digits table), so the documentation cannot
drift from the API."""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from nasbench_suite.errors import SplitNotAvailableError

README = Path(__file__).resolve().parents[1] / "README.md"
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


def _blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def _block(first_line: str) -> str:
    found = [b for b in _blocks() if b.splitlines()[0] == first_line]
    assert len(found) == 1, f"README has {len(found)} python blocks starting {first_line!r}"
    return found[0]


def test_every_python_block_is_run_here() -> None:
    assert len(_blocks()) == 5, "a README python block was added or removed: run it in this file"


def test_table_queries_example() -> None:
    *body, last = _block("import numpy as np").rstrip().splitlines()
    namespace: dict = {}
    exec("\n".join(body), namespace)
    assert "search.metric(" in last and "SplitNotAvailableError" in last
    with pytest.raises(SplitNotAvailableError):
        exec(last, namespace)


def test_search_and_own_strategy_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nasbench_suite import strategy
    from nasbench_suite.simulator import Budget, Oracle, run_search
    from nasbench_suite.table import load_table

    monkeypatch.chdir(tmp_path)  # the example writes runs/rea
    monkeypatch.setattr(strategy, "_REGISTERED", dict(strategy._REGISTERED))  # its registration ends here
    script = tmp_path / "search_example.py"  # run as README's readers run it: a script whose workers import it
    script.write_text(_block("from nasbench_suite.evaluation import EvalSpec"), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert pd.read_parquet(tmp_path / "runs" / "rea" / "trajectories.parquet")["incumbent_test_acc"].notna().all()
    assert "count    100.0" in done.stdout  # results.final()["incumbent_test_acc"].describe(): one row per seed
    namespace: dict = {}
    exec(_block("from dataclasses import dataclass"), namespace)
    trajectory = run_search(strategy.make_strategy("greedy-mutation", {"explore": 0.3}), Oracle(load_table("digits")),
                            Budget(queries=40), seed=0)
    assert len(trajectory) == 40


def test_latency_example() -> None:
    from nasbench_suite.latency import shipped_latency_folders

    code = _block("from nasbench_suite.latency import load_latency, import_device_csv")
    digits = next(p for p in shipped_latency_folders() if p.name.startswith("digits-cpu-"))
    code = code.replace('"latency/digits-cpu"', repr(str(digits)))  # the folder the README measures first
    csv = REFERENCE / "nb201_latency_help_27devices.csv"
    if csv.is_file():
        code = code.replace('"../shared/reference/nb201_latency_help_27devices.csv"', repr(str(csv)))
    else:  # the published device table is local data, not in every checkout
        code = "\n".join(line for line in code.splitlines() if "import_device_csv(" not in line)
    namespace: dict = {}
    exec(code, namespace)
    assert namespace["name"].startswith("latency_ms_b1@")
    if csv.is_file():
        assert namespace["pixel3"].of(1).shape == (15625,)


def test_nats_compat_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a generated NATS-Bench folder (NATS-Bench's own index order) holding the two cells it reads."""
    from nats_generator import arch_record, write_meta, write_pbz2

    from nasbench_suite.nats_import import import_nats_tss
    from nasbench_suite.space import Arch, nb201_order

    code = _block("from nasbench_suite.nats_compat import create   # was: from nats_bench import create")
    strings = [Arch.from_index(int(i)).to_str() for i in nb201_order()]
    src = tmp_path / "src"
    src.mkdir()
    write_meta(src, strings)
    for i in (strings.index(re.search(r'arch_str = "(.*)"', code).group(1)), 1234):
        write_pbz2(arch_record(i, strings[i]), src / f"{i:06d}.pickle.pbz2")
    import_nats_tss(src, tmp_path / "tables", progress=False)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(code, namespace)
    assert 0 < namespace["info"]["test-accuracy"] < 100


def _commands() -> list[list[str]]:
    """Every ``nasbench ...`` command of README's bash blocks, as argument lists (``[optional]``
    brackets dropped, so the options inside them are parsed too)."""
    import shlex

    text = README.read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            lexer = shlex.shlex(line.replace("[", "").replace("]", ""), posix=True, punctuation_chars=True)
            lexer.whitespace_split, lexer.commenters = True, "#"
            command: list[str] = []
            for token in [*lexer, ";"]:
                if token in ("&&", "||", ";", "|", ">", "2>"):
                    if command[:1] == ["nasbench"]:
                        out.append(command[1:])
                    command = ["(redirect)"] if token in (">", "2>") else []
                else:
                    command.append(token)
    return out


def test_every_command_line_in_the_readme_parses() -> None:
    """The flags, choices and number formats README shows exist (nothing is run)."""
    from nasbench_suite.cli import build_parser

    commands = _commands()
    assert len(commands) >= 40
    parser = build_parser()
    for args in commands:
        try:
            parser.parse_args(args)
        except SystemExit:
            pytest.fail(f"README command does not parse: nasbench {' '.join(args)}")


def _subcommands() -> list[tuple[str, argparse.ArgumentParser]]:
    """Every command of ``build_parser()`` as (``"latency measure"``, its parser), nested actions walked."""
    from nasbench_suite.cli import build_parser

    out = []
    todo = [("", build_parser())]
    while todo:
        name, parser = todo.pop(0)
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out.append((name, parser))
        for action in subs:
            todo += [(f"{name} {sub}".strip(), p) for sub, p in action.choices.items()]
    return out


def _parts(text: str) -> list[tuple[str, str]]:
    """README as ("code", a fenced block with its fences) and ("prose", a paragraph, table or heading), in order."""
    out: list[tuple[str, str]] = []
    for piece in re.split(r"(^```.*?^```$)", text, flags=re.S | re.M):
        if piece.startswith("```"):
            out.append(("code", piece))
        else:
            out += [("prose", p) for p in re.split(r"\n\s*\n", piece) if p.strip()]
    return out


def _about(command: str, parts: list[tuple[str, str]]) -> str:
    """README's text about ``nasbench COMMAND``: its command lines in bash blocks (continuations joined,
    with their comments; a line holding two commands counts for both), every paragraph that names
    ``nasbench COMMAND``, and the prose under a bash block whose first command is it (its option table and
    explanation), up to the next code block or heading."""
    names = re.compile(rf"(?<![\w./-])nasbench {re.escape(command)}(?![\w-])")
    text, under = [], False
    for kind, part in parts:
        if kind == "code":
            lines = part.replace("\\\n", " ").splitlines()
            text += [line for line in lines if names.search(line)]
            first = re.search(r"(?<![\w./-])nasbench\s.*", part)
            under = part.startswith("```bash") and first is not None and names.match(first.group()) is not None
        else:
            under = under and not part.startswith("#")
            if under or names.search(part):
                text.append(part)
    return "\n".join(text)


def _undocumented(readme: str) -> list[str]:
    parts = _parts(readme)
    missing = []
    for command, parser in _subcommands():
        about = _about(command, parts)
        for action in parser._actions:
            for option in action.option_strings:
                if not isinstance(action, argparse._HelpAction) and \
                        not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", about):
                    missing.append(f"nasbench {command} {option}")
    return missing


def test_every_option_of_every_command_is_explained_with_its_command() -> None:
    """Each option string of each subcommand appears in README where that command is explained (see
    :func:`_about`), so an option added to the parser without a word in README fails here."""
    commands = dict(_subcommands())
    assert len(commands) >= 19 and "latency measure" in commands and "import nats-tss" in commands
    missing = _undocumented(README.read_text(encoding="utf-8"))
    assert not missing, f"README does not explain, where it explains the command: {', '.join(missing)}"


def test_the_option_check_sees_an_option_only_near_its_own_command() -> None:
    """Not on another command's line, nor in a paragraph past a heading; in the table under its block."""
    readme = ("```bash\nnasbench query digits 0 --split valid --json\nnasbench info digits --seed 1\n```\n\n"
              "| `--epoch` | under the block of query |\n\n## Info\n\n`nasbench info` shows `--seed`.\n")
    missing = [m for m in _undocumented(readme) if m.startswith(("nasbench query ", "nasbench info "))]
    assert missing == ["nasbench info --json", "nasbench query --seed"]
