"""git-ml-predict: which files will this task change.

    git ml predict "TASK" [--top N] [--seed FILE ...] [--json] [--explain]
    git ml predict train | evaluate [...] | stats [--json]
    git ml predict -- "train the model"      (text that starts with a subcommand word)

``main`` dispatches on sys.argv before any CLI framework is imported: the task path parses its few options by hand
and imports only what predicting needs (numpy, msgspec, pygit2), so a prediction stays within its start-up budget.
Every form is also a typer command (``click_commands``) for help and man pages; anything the quick parser does not
understand (``--help``, a bad option) goes through typer for the proper message.
"""

from __future__ import annotations

import os
import sys

PROG = "git-ml-predict"
SUBCOMMANDS = ("train", "evaluate", "stats")


# -- the work -------------------------------------------------------------------------------------------------------


def do_predict(task: str, top: int = 10, seeds: list[str] | None = None, as_json: bool = False,
               explain: bool = False) -> int:
    from git_ml.errors import GitMlError

    if not task or not task.strip():
        raise GitMlError("empty task: describe the change, e.g. git ml predict \"fix proxy auth on redirect\"")
    if top < 1:
        raise GitMlError("--top must be at least 1")
    results = None
    if not os.environ.get("GIT_ML_PREDICT_NO_LITE"):
        # the quick path: standard library only; None when the model must be (re)built or folded first
        from git_ml.predict import lite

        results = lite.predict(task, top=top, seeds=seeds, explain=explain)
    if results is None:
        from git_ml.predict.api import author_of, load_predictor
        from git_ml.repo import open_repository

        repo = open_repository()
        pred = load_predictor(repo)
        seeds = [_repo_path(repo, s) for s in seeds or []]
        results = pred.predict(task, top=top, seeds=seeds, author=author_of(repo), explain=explain)
    out = sys.stdout
    if as_json:
        import json

        out.write(json.dumps(results, ensure_ascii=False) + "\n")
        return 0
    if not results:
        out.write("no suggestion: the learnt history has no live files\n")
        return 0
    for item in results:
        out.write(f"{item['score']:8.3f}  {item['path']}\n")
        for why in item.get("why", []):
            out.write(f"          - {why}\n")
    return 0


def _repo_path(repo, path: str) -> str:
    """A seed given relative to the current directory, as a path relative to the repository root."""
    import os

    from git_ml.repo import workdir

    root = workdir(repo)
    if root is not None and not os.path.isabs(path):
        full = os.path.abspath(path)
        if os.path.exists(full):
            rel = os.path.relpath(full, root)
            if not rel.startswith(".."):
                return rel.replace(os.sep, "/")
    elif root is not None:
        rel = os.path.relpath(path, root)
        if not rel.startswith(".."):
            return rel.replace(os.sep, "/")
    return path.replace(os.sep, "/").lstrip("./") if path.startswith("./") else path


def do_train(as_json: bool = False) -> int:
    from git_ml.predict.api import train
    from git_ml.repo import open_repository

    info = train(open_repository())
    if as_json:
        import json

        print(json.dumps(info))
    else:
        print(f"trained on {info['commits']} commits: {info['files']} files, vocabulary {info['vocabulary']}, "
              f"model {info['bytes'] / 1e6:.1f} MB, {info['seconds']:.1f} s")
    return 0


def do_stats(as_json: bool = False) -> int:
    from git_ml.predict.api import stats
    from git_ml.repo import open_repository

    info = stats(open_repository())
    if as_json:
        import json

        print(json.dumps(info))
        return 0
    print(f"commits learnt   {info['commits']}" + (f" ({info['journal_commits']} from the journal)"
                                                     if info["journal_commits"] else ""))
    print(f"files            {info['files']} live ({info['files_ever']} ever)")
    print(f"vocabulary       {info['vocabulary']}")
    print(f"authors          {info['authors']}")
    print(f"model size       {info['model_bytes'] / 1e6:.2f} MB")
    print(f"trained at       {info['trained_at']}")
    print(f"updated at       {info['updated_at']}")
    print("weights          " + ", ".join(f"{k} {v:g}" for k, v in info["weights"].items()))
    return 0


def do_evaluate(split: float = 0.2, online: bool = True, all_commits: bool = False, as_json: bool = False,
                predictions: str | None = None) -> int:
    import json
    import time

    from git_ml.cli.common import Progress
    from git_ml.errors import GitMlError
    from git_ml.predict.evaluate import dump_prediction, evaluate
    from git_ml.predict.history import NO_HISTORY, captured_commits
    from git_ml.repo import open_repository

    if not 0.0 < split < 1.0:
        raise GitMlError("--split must be between 0 and 1 (the test fraction, e.g. 0.2)")
    repo = open_repository()
    commits, _ = captured_commits(repo)
    if not commits:
        raise GitMlError(NO_HISTORY)
    fh = None
    if predictions:
        try:
            fh = open(predictions, "w", encoding="utf-8")
        except OSError as exc:
            raise GitMlError(f"cannot write {predictions}: {exc.strerror}") from None
    t0 = time.monotonic()
    progress = Progress("evaluating")
    try:
        report = evaluate(commits, split=split, online=online, all_commits=all_commits,
                          predictions=dump_prediction(fh) if fh else None, progress=progress.advance)
    finally:
        progress.close()
        if fh:
            fh.close()
    if report["n"] == 0:
        raise GitMlError("nothing to score: the test part has no commit with 1 to 30 files")
    if as_json:
        keys = ("n", "automated_skipped", "mrr", "p_at_1", "recall_at_5", "recall_at_10")
        print(json.dumps({k: report[k] for k in keys}))
        return 0
    mode = "online" if online else "offline"
    print(f"{mode} walk-forward, last {split:g} of {report['train_commits'] + report['test_commits']} commits "
          f"({time.monotonic() - t0:.1f} s)")
    print(f"n                 {report['n']}")
    print(f"automated_skipped {report['automated_skipped']}")
    print(f"MRR@10            {report['mrr']:.3f}")
    print(f"P@1               {report['p_at_1']:.3f}")
    print(f"R@5               {report['recall_at_5']:.3f}")
    print(f"R@10              {report['recall_at_10']:.3f}")
    return 0


