from __future__ import annotations

import datetime as dt
import time

from typing_extensions import TypedDict

from qgen import SyncInteraction, sessionless_func
from shop.services import Services


class ReportRequest(TypedDict):
    month: dt.date
    sections: list[str]


class ReportResult(TypedDict):
    month: dt.date
    pages: int
    url: str


@sessionless_func(docs={"summary": "Build the monthly sales report", "tags": ["reports"]})
def generate_report(
    services: Services, data: ReportRequest, interaction: SyncInteraction
) -> ReportResult:
    # A plain `def` runs in a worker thread and gets blocking interaction methods.
    steps = [0, 33, 66, 100]
    for step in steps:
        if interaction.queue is not None:
            interaction.queue.update_progress(step)
        if step < 100:
            time.sleep(services.report_step_seconds)
    pages = 1 + len(data["sections"]) * 3
    url = f"https://reports.example/{data['month']:%Y-%m}.pdf"
    return ReportResult(month=data["month"], pages=pages, url=url)
