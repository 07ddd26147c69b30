"""The root CA certificate publisher (see `controllers.rootcacertpublisher.controller`)."""

from controllers.rootcacertpublisher.controller import RootCACertPublisher, setup

__all__ = ["RootCACertPublisher", "setup"]
