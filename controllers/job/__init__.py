"""The Job controller (see `controllers.job.controller`)."""

from controllers.job.controller import CONTROLLER_NAME, JobController, setup
from controllers.job.status import job_converged

__all__ = ["CONTROLLER_NAME", "JobController", "job_converged", "setup"]
