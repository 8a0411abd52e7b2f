"""All models, imported in one place so the metadata is complete."""
from .base import Amount, Base, UTCDateTime, utcnow  # noqa: F401
from .members import Account, Company, Member, MemberCard  # noqa: F401
from .ledger import Allocation, LedgerEntry, Lot  # noqa: F401
from .documents import Document, DocumentLine, Redemption  # noqa: F401
from .policies import PolicyVersion  # noqa: F401
from .catalog import Product, ProductGroup  # noqa: F401
from .access import ApiKey, IdempotencyRecord, JobRun, User  # noqa: F401
from .imports import ImportRun, QuarantinedRow  # noqa: F401
from .onec import (DeliveryBatch, DeliveryCursor, Delivered, DocumentCard,  # noqa: F401
                   ExchangeChunk, ExchangeFile, ExchangeSession, MemberMerge)
from .staging import ImportChunk, StagedLine  # noqa: F401
