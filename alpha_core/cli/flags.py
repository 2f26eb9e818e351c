"""The README's list of ``alpha run`` flags with choices, generated from the declarations.

``python -m alpha_core.cli.flags`` prints the block that the README holds between its
markers (``tests/test_docs_lists.py`` checks they agree), so a new option value or setting
reaches the README's list by itself.
"""

from __future__ import annotations

from datetime import date

from alpha_core.config import SECTIONS, RunConfig, Setting, model_type_infos, settings

WIDTH = 95


def flag_lines() -> list[str]:
    """``#   --flag {a,b}  --flag N ...`` lines, one group per Train-page section."""
    lines: list[str] = []
    for section in SECTIONS:
        words = [_word(s) for s in settings(RunConfig) if s.spec.section == section]
        line = f"# {section}:"
        for word in words:
            if len(line) + 2 + len(word) > WIDTH:
                lines.append(line)
                line = "#  "
            line += f"  {word}"
        lines.append(line)
    return [*lines, preset_line()]


METAVARS = {int: "N", float: "X", tuple: "A,B", str: "TEXT", date: "YYYY-MM-DD"}


def _word(s: Setting) -> str:
    options = s.options()
    if options is not None and s.kind is not tuple:
        return f"{s.flag} {{{','.join(options)}}}"
    return s.flag if s.kind is bool else f"{s.flag} {METAVARS[s.kind]}"


def preset_line() -> str:
    names = dict.fromkeys(p for info in model_type_infos().values() for p in info.presets)
    return f"# --model-preset {{{','.join(names)}}} (a preset of the --model-type)"


if __name__ == "__main__":
    print("\n".join(flag_lines()))
