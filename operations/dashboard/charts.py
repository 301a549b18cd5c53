"""The dashboard's figures in the shape ChartNew.js (Chart.js 1.x) draws: labels along the x axis
and one dataset per series, each titled for the legend. None when there is nothing to draw, so
that the page says so instead of drawing an empty scale."""

from datetime import datetime

from operations.dashboard.selectors import InstallationSummary, StatusBucket, TokenUsagePerDay

STATUS_COLOURS = {
    "received": "#9aa5b1",
    "queued": "#5b8def",
    "processing": "#f0b429",
    "processed": "#3ebd93",
    "ignored": "#cbd2d9",
    "failed": "#e12d39",
}
SERIES_COLOURS = ["#5b8def", "#e12d39", "#3ebd93", "#f0b429"]


def _dataset(title: str, values: list[int], colour: str) -> dict:
    return {"title": title, "data": values, "fillColor": colour, "strokeColor": colour}


def _chart(labels: list[str], datasets: list[dict]) -> dict | None:
    if not any(any(dataset["data"]) for dataset in datasets):
        return None
    return {"labels": labels, "datasets": datasets}


def deliveries_by_status_chart(buckets: list[StatusBucket], *, label_format: str) -> dict | None:
    labels = [datetime.strftime(bucket.start, label_format) for bucket in buckets]
    return _chart(
        labels,
        [
            _dataset(status, [bucket.by_status[status] for bucket in buckets], colour)
            for status, colour in STATUS_COLOURS.items()
        ],
    )


def installation_changes_chart(summary: InstallationSummary) -> dict | None:
    return _chart(
        [change.day.strftime("%d %b") for change in summary.per_day],
        [
            _dataset("installs", [change.installs for change in summary.per_day], SERIES_COLOURS[0]),
            _dataset("uninstalls", [change.uninstalls for change in summary.per_day], SERIES_COLOURS[1]),
        ],
    )


def token_usage_chart(usage: TokenUsagePerDay) -> dict | None:
    return _chart(
        [day.strftime("%a %d %b") for day in usage.days],
        [
            _dataset("prompt tokens", usage.totals("prompt_tokens"), SERIES_COLOURS[0]),
            _dataset("completion tokens", usage.totals("completion_tokens"), SERIES_COLOURS[2]),
        ],
    )
