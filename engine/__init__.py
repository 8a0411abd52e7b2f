"""The loyalty domain, one package per stage of the data path: documents →
accrual → ledger, with members, engagement programs, policies and imports;
no Flask imports."""
