"""The daemon's contract tests, run again against the front with engines on a Ray cluster.

The same test functions as tests/service collects, here resolved against this folder's fixtures."""

from tests.service.test_bad_input import test_generate_rejects, test_other_rpcs_reject
from tests.service.test_cancel_and_queue import (
    test_a_deadline_cancels_the_job,
    test_cancel_a_queued_job_and_unknown_job,
    test_cancel_stops_a_running_job_within_a_step,
    test_clients_share_the_queue_fairly,
    test_dropping_the_call_cancels_the_job,
)
from tests.service.test_cocreation import (
    test_feedback_steers_the_next_turn_and_is_recorded,
    test_replaying_a_session_reproduces_its_candidates,
    test_text_feedback_is_recorded_and_replays,
)
from tests.service.test_generate import (
    test_branching_feedback_fork_export,
    test_health_and_reflection,
    test_models_and_status,
    test_same_seed_same_candidates,
    test_task_end_to_end,
)

__all__ = [
    "test_a_deadline_cancels_the_job",
    "test_branching_feedback_fork_export",
    "test_cancel_a_queued_job_and_unknown_job",
    "test_cancel_stops_a_running_job_within_a_step",
    "test_clients_share_the_queue_fairly",
    "test_dropping_the_call_cancels_the_job",
    "test_feedback_steers_the_next_turn_and_is_recorded",
    "test_generate_rejects",
    "test_health_and_reflection",
    "test_models_and_status",
    "test_other_rpcs_reject",
    "test_replaying_a_session_reproduces_its_candidates",
    "test_same_seed_same_candidates",
    "test_task_end_to_end",
    "test_text_feedback_is_recorded_and_replays",
]
