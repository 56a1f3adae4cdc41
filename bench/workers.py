"""Several workers on one PostgreSQL database, at the sizes of issue 17 (the tests run them
smaller to stay quick): `run --workers 2` answering 1,000 updates, every tenth posted to both
workers, each answered once; and a rolling restart of two workers in the middle of a broadcast
to 600 people, each reached once. The scenarios and their checks are those of
tests/test_workers.py.

    .venv/bin/python -m bench.workers [--updates 1000] [--recipients 600]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from tests.test_workers import many_updates, rolling_restart


async def _main(updates: int, recipients: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a").mkdir()
        (Path(tmp) / "b").mkdir()
        rate = await many_updates(Path(tmp) / "a", updates)
        took = await rolling_restart(Path(tmp) / "b", recipients)
    print(f"two workers: {updates} updates at {rate:.0f}/s, each answered once")
    print(f"rolling restart: {recipients} recipients in {took:.1f} s, each reached once")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--recipients", type=int, default=600)
    args = parser.parse_args()
    asyncio.run(_main(args.updates, args.recipients))


if __name__ == "__main__":
    main()
