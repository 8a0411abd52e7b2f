"""Unit tests of the rule language (rules/)."""
