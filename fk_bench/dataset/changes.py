"""What changed in the packaged questions from the previous version: per relation, the questions kept, the
ones whose label changed, the ones no longer asked (with the rule of the new builder that removed them)
and the new ones.

``python -m fk_bench.dataset.changes OLD_DATASET NEW_DATASET`` compares two builds and writes
:data:`CHANGES_FILE` beside this module; the card renders it (counts per relation and reason, and every
question removed or relabelled by a rule, with its old pair_id). Written once per release from the two
builds, so a rebuild of the new version stays byte-identical without the old files.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fk_bench.dataset.checks import word_overlap
from fk_bench.dataset.entities import name_key, name_tokens

if TYPE_CHECKING:
    from fk_bench.dataset.knowledge import KnowledgeBase

CHANGES_FILE = Path(__file__).with_name("changes.json")
REDRAWN = "false twin re-drawn or fact re-ordered (the relation's facts changed)"
DROPPED_RELATION = "relation dropped: under 50 test pairs and no offline source to grow it"
NEW = "new"
KEPT = "kept"


def _questions(folder: Path) -> list[dict[str, Any]]:
    """Every question of a build once: `full` (every fact, t0), the other templates, the few-shot pool."""
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = (  # pyarrow is untyped: its rows are Any
        pq.read_table(folder / "full" / "test.parquet").to_pylist() + pq.read_table(folder / "all" / "train.parquet").to_pylist()
    )
    paraphrase: list[dict[str, Any]] = pq.read_table(folder / "paraphrase" / "test.parquet").to_pylist()
    return rows + [row for row in paraphrase if row["template"] != "t0"]


Rule = Callable[[dict[str, Any], dict[str, Any]], "str | None"]
"""The reason a rule of this version no longer asks a question (given the question and its twin), or None."""


def _rule_reasons() -> dict[str, Rule]:
    """Per relation, the 2.1 rule (if any) that no longer asks a 2.0 question; ``twin`` is the question's pair."""
    from fk_bench.dataset.knowledge import KnowledgeBase

    kb = KnowledgeBase()
    return {**_people_rules(kb), **_place_rules(kb)}


def _people_rules(kb: KnowledgeBase) -> dict[str, Rule]:
    """The rules of the people and product relations."""
    from fk_bench.dataset.relations import organisations, people

    sport_of_name = {name: key for key, name in people.SPORT_NAMES.items()}
    groups: dict[str, set[str | None]] = defaultdict(set)
    for name, sport in kb.lre("person_plays_pro_sport"):
        groups[people.person_key(name)].add(people.SPORT_GROUPS.get(sport))

    def athlete(row: dict[str, Any], twin: dict[str, Any]) -> str | None:
        if row["object"] in people.ATHLETES_KNOWN_FOR_OTHER_THINGS or twin["object"] in people.ATHLETES_KNOWN_FOR_OTHER_THINGS:
            return "athlete known for another career"
        false = row if not row["answer"] else twin
        if people.SPORT_GROUPS[sport_of_name[false["subject"]]] in groups[people.person_key(false["object"])]:
            return "false twin plays a sport of the same group (two-sport athletes: the North American leagues share them)"
        return None

    def occupation(row: dict[str, Any], twin: dict[str, Any]) -> str | None:
        job = row["subject"].split(" ", 1)[-1]
        return f"occupation left out: {people.LEFT_OUT_OCCUPATIONS[job]}" if job in people.LEFT_OUT_OCCUPATIONS else None

    def native(row: dict[str, Any], twin: dict[str, Any]) -> str | None:
        if row["subject"] in people.LEFT_OUT_LANGUAGES:
            return f"{row['subject']} left out: {people.LEFT_OUT_LANGUAGES[row['subject']]}"
        return "a people, not a person" if {row["object"], twin["object"]} & people.PEOPLES else None

    def product(row: dict[str, Any], twin: dict[str, Any]) -> str | None:
        if row["subject"] in organisations.MISATTRIBUTED_PRODUCTS:
            return f"misattributed product: {organisations.MISATTRIBUTED_PRODUCTS[row['subject']]}"
        marque = next((m for m in organisations.OTHER_MARQUES if name_key(row["subject"]).startswith(name_key(m) + " ")), None)
        return f"badged {marque}, not its parent company" if marque else None

    return {"athlete_sport": athlete, "occupation": occupation, "native_language": native, "product_maker": product}


