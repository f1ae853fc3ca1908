from celery import shared_task

from shape_b.core import work


@shared_task
def record_run(run_id: int) -> dict[str, str]:
    return work.record_run(run_id)
