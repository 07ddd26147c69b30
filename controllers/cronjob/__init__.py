"""The CronJob controller (see `controllers.cronjob.controller`)."""

from controllers.cronjob.controller import MAX_MISSED_START_TIMES, CronJobController, setup
from controllers.cronjob.jobs import cronjob_converged

__all__ = ["MAX_MISSED_START_TIMES", "CronJobController", "cronjob_converged", "setup"]
