"""Accrual: documents meet the rules and become intents — one document at a
time (`document`), or a chunk of new invoices planned set-based (`batch`);
`facts` is the one builder of the lines the rules see."""
from engine.accrual.document import accrue, evaluate, explain, recompute
from engine.accrual.facts import cart_facts, document_facts, fact_line

__all__ = ["accrue", "cart_facts", "document_facts", "evaluate", "explain", "fact_line", "recompute"]
