"""Dump a ledger by its natural keys, to compare two imports of the same files row for row."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import Account, Allocation, Document, DocumentLine, LedgerEntry, Lot, Member, PolicyVersion


def trace_core(trace: dict | None) -> dict | None:
    """What a full (explain) trace and a compact (set-based) trace must agree on."""
    if not trace or trace.get("policy") != "accrual" or "points" not in trace:
        return trace
    if trace.get("compact"):
        lines = dict(trace["line_rules"])
        document = list(trace["document_rules"])
    else:
        lines = {}
        for line in trace["lines"]:
            for match in line["matched"]:
                lines[match["rule"]] = lines.get(match["rule"], 0) + 1
        document = [m["rule"] for m in trace["document"]["matched"]]
    return {"policy_version": trace["policy_version"], "points": str(trace["points"]),
            "unrounded": str(trace["unrounded"]), "tier_multiplier": str(trace["tier_multiplier"]),
            "lines": lines, "document_rules": document}


def dump(session: Session) -> dict:
    erp = {m.id: m.erp_code for m in session.execute(select(Member)).scalars()}
    account_owner = {m.account_id: m.erp_code for m in session.execute(select(Member)).scalars()}
    versions = {v.id: (v.policy, v.version) for v in session.execute(select(PolicyVersion)).scalars()}
    docs = {d.id: d for d in session.execute(select(Document)).scalars()}
    out = {"documents": {}, "lines": {}, "entries": {}, "lots": {}, "allocations": [], "snapshots": {},
           "traces": {}, "accounts": {}}
    for d in docs.values():
        out["documents"][d.external_id] = (
            d.document_type, d.number, erp[d.member_id], account_owner[d.account_id], d.channel, d.store,
            d.currency, d.placed_at, d.status, d.total, d.shipping_total, d.content_hash, d.earned, d.absorbed,
            d.accrued_at is not None, versions.get(d.policy_version_id),
            docs[d.base_document_id].external_id if d.base_document_id else None)
        out["snapshots"][d.external_id] = d.member_snapshot
    for line in session.execute(select(DocumentLine)).scalars():
        out["lines"][(docs[line.document_id].external_id, line.line_no)] = (
            line.sku, line.name, line.product_group, line.brand, line.quantity, line.unit_price, line.line_total,
            line.is_promo, line.points_per_unit, line.base_line_no, line.returned_quantity, line.returned_total,
            line.points, line.tags)
    entries = {e.id: e for e in session.execute(select(LedgerEntry)).scalars()}
    for e in entries.values():
        out["entries"][e.idempotency_key] = (
            account_owner[e.account_id], e.kind, e.amount, e.actor, erp.get(e.member_id),
            docs[e.document_id].external_id if e.document_id else None, versions.get(e.policy_version_id),
            e.reason, e.effective_at)
        out["traces"][e.idempotency_key] = e.trace
    lots = {lot.id: lot for lot in session.execute(select(Lot)).scalars()}
    for lot in lots.values():
        key = entries[lot.entry_id].idempotency_key
        out["lots"].setdefault(key, []).append(
            (lot.amount, lot.remaining, lot.available_at, lot.expires_at, lot.matured_at))
    for a in session.execute(select(Allocation)).scalars():
        out["allocations"].append((entries[lots[a.lot_id].entry_id].idempotency_key,
                                   entries[a.entry_id].idempotency_key, a.kind, a.amount))
    out["allocations"].sort()
    for account in session.execute(select(Account)).scalars():
        out["accounts"][account_owner.get(account.id)] = account.debt
    return out


def compare(a: dict, b: dict) -> list[str]:
    """Differences between two dumps (empty when the ledgers are the same); traces are compared on
    what both record (the set-based path keeps the matched rules, not why the others did not match)."""
    problems = []
    for part in ("documents", "lines", "entries", "lots", "allocations", "accounts"):
        if a[part] != b[part]:
            keys = set(a[part]) ^ set(b[part]) if isinstance(a[part], dict) else set()
            differing = [k for k in (set(a[part]) & set(b[part]) if isinstance(a[part], dict) else [])
                         if a[part][k] != b[part][k]]
            problems.append(f"{part}: only on one side {sorted(keys, key=str)[:5]}, differing "
                            f"{[(k, a[part][k], b[part][k]) for k in sorted(differing, key=str)[:3]]}")
    for key, snap in a["snapshots"].items():
        if snap != b["snapshots"].get(key):
            problems.append(f"member snapshot of {key}: {snap} vs {b['snapshots'].get(key)}")
    for key, trace in a["traces"].items():
        core_a, core_b = trace_core(trace), trace_core(b["traces"].get(key))
        if core_a != core_b:
            problems.append(f"trace of {key}: {core_a} vs {core_b}")
    return problems
