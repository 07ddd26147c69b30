"""The load-balancer controller (see `controllers.loadbalancer.controller`)."""

from controllers.loadbalancer.controller import LoadBalancerController, setup

__all__ = ["LoadBalancerController", "setup"]
