"""Command line: the reader's verbs.

    headcount run NOTEBOOK [--tier laptop] [-p NAME VALUE ...]   execute one page; with parameters other than the
                                 [--json] [--into-book]          tier's its outputs go to runs/<page>-<hash>/ and
                                                                 the book is left as it is
    headcount notebooks [--tier laptop] [--jobs J] [--force]     execute every page of the book, J pages at a time
                                                                 (a page whose inputs are unchanged since it last
                                                                 executed is kept; --force executes every page)
    headcount compute [PAGE ...] [--tier laptop] [--dry-run]     train and store the runs of the pages (default: all
                                                                 that store runs) without executing them; resumes
    headcount status [--tier laptop]                             what the store holds / what a build would compute
    headcount params NOTEBOOK [--tier laptop]                    the page's resolved parameters
    headcount verdicts [--tier laptop] [--update]               every verdict recomputed from the committed bundle
                                                                 (nothing trained), checked against data/verdicts/
    headcount prune                                              delete stored runs of superseded library code

Values given with -p are read as Python/YAML literals: -p T_grid "[8, 16]" -p lr 1e-3 -p a_seed 3.

run, notebooks and compute take --scheduler ADDRESS (or HEADCOUNT_SCHEDULER): tcp://host:port of a running Dask
scheduler, or local:N for a LocalCluster of N one-thread worker processes; each stack of runs is one task
(see headcount.engine.cluster). Results are the same bits wherever they trained, on one processor.
"""

from __future__ import annotations

import argparse
import sys

import yaml


def _literal(text: str):
    """A -p value: YAML's plain scalars and flow lists, plus numbers in every usual notation (YAML 1.1 reads
    1e-3 as a string). Tags (!!binary, !!python/...), mappings and sets are refused: only plain values
    reach the parameter checks."""
    if "!" in text:
        raise ValueError(f"parameter value {text!r}: YAML tags ('!') are not accepted")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        for cast in (int, float):
            try:
                return cast(value)
            except ValueError:
                pass
    if isinstance(value, (dict, set)) or (isinstance(value, list) and any(isinstance(v, (dict, list, set)) for v in value)):
        raise ValueError(f"parameter value {text!r}: give a number, a string, True/False or a flat list like [8, 16]")
    return value


def _params(args) -> dict:
    out = {"tier": args.tier}
    for name, value in args.p or []:
        if name in out:
            raise ValueError(f"parameter {name!r} is given twice" if name != "tier" else
                             "give the tier with --tier, not -p tier")
        try:
            out[name] = _literal(value)
        except ValueError as exc:
            raise ValueError(f"parameter {name!r}: {exc}") from None
    return out


