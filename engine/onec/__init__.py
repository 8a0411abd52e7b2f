"""The 1C exchange settings, below both sides of the exchange: importers parse with them, exporters write with them.

`settings` defines the types (requisite names, statuses, currencies, zip
limits, `ExchangeConfig`); `loading` builds them from an operator's plain
data and lists every problem at once. Flask-free, no database.
"""
from engine.onec.loading import load_settings
from engine.onec.settings import (
    DEFAULT_CURRENCIES,
    DEFAULT_STATUS_TEXT,
    ConfigError,
    ExchangeConfig,
    RequisiteNames,
    ZipLimits,
    norm_name,
)

__all__ = ["DEFAULT_CURRENCIES", "DEFAULT_STATUS_TEXT", "ConfigError", "ExchangeConfig", "RequisiteNames",
           "ZipLimits", "load_settings", "norm_name"]
