"""Instructions one ``redact`` call executes, counted by valgrind's callgrind: a measure of the engine's work that
does not move with the machine's load (CPU times on a shared machine vary by a third from run to run).

    python benchmarks/redact_instructions.py code dense transcript secrets hashes [--kb 1000]

Each input is bench_redact.py's, cut to its first ``--kb`` thousand characters. The count is that of a process
making two calls less that of one making one (start-up, imports and the first call's compiling cancel out). Needs
valgrind; about a minute per input.
"""

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD = """
import sys
sys.path[:0] = [{here!r}, {tests!r}]
import bench_redact as b
from git_ml.capture.redaction import redact
text = {{"code": b.source_code, "dense": lambda: b.secret_dense()[0], "transcript": b.transcript,
         "secrets": lambda: b.with_secrets(b.transcript())[0], "hashes": b.hashes_and_uuids}}[{name!r}]()[:{chars}]
redact(text[:200000])
for _ in range({calls}):
    redact(text)
"""


def instructions(name: str, chars: int, calls: int) -> int:
    code = CHILD.format(here=str(HERE), tests=str(HERE.parent / "tests" / "capture"), name=name, chars=chars,
                        calls=calls)
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c",
                          code], capture_output=True, text=True, check=True).stderr
    line = next(line for line in out.splitlines() if "Collected" in line)
    return int(line.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", choices=["code", "dense", "transcript", "secrets", "hashes"])
    parser.add_argument("--kb", type=int, default=1000, help="thousands of characters of each input")
    args = parser.parse_args()
    for name in args.inputs:
        n = instructions(name, args.kb * 1000, 2) - instructions(name, args.kb * 1000, 1)
        print(f"{name}: {args.kb} thousand characters, {n / 1e6:.0f} M instructions per redact call")


if __name__ == "__main__":
    main()
