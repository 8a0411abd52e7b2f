"""The rule vocabulary's labels (``GET /policies/vocabulary``: policies, variables, operators, actions and
their parameters) in the admin reader's language. ``rules/`` stays free of Flask and of translations: its
English labels are the message ids here, and ``translated`` swaps them in a copy of the vocabulary.
``tests/integration/admin_ui/test_translations.py`` fails when the vocabulary gains a label this
catalog lacks."""
from __future__ import annotations

import copy

from flask_babel import lazy_gettext as _l

LABELS = {
    "Activation Delay Days": _l("Activation Delay Days"),
    "Amount": _l("Amount"),
    "Award": _l("Award"),
    "Award Referee": _l("Award Referee"),
    "Award Referrer": _l("Award Referrer"),
    "Birthday bonuses": _l("Birthday bonuses"),
    "Birthday today": _l("Birthday today"),
    "Brand": _l("Brand"),
    "Cap": _l("Cap"),
    "Catalog points per unit": _l("Catalog points per unit"),
    "Channel": _l("Channel"),
    "Contains": _l("Contains"),
    "Contains All": _l("Contains All"),
    "Currency": _l("Currency"),
    "Days": _l("Days"),
    "Days since registration": _l("Days since registration"),
    "Document type": _l("Document type"),
    "Does Not Contain": _l("Does Not Contain"),
    "Earlier events of this type ever": _l("Earlier events of this type ever"),
    "Earlier events of this type this month": _l("Earlier events of this type this month"),
    "Earlier events of this type this week": _l("Earlier events of this type this week"),
    "Earlier events of this type this year": _l("Earlier events of this type this year"),
    "Earlier events of this type today": _l("Earlier events of this type today"),
    "Earn Catalog Points": _l("Earn Catalog Points"),
    "Earn Fixed": _l("Earn Fixed"),
    "Earn Per Amount": _l("Earn Per Amount"),
    "Earn Per Unit": _l("Earn Per Unit"),
    "Earn Percent": _l("Earn Percent"),
    "Ends With": _l("Ends With"),
    "Entry kind": _l("Entry kind"),
    "Equal To": _l("Equal To"),
    "Equal To (case insensitive)": _l("Equal To (case insensitive)"),
    "Event amount": _l("Event amount"),
    "Event attributes": _l("Event attributes"),
    "Event bonuses": _l("Event bonuses"),
    "Event source": _l("Event source"),
    "Event type": _l("Event type"),
    "Exclude": _l("Exclude"),
    "Exclude From Accrual": _l("Exclude From Accrual"),
    "Exclude Line": _l("Exclude Line"),
    "Expire After Days": _l("Expire After Days"),
    "Expire After Months": _l("Expire After Months"),
    "Expire End Of Month": _l("Expire End Of Month"),
    "Factor": _l("Factor"),
    "Free For Points": _l("Free For Points"),
    "Greater Than": _l("Greater Than"),
    "Greater Than Or Equal To": _l("Greater Than Or Equal To"),
    "Hour of day": _l("Hour of day"),
    "Include Shipping": _l("Include Shipping"),
    "Is Contained By": _l("Is Contained By"),
    "Is False": _l("Is False"),
    "Is True": _l("Is True"),
    "Less Than": _l("Less Than"),
    "Less Than Or Equal To": _l("Less Than Or Equal To"),
    "Line total": _l("Line total"),
    "Matches Regex": _l("Matches Regex"),
    "Max Percent Of Order": _l("Max Percent Of Order"),
    "Max Points": _l("Max Points"),
    "Member group": _l("Member group"),
    "Min Order Total": _l("Min Order Total"),
    "Mission progress": _l("Mission progress"),
    "Months": _l("Months"),
    "Multiply": _l("Multiply"),
    "Name": _l("Name"),
    "Never Expire": _l("Never Expire"),
    "Non Empty": _l("Non Empty"),
    "Number of lines": _l("Number of lines"),
    "Number of orders": _l("Number of orders"),
    "Number of referrals": _l("Number of referrals"),
    "Order total": _l("Order total"),
    "Paying with points": _l("Paying with points"),
    "Percent": _l("Percent"),
    "Point expiry": _l("Point expiry"),
    "Points": _l("Points"),
    "Points balance": _l("Points balance"),
    "Points for purchases": _l("Points for purchases"),
    "Product group": _l("Product group"),
    "Product tags": _l("Product tags"),
    "Progress Amount": _l("Progress Amount"),
    "Progress Quantity": _l("Progress Quantity"),
    "Promo codes on the order": _l("Promo codes on the order"),
    "Promotional item": _l("Promotional item"),
    "Quantity": _l("Quantity"),
    "Referral bonuses": _l("Referral bonuses"),
    "Referrer's referrals this month": _l("Referrer's referrals this month"),
    "Require Full Coverage": _l("Require Full Coverage"),
    "Rounding": _l("Rounding"),
    "Set Point Value": _l("Set Point Value"),
    "Set Tier": _l("Set Tier"),
    "Shares At Least One Element With": _l("Shares At Least One Element With"),
    "Shares Exactly One Element With": _l("Shares Exactly One Element With"),
    "Shares No Elements With": _l("Shares No Elements With"),
    "Shipping Only": _l("Shipping Only"),
    "Shipping total": _l("Shipping total"),
    "SKU": _l("SKU"),
    "Starts With": _l("Starts With"),
    "Store": _l("Store"),
    "Tier": _l("Tier"),
    "Tier Discount Percent": _l("Tier Discount Percent"),
    "Tier Downgrade After Days": _l("Tier Downgrade After Days"),
    "Tier Downgrade Never": _l("Tier Downgrade Never"),
    "Tier Invitation Only": _l("Tier Invitation Only"),
    "Tier Multiplier": _l("Tier Multiplier"),
    "Tiers": _l("Tiers"),
    "Turnover in the last 12 months": _l("Turnover in the last 12 months"),
    "Unit price": _l("Unit price"),
    "Units": _l("Units"),
    "Value": _l("Value"),
    "Warn Days Before": _l("Warn Days Before"),
    "Weekday": _l("Weekday"),
}


def label(text: str) -> str:
    found = LABELS.get(text)
    return str(found) if found is not None else text


def translated(vocabulary: dict | None) -> dict | None:
    """A copy of one policy's vocabulary with its labels in the current locale."""
    if vocabulary is None:
        return None
    out = copy.deepcopy(vocabulary)
    out["label"] = label(out.get("label", ""))
    for variable in out.get("variables", []):
        variable["label"] = label(variable["label"])
    for action in out.get("actions", []):
        action["label"] = label(action["label"])
        for param in action.get("params", []):
            param["label"] = label(param["label"])
    for operators in out.get("variable_type_operators", {}).values():
        for operator in operators:
            operator["label"] = label(operator["label"])
    return out