# -- quick path -----------------------------------------------------------------------------------------------------


class _Fallback(Exception):
    """The quick parser does not handle this command line: let typer do it."""


def _quick_parse(args: list[str]) -> dict:
    opts = {"task": None, "top": 10, "seeds": [], "as_json": False, "explain": False}
    words: list[str] = []
    i = 0
    only_text = False
    while i < len(args):
        a = args[i]
        if only_text or not a.startswith("-") or a == "-":
            words.append(a)
        elif a == "--":
            only_text = True
        elif a == "--json":
            opts["as_json"] = True
        elif a == "--explain":
            opts["explain"] = True
        elif a in ("--top", "-n", "--seed", "-s") or a.startswith(("--top=", "--seed=")):
            if "=" in a:
                name, value = a.split("=", 1)
            else:
                if i + 1 >= len(args):
                    raise _Fallback
                name, value = a, args[i + 1]
                i += 1
            if name in ("--top", "-n"):
                try:
                    opts["top"] = int(value)
                except ValueError:
                    raise _Fallback from None
            else:
                opts["seeds"].append(value)
        else:
            raise _Fallback
        i += 1
    opts["task"] = " ".join(words)
    return opts


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] in SUBCOMMANDS:
        return _run_sub(args[0])
    if not args:
        return _run_typer(task_app(), PROG)
    try:
        opts = _quick_parse(args)
    except _Fallback:
        return _run_typer(task_app(), PROG)
    try:
        return do_predict(opts["task"], opts["top"], opts["seeds"], opts["as_json"], opts["explain"])
    except BaseException as exc:  # noqa: BLE001 - handed to the common error policy, imported only now
        from git_ml.cli.common import run_main

        err = exc

        def body():
            raise err

        return run_main(PROG, body)


def _run_sub(name: str) -> int:
    from git_ml.cli.common import run_typer

    saved = sys.argv
    sys.argv = [saved[0]] + saved[2:]
    try:
        return run_typer(f"{PROG} {name}", {"train": train_app, "evaluate": evaluate_app, "stats": stats_app}[name]())
    finally:
        sys.argv = saved


def _run_typer(app, prog: str) -> int:
    from git_ml.cli.common import run_typer

    return run_typer(prog, app)


# -- typer commands (help, man pages) ----------------------------------------------------------------------------


def task_app():
    import typer

    app = typer.Typer(add_completion=False, help="Predict which files a task will change.")

    @app.command(context_settings={"allow_interspersed_args": True})
    def predict(
        task: list[str] = typer.Argument(None, help="The task, in words (quote it, or put it after --)."),
        top: int = typer.Option(10, "--top", "-n", help="How many files to list."),
        seed: list[str] = typer.Option(None, "--seed", "-s",
                                       help="A file you know will change: boosts files that change with it. "
                                            "Repeatable."),
        as_json: bool = typer.Option(False, "--json", help='Print [{"path": ..., "score": ...}, ...].'),
        explain: bool = typer.Option(False, "--explain", help="Say which signals put each file there."),
    ) -> int:
        """Rank the files of the repository by how likely TASK is to change them.

        Learns from the captured commits (`git ml capture`); subcommands: train, evaluate, stats.
        """
        return do_predict(" ".join(task or []), top, list(seed or []), as_json, explain)

    return app


def train_app():
    import typer

    app = typer.Typer(add_completion=False)

    @app.command()
    def train(as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON.")) -> int:
        """Rebuild the prediction model from all captured commits (and refit its weights)."""
        return do_train(as_json)

    return app


def evaluate_app():
    import typer

    app = typer.Typer(add_completion=False)

    @app.command()
    def evaluate(
        split: float = typer.Option(0.2, "--split", help="Fraction of the history (the newest) to test on."),
        online: bool = typer.Option(True, "--online/--offline",
                                    help="Learn each test commit after scoring it (default), or not."),
        all_commits: bool = typer.Option(False, "--all-commits", help="Also score commits made by bots."),
        as_json: bool = typer.Option(False, "--json", help="Print the metrics as one JSON object."),
        predictions: str = typer.Option(None, "--predictions", metavar="FILE",
                                        help="Write one JSON line per scored commit (query, top 10, actual)."),
    ) -> int:
        """Walk-forward evaluation over the captured history: MRR@10, P@1, R@5, R@10."""
        return do_evaluate(split, online, all_commits, as_json, predictions)

    return app


def stats_app():
    import typer

    app = typer.Typer(add_completion=False)

    @app.command()
    def stats(as_json: bool = typer.Option(False, "--json", help="Print as one JSON object.")) -> int:
        """Commits learnt, files, vocabulary, model size, when trained."""
        return do_stats(as_json)

    return app


def click_commands() -> list:
    """(name, click command) pairs for the man-page generator."""
    import typer

    return [
        (PROG, typer.main.get_command(task_app())),
        (f"{PROG} train", typer.main.get_command(train_app())),
        (f"{PROG} evaluate", typer.main.get_command(evaluate_app())),
        (f"{PROG} stats", typer.main.get_command(stats_app())),
    ]


if __name__ == "__main__":
    sys.exit(main())
