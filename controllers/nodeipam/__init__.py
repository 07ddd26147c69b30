"""The node IPAM controller (see `controllers.nodeipam.controller`)."""

from controllers.nodeipam.controller import NodeIPAMController, setup

__all__ = ["NodeIPAMController", "setup"]
