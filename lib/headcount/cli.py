"""Command line: the reader's verbs.

    headcount run NOTEBOOK [--tier laptop] [-p NAME VALUE ...]   execute one page with other parameters
    headcount notebooks [--tier laptop]                          execute every page of the book, in toc order
    headcount status [--tier laptop]                             what the store holds / what a build would compute
    headcount params NOTEBOOK [--tier laptop]                    the page's resolved parameters
    headcount prune                                              delete stored runs of superseded library code

Values given with -p are read as Python/YAML literals: -p T_grid "[8, 16]" -p lr 1e-3 -p a_seed 3.
"""

from __future__ import annotations

import argparse
import sys

import yaml


def _literal(text: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _params(args) -> dict:
    out = {"tier": args.tier}
    for name, value in args.p or []:
        out[name] = _literal(value)
    return out


def main(argv: list[str] | None = None) -> int:
    from . import runner

    ap = argparse.ArgumentParser(prog="headcount", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for cmd in ("run", "params"):
        sp = sub.add_parser(cmd)
        sp.add_argument("notebook")
        sp.add_argument("--tier", default="laptop", choices=["smoke", "laptop", "paper"])
        sp.add_argument("-p", nargs=2, action="append", metavar=("NAME", "VALUE"))
        if cmd == "run":
            sp.add_argument("--out", default=None, help="folder for the executed notebook (default book/nb)")
    for cmd in ("notebooks", "status"):
        sp = sub.add_parser(cmd)
        sp.add_argument("--tier", default="laptop", choices=["smoke", "laptop", "paper"])
        if cmd == "notebooks":
            sp.add_argument("--only", nargs="*", default=None, help="a subset of notebook names")
    sub.add_parser("prune")
    args = ap.parse_args(argv)

    try:
        if args.cmd == "run":
            runner.run(args.notebook, _params(args), out_dir=args.out)
        elif args.cmd == "params":
            path, _, params = runner.validate(args.notebook, _params(args))
            spec = runner.page_spec(path.stem)
            if spec is None:
                print(f"{path.stem}: no ParamSpec; parameters cell names: {runner.parameter_names(_)}")
            else:
                given = {k: v for k, v in params.items() if k != "tier"}
                print(spec.table(spec.resolve(tier=params["tier"], **given)))
        elif args.cmd == "notebooks":
            names = args.only or runner.book_notebooks()
            for name in names:  # validate all first: a typo must not cost the runs before it
                runner.validate(name, {"tier": args.tier})
            for name in names:
                runner.run(name, {"tier": args.tier})
        elif args.cmd == "prune":
            from .store import default_store

            kept, deleted = default_store().prune_stale()
            print(f"prune: kept {kept} records of current code, deleted {deleted} stale or unreadable")
        elif args.cmd == "status":
            from .status import report

            print(report(args.tier))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
