"""The storage-object-in-use protection controllers (see
`controllers.storageprotection.controller`)."""

from controllers.storageprotection.controller import (
    PVCProtectionController,
    PVProtectionController,
    claim_in_use,
    setup_pv_protection,
    setup_pvc_protection,
)

__all__ = [
    "PVCProtectionController",
    "PVProtectionController",
    "claim_in_use",
    "setup_pv_protection",
    "setup_pvc_protection",
]
