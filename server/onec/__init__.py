"""The 1C "exchange with site" endpoint (CommerceML over HTTP) and its exchange log API.

`views` speaks the protocol at /exchange/1c, `store` keeps sessions and
uploads in the database, `tasks` runs imports as jobs, `api` shows the
exchange log and the merges by phone under /api/v1/exchange/1c.
"""
