"""
The contract snapshot shipped in the package holds the official document's facts, all of them.

Both tests need the document itself: outside CI they skip without it, under CI they fail.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from contract_cases import cases
from support import ROOT, Contract

from airflow_provider_apiframe.core import contract


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("update_contract", ROOT / "scripts" / "update_contract.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_snapshot_is_what_the_document_gives(document: dict[str, Any]) -> None:
    script = _script()
    fresh = script.extract(document, source="apiframe-openapi.json", today="2026-12-01")
    shipped = contract.snapshot()
    differing = sorted(
        f"{part}.{key}"
        for part in ("paths", "components", "models")
        for key in set(fresh[part]) | set(shipped[part])
        if fresh[part].get(key) != shipped[part].get(key)
    )
    assert differing == [], "run python scripts/update_contract.py"
    assert script.same_facts(fresh, shipped), "run python scripts/update_contract.py (source changed)"
    assert shipped["source"]["version"] == document["info"]["version"]
    assert Path(contract.__file__).with_name("contract.json").stat().st_size < 200_000


def test_the_snapshot_has_no_prose() -> None:
    def keys(node: Any, under_properties: bool = False) -> set[str]:
        if isinstance(node, dict):
            found = set() if under_properties else set(node)
            for key, value in node.items():
                found |= keys(value, key == "properties")
            return found
        if isinstance(node, list):
            return set().union(*(keys(item) for item in node)) if node else set()
        return set()

    found = keys(contract.snapshot())
    assert not found & {"description", "summary", "example", "examples", "title", "tags", "externalDocs"}


def test_the_snapshot_judges_every_generated_request_as_the_document_does(document: dict[str, Any]) -> None:
    whole, shipped = Contract(document), Contract(contract.snapshot())
    checked, refused, disagreements = 0, 0, []
    for case in cases(document):
        by_document = whole.validator(case.schema).is_valid(case.body)
        by_snapshot = shipped.validator(case.schema).is_valid(case.body)
        checked += 1
        refused += not by_document
        if by_document != by_snapshot:
            disagreements.append((case.path, case.label))
    assert disagreements == []
    assert checked > 2000, checked
    assert refused > checked // 2, (checked, refused)