def _place_rules(kb: KnowledgeBase) -> dict[str, Rule]:
    """The rules of the relations about places, languages and memberships."""
    import us

    from fk_bench.dataset import knowledge
    from fk_bench.dataset.relations import culture, organisations, science

    def language(row: dict[str, Any], twin: dict[str, Any]) -> str | None:
        names = {"Nigeria": ("Yoruba", "Hausa", "Igbo"), "Malawi": ("Nyanja",), "Nauru": ("Nauru",), "Botswana": ("Tswana",)}
        if row["object"] in names.get(row["subject"], ()):
            return "official status CLDR gives and the constitution does not"
        if row["subject"] == "India" and row["object"] not in ("Hindi", "English"):
            return "India's scheduled languages are official in states, not of the Union"
        if row["subject"] in ("Zimbabwe", "South Africa", "Bolivia") and not row["answer"]:
            return "official by the constitution (was a false twin)"
        return None

    changed = {(organisations.ORGANISATIONS[of][0], kb.country(code).name): why for (of, code), why in organisations.CHANGED_MEMBERSHIPS.items()}

    def membership(row: dict[str, Any], twin: dict[str, Any]) -> str | None:
        why = changed.get((row["subject"], row["object"])) or changed.get((twin["subject"], twin["object"]))
        return f"membership changed since 2013 or not quite one ({why})" if why else None

    def star(row: dict[str, Any], twin: dict[str, Any]) -> str | None:
        return "not a star (galaxy, quasar, planet)" if science.NOT_STARS.search(row["subject"]) else None

    states = {name_key(state.name) for state in us.states.STATES_AND_TERRITORIES}

    def headquarters(row: dict[str, Any], twin: dict[str, Any]) -> str | None:
        if any(word in name_key(row["subject"]) for word in organisations.NOT_HEADQUARTERED):
            return "has campuses, not headquarters (school, hospital...)"
        if {name_key(row["object"]), name_key(twin["object"])} & states:
            return "a city named like a US state"
        return None

    partly = {
        (knowledge.CONTINENT_NAMES[continent], kb.country(code).name): why
        for code, (continents, why) in knowledge.PARTLY_ON_ANOTHER_CONTINENT.items()
        for continent in continents
    }

    def continent(row: dict[str, Any], twin: dict[str, Any]) -> str | None:
        why = partly.get((row["subject"], row["object"]))
        return f"an integral part of the country lies there ({why})" if why else None

    def calling(row: dict[str, Any], twin: dict[str, Any]) -> str | None:
        return "overlapping calling codes (Vatican City)" if "Vatican" in row["question"] or "Vatican" in twin["question"] else None

    def landmark(row: dict[str, Any], twin: dict[str, Any]) -> str | None:
        return f"not a place: {culture.NOT_PLACES[row['subject']]}" if row["subject"] in culture.NOT_PLACES else None

    return {
        "official_language": language,
        "member_of": membership,
        "star_constellation": star,
        "headquarters": headquarters,
        "landmark_in_country": landmark,
        "country_in_continent": continent,
        "calling_code": calling,
    }


def _generic_reason(row: dict[str, Any], twin: dict[str, Any]) -> str | None:
    """The rules every relation follows since 2.1 (pairs.relation_build)."""
    true, false = (row, twin) if row["answer"] else (twin, row)
    words = name_tokens(false["object"]) - {"the"}
    if words and words <= name_tokens(true["object"]):
        return "false twin's name is part of the true object's (a name both share)"
    if word_overlap(true["subject"], false["object"]) != word_overlap(true["subject"], true["object"]):
        return "subject/object word overlap told the true question"
    return None


