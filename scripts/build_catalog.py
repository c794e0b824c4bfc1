"""Build reportkit/data/catalog.json from the research notes in ../shared/research.

Run from the repository root: ``python scripts/build_catalog.py``. The output is committed; the
package never reads ../shared at run time. Where the research says a fact is unknown (most default
column sets, column order), the choices made here are documented in docs/catalog.md.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT.parent / "shared" / "research" / "report-types.json"
OUT = ROOT / "reportkit" / "data" / "catalog.json"

SUMMARY_DEFAULT = ["reporting_category", "currency", "count", "gross", "fee", "net"]
ITEMIZED_PREFERENCE = [
    "balance_transaction_id",
    "created_utc",
    "created",
    "available_on_utc",
    "available_on",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "description",
]
PAYOUT_RECON_EXTRA = [
    "automatic_payout_id",
    "automatic_payout_effective_at_utc",
    "automatic_payout_effective_at",
]
PAYOUTS_EXTRA = [
    "effective_at_utc",
    "effective_at",
    "payout_id",
    "payout_expected_arrival_date",
    "payout_status",
    "payout_type",
]

# v2 report ids that Stripe documents (docs.stripe.com/reports/v2-api-supported-reports).
KNOWN_V2_IDS = {
    "balance.summary": {"live": "report_61Sud3n5oAGVCWiSr5", "test": "report_test_61Sud3nd37HpUFYD75"},
    "balance_change_from_activity.summary": {"live": "report_61SucxGjCGSg88wJ35"},
    "balance_change_from_activity.itemized": {"live": "report_61SucuXxBYxjgGS9S5"},
    "payouts.itemized": {"live": "report_61Sud0tJaM66vrZ2H5"},
}
V2_FAMILIES = [
    "balance",
    "balance_change_from_activity",
    "payouts",
    "payout_reconciliation",
    "ending_balance_reconciliation",
]
def default_columns(rid: str, spec: dict, specs: dict | None = None) -> list[str] | None:
    cols = [c["name"] for c in spec["columns"] or []]
    if "columns" not in spec["optional"]:
        return None
    marked = [c["name"] for c in spec["columns"] if c["default"]]
    if marked:
        return marked
    twin = spec.get("twin_of")
    if rid.startswith("connected_account_") and specs and twin in specs:
        # a Connect type defaults to its platform twin's columns, the account id first (a choice:
        # Stripe documents no default for these; docs/connect.md)
        base = [c for c in default_columns(twin, specs[twin], specs) or [] if c in cols]
        if base:
            return (["connected_account"] if "connected_account" in cols else []) + base
    if set(SUMMARY_DEFAULT) <= set(cols):
        return SUMMARY_DEFAULT
    pref = list(ITEMIZED_PREFERENCE)
    if "payout_reconciliation" in rid:
        pref += PAYOUT_RECON_EXTRA
    if "payouts.itemized" in rid:
        pref += PAYOUTS_EXTRA
    chosen = [c for c in pref if c in cols]
    return chosen or [c for c in cols if not c.endswith("[key]")]


def main() -> None:
    src = json.loads(SRC.read_text())
    types = {}
    for rid, spec in src["report_types"].items():
        cols = spec["columns"] or []
        types[rid] = {
            "family": spec["family"],
            "base": spec["base"],
            "version": spec["version"],
            "required": spec["required"],
            "optional": spec["optional"],
            "livemode_only": bool(spec.get("livemode_only")),
            "columns": [[c["name"], c["kind"]] for c in cols],
            "default_columns": default_columns(rid, spec, src["report_types"]),
        }
    # v2: one report per base name of the non-Connect families, backed by the newest v1 version.
    v2 = {}
    for rid, t in sorted(types.items()):
        if rid.startswith(("connected_account", "connect.", "tax.")):
            continue
        if not any(t["base"].startswith(f + ".") for f in V2_FAMILIES):
            continue
        cur = v2.get(t["base"])
        if cur is None or types[cur["v1"]]["version"] < t["version"]:
            v2[t["base"]] = {"v1": rid}
    for name, entry in v2.items():
        known = KNOWN_V2_IDS.get(name, {})
        # Only ids Stripe documents (docs.stripe.com/reports/v2-api-supported-reports); the client
        # resolves every other one through GET /v2/data/reports?name= (reportkit/_names.py).
        entry["ids"] = {m: known[m] for m in ("live", "test") if m in known}
    out = {
        "generated_from": "shared/research/report-types.json (see scripts/build_catalog.py)",
        "report_types": types,
        "v2_reports": dict(sorted(v2.items())),
        "reporting_categories": [c["value"] for c in src["reporting_categories"]],
        "balance_summary_categories": [c["value"] for c in src["balance_summary_categories"]],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1, sort_keys=False) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(types)} v1 types, {len(v2)} v2 reports")


if __name__ == "__main__":
    main()
