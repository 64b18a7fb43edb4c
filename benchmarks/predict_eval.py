"""Walk-forward evaluation of `git ml predict` on the shared recorded histories, as a markdown table.

    /work/venv/bin/python benchmarks/predict_eval.py [--repos requests flask typer git] [--offline] [--json]

Runs exactly the protocol of shared/datasets/README.md (the code behind `git ml predict evaluate`, fed from the
dataset files instead of the store) and prints, per repository, our figures next to the README's fused reference,
plus the wall time of each evaluation. The README's n must be matched: the script fails loudly if it is not.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from git_ml.predict.dataset import load_history  # noqa: E402
from git_ml.predict.evaluate import evaluate  # noqa: E402

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
# README: n, MRR, P@1, R@5, R@10 of the fused reference (git: all 12,052 scored; with the bot filter n is 12,048)
FUSED = {
    "requests": (898, 0.620, 0.522, 0.663, 0.757),
    "flask": (665, 0.609, 0.502, 0.593, 0.676),
    "typer": (249, 0.882, 0.851, 0.879, 0.898),
    "git": (12048, 0.689, 0.603, 0.647, 0.713),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos", nargs="+", default=["requests", "flask", "typer", "git"])
    ap.add_argument("--offline", action="store_true", help="do not learn the test commits")
    ap.add_argument("--all-commits", action="store_true", help="score bot commits too")
    ap.add_argument("--json", action="store_true", help="print one JSON object per repository")
    args = ap.parse_args()
    rows = []
    for name in args.repos:
        path = DATASETS / f"{name}.history.jsonl.zst"
        if not path.exists():
            print(f"skip {name}: {path} not found", file=sys.stderr)
            continue
        commits = load_history(path)
        t0 = time.perf_counter()
        rep = evaluate(commits, online=not args.offline, all_commits=args.all_commits)
        rep["seconds"] = round(time.perf_counter() - t0, 1)
        rep["repo"] = name
        want = FUSED[name][0] + (4 if name == "git" and args.all_commits else 0)
        if rep["n"] != want:
            print(f"{name}: n = {rep['n']}, the README says {want}", file=sys.stderr)
            return 1
        rows.append(rep)
        if args.json:
            print(json.dumps(rep), flush=True)
    if args.json:
        return 0
    cmd = "/work/venv/bin/python benchmarks/predict_eval.py " + " ".join(sys.argv[1:])
    print(f"`{cmd.strip()}`\n")
    print("| repo | model | n | MRR | P@1 | R@5 | R@10 | eval time |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        ref = FUSED[r["repo"]]
        print(f"| {r['repo']} | fused (README) | {ref[0]:,} | {ref[1]:.3f} | {ref[2]:.3f} | {ref[3]:.3f} | "
              f"{ref[4]:.3f} | |")
        mode = "online" if not args.offline else "offline"
        print(f"| {r['repo']} | git-ml predict ({mode}) | {r['n']:,} | **{r['mrr']:.3f}** | {r['p_at_1']:.3f} | "
              f"{r['recall_at_5']:.3f} | **{r['recall_at_10']:.3f}** | {r['seconds']:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