def compare(old: list[dict[str, Any]], new: list[dict[str, Any]], relations: set[str]) -> dict[str, Any]:
    """Counts of questions (every template) per relation and reason, and every old `t0` question a rule
    removed or relabelled."""
    now = {row["question"]: row for row in new}
    by_question = {row["question"]: row for row in old}
    rules = _rule_reasons()
    no_rule: Rule = lambda *_: None
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    changed = []
    for row in old:
        if row["relation"] == "paris":
            continue
        twin = by_question.get(row["corrupted_question"], row)
        if row["question"] in now:
            if now[row["question"]]["answer"] == row["answer"]:
                counts[row["relation"]][KEPT] += 1
                continue
            reason = "label fixed: " + (rules.get(row["relation"], no_rule)(row, twin) or "a rule of this version")
            new_value = str(now[row["question"]]["answer"])
        elif row["relation"] not in relations:
            counts[row["relation"]][DROPPED_RELATION] += 1
            continue
        else:
            reason = rules.get(row["relation"], no_rule)(row, twin) or _generic_reason(row, twin) or REDRAWN
            new_value = "not asked"
        counts[row["relation"]][reason] += 1
        if reason != REDRAWN and row["template"] == "t0":
            changed.append([row["pair_id"], row["question"], str(row["answer"]), new_value, reason])
    asked_before = {row["question"] for row in old}
    for row in new:
        if row["relation"] != "paris" and row["question"] not in asked_before:
            counts[row["relation"]][NEW] += 1
    return {"counts": {relation: dict(sorted(reasons.items())) for relation, reasons in sorted(counts.items())}, "rows": sorted(changed)}


def load_changes() -> dict[str, Any]:
    """The committed comparison with the previous version (empty where none was written)."""
    return json.loads(CHANGES_FILE.read_text(encoding="utf-8")) if CHANGES_FILE.is_file() else {"counts": {}, "rows": []}


def change_summary(changes: dict[str, Any]) -> list[dict[str, Any]]:
    """One line per relation for the card: questions kept, relabelled, removed by a rule, re-drawn, new."""
    lines = []
    for relation, reasons in changes["counts"].items():
        fixed = sum(n for reason, n in reasons.items() if reason.startswith("label fixed"))
        other = {KEPT, NEW, REDRAWN, DROPPED_RELATION}
        ruled = sum(n for reason, n in reasons.items() if reason not in other and not reason.startswith("label fixed"))
        lines.append(
            {
                "name": relation,
                "kept": reasons.get(KEPT, 0),
                "fixed": fixed,
                "ruled": ruled,
                "redrawn": reasons.get(REDRAWN, 0),
                "new": reasons.get(NEW, 0),
                "dropped": reasons.get(DROPPED_RELATION, 0),
                "reasons": {reason: n for reason, n in reasons.items() if reason not in other},
            }
        )
    return lines


def main(argv: list[str] | None = None, out: Path = CHANGES_FILE) -> int:
    """Compare two dataset folders and write ``out``; a bad argument is one line on stderr and status 2."""
    from fk_bench.dataset.relations import RELATION_NAMES
    from fk_bench.errors import FkBenchError
    from fk_bench.files import write_text_atomic

    args = sys.argv[1:] if argv is None else argv
    try:
        if len(args) != 2:
            raise FkBenchError("usage: python -m fk_bench.dataset.changes OLD_DATASET NEW_DATASET")
        folders = [Path(arg) for arg in args]
        for folder in folders:
            for config in ("full", "all", "paraphrase"):
                if not (folder / config).is_dir():
                    raise FkBenchError(f"{folder}: not an fk-bench dataset folder (no {config}/)")
        result = compare(_questions(folders[0]), _questions(folders[1]), set(RELATION_NAMES))
    except FkBenchError as err:
        print(f"fk_bench.dataset.changes: {err}", file=sys.stderr)
        return 2
    rows = ",\n".join(json.dumps(row, ensure_ascii=False) for row in result["rows"])
    write_text_atomic(out, '{"counts": ' + json.dumps(result["counts"], ensure_ascii=False) + ',\n"rows": [\n' + rows + "\n]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
