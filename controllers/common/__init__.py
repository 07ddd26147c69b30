"""Helpers shared by the built-in controllers (Kubernetes' controller_utils):
pod facts, deletion ranking, controller references and claiming, slow-start
batches, template hashes, compiled selectors per owner. Imports only
`engine`; any controller package may import it, and it imports no controller.
"""

from controllers.common.batches import SLOW_START_INITIAL_BATCH_SIZE, slow_start_batch
from controllers.common.deletions import delete_pods
from controllers.common.hashing import compute_hash, fnv32a, safe_encode_string
from controllers.common.ownership import (
    CONTROLLER_INDEX,
    ClaimResult,
    claim,
    controller_or_orphan,
    ensure_indexer,
    is_controlled_by,
    new_controller_ref,
    orphan_key,
    owned_and_orphans,
    resolve_controller,
)
from controllers.common.pods import (
    POD_DELETION_COST_ANNOTATION,
    deletion_cost,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    is_pod_terminating,
    ready_condition,
    ready_since,
    seconds_until_available,
)
from controllers.common.ranking import pods_to_delete, rank_on_same_node, sort_for_deletion
from controllers.common.selectors import SelectorCache

__all__ = [
    "CONTROLLER_INDEX",
    "POD_DELETION_COST_ANNOTATION",
    "SLOW_START_INITIAL_BATCH_SIZE",
    "ClaimResult",
    "SelectorCache",
    "claim",
    "compute_hash",
    "controller_or_orphan",
    "delete_pods",
    "deletion_cost",
    "ensure_indexer",
    "fnv32a",
    "is_controlled_by",
    "is_pod_active",
    "is_pod_available",
    "is_pod_ready",
    "is_pod_terminating",
    "new_controller_ref",
    "orphan_key",
    "owned_and_orphans",
    "pods_to_delete",
    "rank_on_same_node",
    "ready_condition",
    "ready_since",
    "resolve_controller",
    "safe_encode_string",
    "seconds_until_available",
    "slow_start_batch",
    "sort_for_deletion",
]
