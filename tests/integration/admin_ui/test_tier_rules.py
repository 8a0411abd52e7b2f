"""The tier policy in the admin rule editor: the tier actions come from the vocabulary with their ranges, and the
server's validation messages name the field (grace days out of range, an invitation rule that stops the rest)."""
from __future__ import annotations

import json

import rules


def test_tier_actions_in_the_editor_and_their_validation(app, as_role):
    marketer = as_role("marketer")
    page = marketer.get("/admin/rules/tier")
    assert page.status_code == 200
    vocabulary = json.loads(page.text.split('id="vocabulary-data">')[1].split("</script>")[0])
    actions = {a["name"]: a for a in vocabulary["actions"]}
    assert {"tier_invitation_only", "tier_downgrade_never", "tier_downgrade_after_days"} <= set(actions)
    days = actions["tier_downgrade_after_days"]["params"][0]
    assert (days["name"], days["minimum"], days["maximum"]) == ("days", "0", "3650")
    document = rules.default_policies()["tier"]
    document["rules"][1]["actions"][3]["params"]["days"] = 5000
    document["rules"][0]["stop_processing"] = True
    checked = marketer.post("/admin/rules/tier/validate", {"document": json.dumps(document)},
                            headers={"HX-Request": "true"})
    assert checked.status_code == 200
    assert "rules[1].actions[3].params.days" in checked.text and "rules[0].stop_processing" in checked.text
    assert marketer.post("/admin/rules/tier", {"document": json.dumps(document)}).status_code == 422
    good = rules.default_policies()["tier"]
    assert marketer.post("/admin/rules/tier", {"document": json.dumps(good), "comment": "tiers"}).status_code == 302
