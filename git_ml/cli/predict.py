"""``git-ml-predict``: which files will this task change.

    git ml predict "TASK" [--top N] [--seed FILE...] [--json] [--explain]
    git ml predict train | evaluate [...] | stats [--json]
    git ml predict -- "train the model"      (text that starts with a subcommand word)

Built like the explore verbs: ``main`` parses the documented options with the shared fast parser
(``explore.args.fast_parse``) and imports only what predicting needs (the quick path: standard library alone), so a
prediction stays within its start-up budget; anything the fast parser does not take (``-h``, ``--help``, an unknown
option, a malformed value) goes to the typer command, which prints the help or the usage error. The words
``train``, ``evaluate`` and ``stats`` are subcommands when they come first; any other first argument starts the task.
"""

from __future__ import annotations

import os
import sys

from git_ml.cli.common import run_main, run_typer

PROG = "git ml predict"
SUBCOMMANDS = ("train", "evaluate", "stats")
SPEC = {
    "--top": ("top", "int"), "-n": ("top", "int"),
    "--seed": ("seeds", "values"), "-s": ("seeds", "values"),
    "--json": ("as_json", "flag"),
    "--explain": ("explain", "flag"),
}
HELP = """Rank the files of the repository by how likely TASK is to change them.

Learns from the captured commits (`git ml capture`, `git ml capture --backfill`); the first prediction builds the
model, later captures update it. TASK is every word that is not an option (quote it, or put it after --, which
also allows text starting with train, evaluate or stats). --seed takes one or more files, up to the next option:
`git ml predict "fix login" --seed src/auth.py src/session.py`. Subcommands: train, evaluate, stats.

--json prints [{"path": ..., "score": ...}, ...] (with "why" under --explain); the score is the model's
probability that the file is the first one the task changes.
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in SUBCOMMANDS:
        name = args[0]
        app = {"train": train_app, "evaluate": evaluate_app, "stats": stats_app}[name]()
        return run_typer(f"{PROG} {name}", app, args[1:])
    from git_ml.explore.args import Fallback, fast_parse

    try:
        opts, pos, rest = fast_parse(args, SPEC)
    except Fallback:
        return run_typer(PROG, task_app(), args)
    task = " ".join(pos + (rest or []))
    seeds = opts.get("seeds", [])
    return run_main(PROG, lambda: do_predict(task, opts.get("top", 10), seeds, opts.get("as_json", False),
                                             opts.get("explain", False)))


# -- the work -------------------------------------------------------------------------------------------------------


def do_predict(task: str, top: int = 10, seeds: list[str] | None = None, as_json: bool = False,
               explain: bool = False) -> int:
    from git_ml.errors import UsageError

    if not task or not task.strip():
        if len(seeds or []) > 1:
            raise UsageError("no task: the words after --seed are seed files; give the task first: "
                             "git ml predict \"TASK\" --seed FILE...")
        raise UsageError("empty task: describe the change, e.g. git ml predict \"fix proxy auth on redirect\"")
    if top < 1:
        raise UsageError("--top must be at least 1")
    results = None
    if not os.environ.get("GIT_ML_PREDICT_NO_LITE"):
        # the quick path: standard library only; None when the model must be (re)built or folded first
        from git_ml.predict import lite

        results = lite.predict(task, top=top, seeds=seeds, explain=explain)
    if results is None:
        from git_ml.predict.api import author_of, load_predictor
        from git_ml.predict.gitdir import repo_path
        from git_ml.repo import open_repository, workdir

        repo = open_repository()
        pred = load_predictor(repo)
        seeds = [repo_path(workdir(repo), s) for s in seeds or []]
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
    from git_ml.errors import GitMlError, UsageError
    from git_ml.predict.evaluate import dump_prediction, evaluate
    from git_ml.predict.history import NO_HISTORY, captured_commits
    from git_ml.repo import open_repository

    if not 0.0 < split < 1.0:
        raise UsageError("--split must be between 0 and 1 (the test fraction, e.g. 0.2)")
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


# -- typer commands (help, usage errors, man pages) ---------------------------------------------------------------

CTX = {"help_option_names": ["-h", "--help"]}


def task_app():
    import typer

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)

    @app.command(help=HELP, context_settings={**CTX, "allow_interspersed_args": True})
    def predict(
        task: list[str] = typer.Argument(None, metavar="TASK",
                                         help="The task, in words (quote it, or put it after --)."),
        top: int = typer.Option(10, "--top", "-n", metavar="N", help="How many files to list."),
        seed: list[str] = typer.Option(None, "--seed", "-s", metavar="FILE...",
                                       help="Files you know will change: boosts the files that change with them. "
                                            "Takes one or more files, up to the next option; repeatable."),
        as_json: bool = typer.Option(False, "--json", help='Print [{"path": ..., "score": ...}, ...].'),
        explain: bool = typer.Option(False, "--explain", help="Say which signals put each file there."),
    ) -> int:
        return do_predict(" ".join(task or []), top, list(seed or []), as_json, explain)

    return app


def train_app():
    import typer

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)

    @app.command(context_settings=CTX)
    def train(as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON.")) -> int:
        """Rebuild the prediction model from all captured commits (and refit its weights)."""
        return do_train(as_json)

    return app


def evaluate_app():
    import typer

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)

    @app.command(context_settings=CTX)
    def evaluate(
        split: float = typer.Option(0.2, "--split", help="Fraction of the history (the newest) to test on."),
        online: bool = typer.Option(True, "--online/--offline",
                                    help="Learn each test commit after scoring it (default), or not."),
        all_commits: bool = typer.Option(False, "--all-commits", help="Also score commits made by bots."),
        as_json: bool = typer.Option(False, "--json", help="Print the metrics as one JSON object."),
        predictions: str = typer.Option(None, "--predictions", metavar="FILE",
                                        help="Write one JSON line per scored commit (query, top 10, actual)."),
    ) -> int:
        """Walk-forward evaluation over the captured history: MRR@10, P@1, R@5, R@10.

        Non-merge commits with files, in history order; the newest --split of them are the test part. Each test
        commit is predicted from its subject line with the model of everything before it (online: it is learnt
        after its turn), and scored when it changed 1 to 30 files (deleted ones excluded) and its subject is not
        a bot's (release bumps, pre-commit autoupdates; --all-commits scores those too). MRR@10 is the mean of
        1/rank of the first changed file in the top 10; R@5 and R@10 the share of changed files in the top 5/10.
        """
        return do_evaluate(split, online, all_commits, as_json, predictions)

    return app


def stats_app():
    import typer

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)

    @app.command(context_settings=CTX)
    def stats(as_json: bool = typer.Option(False, "--json", help="Print as one JSON object.")) -> int:
        """Commits learnt, files, vocabulary, model size, when trained."""
        return do_stats(as_json)

    return app


def click_commands() -> list:
    """(name, click command) pairs for the man-page generator."""
    import typer

    return [
        ("git-ml-predict", typer.main.get_command(task_app())),
        (f"{PROG} train", typer.main.get_command(train_app())),
        (f"{PROG} evaluate", typer.main.get_command(evaluate_app())),
        (f"{PROG} stats", typer.main.get_command(stats_app())),
    ]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
