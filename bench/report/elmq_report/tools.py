"""The elmq executable: running its subcommands and finding out what this build offers.

Each experiment family needs a subcommand (`train`, `eval`, `quantize`, `train-mlp`). A
subcommand exists when `elmq COMMAND --help` succeeds; its options and quantization
methods are read from that help text, so the report follows the CLI as it grows.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .settings import KNOWN_METHODS

#: Exit status of the CLI for a bad command line (cli/commands.h): the build rejects the request.
USAGE_ERROR_STATUS = 2


class ToolError(Exception):
    """A tool run that failed, with its exit status and the message it printed."""

    def __init__(self, command: str, status: int, message: str) -> None:
        super().__init__(f"{command}: exit {status}: {message}")
        self.status = status
        self.message = message

    @property
    def rejected(self) -> bool:
        """True when the tool refused the request (a usage error), not a failure while running."""
        return self.status == USAGE_ERROR_STATUS


@dataclass(frozen=True)
class ToolRun:
    data: dict  # the JSON object the tool printed on stdout
    wall_seconds: float  # process wall-clock time, start to exit


@dataclass(frozen=True)
class Capability:
    """Whether a subcommand exists in this build, and what its help offers."""

    command: str
    available: bool
    reason: str  # why it is not available ("" when it is)
    options: frozenset[str] = frozenset()
    methods: tuple[str, ...] = ()  # quantization methods named by --method

    def has(self, option: str) -> bool:
        return option in self.options

    def to_dict(self) -> dict:
        return {"command": self.command, "available": self.available, "reason": self.reason,
                "options": sorted(self.options), "methods": list(self.methods)}


class Elmq:
    """The elmq command-line tool at `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def version(self) -> str:
        done = subprocess.run([str(self.path), "--version"], capture_output=True, text=True,
                              check=False)
        return done.stdout.strip() if done.returncode == 0 else "unknown"

    def build_id(self) -> str:
        """The version and a hash of the executable: any rebuild that changes it differs."""
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]
        return f"{self.version()} ({digest})"

    def help(self, command: str) -> str | None:
        """The --help text of `command`, or None when this build does not have it."""
        done = subprocess.run([str(self.path), command, "--help"], capture_output=True, text=True,
                              check=False)
        return done.stdout if done.returncode == 0 else None

    def run_json(self, command: str, args: list[str]) -> ToolRun:
        """Runs `elmq COMMAND ARGS --json` and parses its one JSON object.

        @raises ToolError when the tool exits with a non-zero status.
        """
        argv = [str(self.path), command, *args, "--json"]
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            raise ToolError(f"elmq {command}", done.returncode,
                            lines[-1] if lines else "no message")
        return ToolRun(json.loads(done.stdout), seconds)

    def capability(self, command: str) -> Capability:
        text = self.help(command)
        if text is None:
            return Capability(command, False,
                              f"not available in this build (`elmq {command} --help` failed)")
        options = frozenset(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", text))
        return Capability(command, True, "", options, _methods(text))


def _methods(help_text: str) -> tuple[str, ...]:
    """The known method names that the help of --method mentions."""
    lines = help_text.splitlines()
    for i, line in enumerate(lines):
        if re.search(r"(?<![\w-])--method\b", line):
            block = [line]
            for nxt in lines[i + 1:]:
                if re.match(r"\s*-", nxt) or not nxt.strip():
                    break
                block.append(nxt)
            text = " ".join(block)
            return tuple(m for m in KNOWN_METHODS if re.search(rf"(?<![\w-]){m}(?![\w-])", text))
    return ()
