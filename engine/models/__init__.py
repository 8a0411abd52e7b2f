"""All models, imported in one place so the metadata is complete."""
from .access import ApiKey, IdempotencyRecord, JobRun, User
from .base import Amount, Base, UTCDateTime, utcnow
from .catalog import Product, ProductGroup
from .documents import Document, DocumentLine, Redemption
from .engagement import PromoBatch, PromoCode
from .imports import ImportRun, QuarantinedRow
from .ledger import Allocation, LedgerEntry, Lot
from .members import Account, Company, Member, MemberCard
from .missions import Mission, MissionAward, MissionMember, MissionProgress
from .onec import (
                   Delivered,
                   DeliveryBatch,
                   DeliveryCursor,
                   DocumentCard,
                   ExchangeChunk,
                   ExchangeFile,
                   ExchangeSession,
                   MemberMerge,
)
from .outbox import MessageTemplate, OutboxAttempt, OutboxMessage, OutboxRunCredit, WebhookSubscription
from .policies import PolicyVersion
from .rewards import Reward, RewardOrder, RewardOrderItem, RewardOrderStatus, RewardPicture
from .rollup import AccountActivity, LedgerHourTotal, RollupState
from .staging import ImportChunk, StagedLine
from .tiers import HistoricalTurnover, TierChange, TierState
