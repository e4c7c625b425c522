"""The hand audit's sample: 25 questions per relation of the default config, drawn with a fixed seed.

``python -m fk_bench.dataset.audit [DATASET]`` prints the sample as the Markdown table rows of
docs/dataset-audit.md (verdict column empty) for a reader to check against what they know; the tests
check that the document audits exactly this sample of the packaged dataset.
"""

from __future__ import annotations

import random
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

AUDIT_SEED = 21
PER_RELATION = 25


def audit_sample(rows: Iterable[dict[str, Any]], seed: int = AUDIT_SEED, per_relation: int = PER_RELATION) -> dict[str, list[dict[str, Any]]]:
    """Per relation (in order of first appearance), ``per_relation`` rows drawn with ``random.Random(seed)``."""
    by_relation: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_relation[row["relation"]].append(row)
    return {
        relation: random.Random(f"{seed}:{relation}").sample(members, min(per_relation, len(members))) for relation, members in by_relation.items()
    }


def main(argv: list[str] | None = None) -> None:
    import pyarrow.parquet as pq

    from fk_bench.spec import DEFAULT_CONFIG, DEFAULT_SPLIT, PACKAGED_DATASET_DIR

    folder = Path((argv or sys.argv[1:] or [str(PACKAGED_DATASET_DIR)])[0])
    for relation, rows in audit_sample(pq.read_table(folder / DEFAULT_CONFIG / f"{DEFAULT_SPLIT}.parquet").to_pylist()).items():
        print(f"\n### {relation}\n\n| id | question | label | verdict |\n|---|---|---|---|")
        for row in rows:
            print(f"| {row['id']} | {row['question'].replace('|', '/')} | {row['answer']} | |")


if __name__ == "__main__":
    main()
