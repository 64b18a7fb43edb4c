"""Where one ``redact`` call's CPU time goes, rule by rule, and what finding and replacing the same number of
candidates costs with nothing else (one C regex, one Python step per candidate): the floor any engine written in
Python pays before it decides whether a candidate is a secret.

    python benchmarks/redact_breakdown.py dense code [--kb 1000] [--rounds 5]

Inputs are bench_redact.py's, cut to their first ``--kb`` thousand characters. Each rule's time is the best of
``--rounds`` of ``spans`` plus the replacement, over the text as the rules before it left it (the first pass of
``redact``; the second, over lines holding a placeholder, is in the total only). The provider-token scan is also
timed with the checks of its candidates' random parts answered by constants.
"""

import argparse
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests" / "capture")]

import bench_redact as b  # noqa: E402

from git_ml.capture.redaction import redact  # noqa: E402
from git_ml.capture.redaction.engine import RULES  # noqa: E402
from git_ml.capture.redaction.looks import placeholder  # noqa: E402
from git_ml.capture.redaction.rules import tokens  # noqa: E402

INPUTS = {"code": b.source_code, "dense": lambda: b.secret_dense()[0], "transcript": b.transcript,
          "secrets": lambda: b.with_secrets(b.transcript())[0], "hashes": b.hashes_and_uuids}
_RUN = re.compile(r"[A-Za-z0-9_+/%~.=:-]{16,}")  # runs of token characters: as many candidates as secrets, or more


def _replace(text: str, spans) -> tuple[str, int]:
    pieces, pos, n = [], 0, 0
    for start, end, kind in spans:
        if start >= pos:
            pieces += (text[pos:start], placeholder(kind))
            pos, n = end, n + 1
    return ("".join(pieces) + text[pos:], n) if n else (text, 0)


def _best(rounds: int, run) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(rounds):
        start = time.process_time()
        out = run()
        best = min(best, time.process_time() - start)
    return best, out


def breakdown(name: str, chars: int, rounds: int) -> None:
    text = INPUTS[name]()[:chars]
    redact(text[:200_000])  # compile what the rules compile on first use
    mb = len(text.encode()) / 1e6
    total, (_, counts) = _best(rounds, lambda: redact(text))
    print(f"{name}: {mb:.2f} MB, {sum(counts.values())} redactions, {total * 1e3:.1f} ms CPU = {mb / total:.1f} MB/s")
    current = text
    for rule in RULES:
        spent, (current, n) = _best(rounds, lambda: _replace(current, list(rule.spans(current))))
        print(f"  {rule.name:24s} {spent * 1e3:7.1f} ms  {n:6d} replaced")
    scanner = next(rule for rule in RULES if isinstance(rule, tokens.TokenScanner))
    checks = tokens.machine_made_all, tokens.looks_fake_all
    tokens.machine_made_all, tokens.looks_fake_all = (lambda s: [True] * len(s)), (lambda s: [False] * len(s))
    try:  # every candidate taken as random and no look-alike: the scan's time without its checks
        unchecked, _ = _best(rounds, lambda: list(scanner.spans(text)))
    finally:
        tokens.machine_made_all, tokens.looks_fake_all = checks
    print(f"  provider tokens without the checks of their random parts: {unchecked * 1e3:.1f} ms")
    floor, found = _best(rounds, lambda: _replace(text, ((m.start(), m.end(), "x") for m in _RUN.finditer(text))))
    print(f"  floor: {found[1]} runs found and replaced in {floor * 1e3:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", choices=sorted(INPUTS))
    parser.add_argument("--kb", type=int, default=1000, help="thousands of characters of each input")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for name in args.inputs:
        breakdown(name, args.kb * 1000, args.rounds)


if __name__ == "__main__":
    main()