def main(argv: list[str] | None = None) -> int:
    from headcount.book import runner
    from headcount.engine.cluster import cluster
    from headcount.engine.store import MissingRuns, StoreNotWritable
    from headcount.paths import normalize_env

    ap = argparse.ArgumentParser(prog="headcount", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for cmd in ("run", "params"):
        sp = sub.add_parser(cmd)
        sp.add_argument("notebook")
        sp.add_argument("--tier", default="laptop", choices=["smoke", "laptop", "paper"])
        sp.add_argument("-p", nargs=2, action="append", metavar=("NAME", "VALUE"))
        if cmd == "run":
            _scheduler_option(sp)
            sp.add_argument("--out", default=None,
                            help="folder for the run's outputs (default: book/nb at the tier's own parameters, "
                                 "else runs/<page>-<hash>/)")
            sp.add_argument("--json", action="store_true", help="print a machine-readable summary at the end")
            sp.add_argument("--into-book", action="store_true",
                            help="for those who maintain the committed bundle: write this run's notebook, figures, "
                                 "verdicts and stored runs into the book even with other parameters")
    for cmd in ("notebooks", "status"):
        sp = sub.add_parser(cmd)
        sp.add_argument("--tier", default="laptop", choices=["smoke", "laptop", "paper"])
        if cmd == "notebooks":
            _scheduler_option(sp)
            sp.add_argument("--only", nargs="*", default=None, help="a subset of notebook names")
            sp.add_argument("--jobs", type=int, default=None,
                            help="pages executed at once, each in its own process on one torch thread "
                                 "(default: one per CPU core, at most 8; 1: one after another in toc order)")
            sp.add_argument("--force", action="store_true",
                            help="execute every page, even those whose inputs (notebook, parameters, library, "
                                 "packages, stored runs, data) are unchanged since they last executed")
    sp = sub.add_parser("compute")
    sp.add_argument("pages", nargs="*", help="pages whose runs to train (default: every page that stores runs)")
    sp.add_argument("--tier", default="laptop", choices=["smoke", "laptop", "paper"])
    sp.add_argument("--dry-run", action="store_true", help="say what would be trained, train nothing")
    _scheduler_option(sp)
    sp = sub.add_parser("verdicts")
    sp.add_argument("--tier", default="laptop", choices=["smoke", "laptop", "paper"])
    sp.add_argument("--update", action="store_true",
                    help="for those who maintain the bundle: write the recomputed verdicts as the committed list")
    sub.add_parser("prune")
    args = ap.parse_args(argv)
    normalize_env()  # empty path variables are unset, relative ones absolute, for every process started from here

    try:
        with cluster(getattr(args, "scheduler", None)):
            return _dispatch(args, runner)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (MissingRuns, StoreNotWritable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except runner.PageFailed as exc:
        print(f"error: {exc.page} failed: {exc.line}", file=sys.stderr)
        if exc.notebook:
            print(f"  the executed notebook, with the full traceback: {exc.notebook}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: finished runs are stored; the page's last good output is unchanged", file=sys.stderr)
        return 130


def _scheduler_option(sp) -> None:
    import os

    from headcount.engine.cluster import SCHEDULER_ENV

    sp.add_argument("--scheduler", default=os.environ.get(SCHEDULER_ENV) or None, metavar="ADDRESS",
                    help="train stacks on a Dask cluster: tcp://host:port of a running scheduler, or local:N for a "
                         f"LocalCluster of N one-thread worker processes (default: ${SCHEDULER_ENV}, else in process)")


def _dispatch(args, runner) -> int:
    if args.cmd == "run":
        out = runner.run_reader(args.notebook, _params(args), out_dir=args.out, into_book=args.into_book)
        if args.json:
            import json

            print(json.dumps(out, indent=1))
        elif not out["into_book"]:
            shown = ", ".join(f"{v['claim']} {v['verdict']}" for v in out["verdicts"]) or "none"
            print(f"run folder: {out['folder']} (notebook, figures/, claims/, and results/ for runs it trained; the book is unchanged)\n"
                  f"verdicts of this run: {shown}")
    elif args.cmd == "params":
        path, _, params = runner.validate(args.notebook, _params(args))
        spec = runner.page_spec(path.stem)
        if spec is None:
            print(f"{path.stem}: no ParamSpec; parameters cell names: {runner.parameter_names(_)}")
        else:
            given = {k: v for k, v in params.items() if k != "tier"}
            print(spec.table(spec.resolve(tier=params["tier"], **given)))
    elif args.cmd == "notebooks":
        from headcount.book.pages import variant_pages

        result = runner.run_many(args.only or runner.book_notebooks(), {"tier": args.tier}, jobs=args.jobs,
                                 reuse=not args.force, variants=[] if args.only else variant_pages())
        bad = {k: v for k, v in result.items() if v is not None}
        if bad:
            for name, err in bad.items():
                print(f"error: {name}: {runner.summary(err)}", file=sys.stderr)
            return 1
    elif args.cmd == "compute":
        from headcount.book.compute import compute

        compute(args.pages, args.tier, dry_run=args.dry_run)
    elif args.cmd == "verdicts":
        import json

        from headcount.book import judging
        from headcount.paths import atomic_write_text

        vs = judging.committed_verdicts(args.tier)
        for v in vs:
            print(f"{v.claim_id:5} {v.shown:32} {v.evidence[:110]}")
        path = judging.verdicts_file(args.tier)
        if args.update:
            atomic_write_text(path, json.dumps(judging.snapshot(vs, args.tier), indent=1) + "\n")
            print(f"wrote {path}")
        elif path.exists():
            problems = judging.compare(json.loads(path.read_text()), vs)
            print("\n".join(problems) if problems else f"all {len(vs)} verdicts agree with {path}")
            return 1 if problems else 0
    elif args.cmd == "prune":
        from headcount.engine.store import default_store

        kept, deleted = default_store().prune_stale()
        print(f"prune: kept {kept} records of current code, deleted {deleted} stale or unreadable")
    elif args.cmd == "status":
        from headcount.book.status import report

        print(report(args.tier))
    return 0


if __name__ == "__main__":
    sys.exit(main())
