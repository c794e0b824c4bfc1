"""The sandbox's routing: one werkzeug ``Map`` per host, each rule's endpoint a handler function.

- ``api``: ``/v1/reporting/*``, ``GET /v1/files/{id}`` and ``GET /v1/accounts`` (v1.py),
  ``/v2/reporting/*`` (v2.py), ``/v2/data/*`` (data.py);
- ``files``: ``GET /v1/files/{id}/contents`` (downloads.py), the v1 CSV;
- ``downloads``: ``GET /files/{run}/{name}`` (downloads.py), the v2 pre-signed URL, and
  ``GET /query-files/{run}/{name}`` (data.py), a /v2/data query run's.

Every endpoint is called as ``handler(backend, request, caller, **rule_arguments)``. :data:`KEYLESS`
names the hosts whose requests carry no API key (the app then passes ``caller=None``).
"""

from __future__ import annotations

from werkzeug.routing import Map, Rule

from reportkit.sandbox import data, downloads, v1, v2

__all__ = ["HOSTS", "KEYLESS", "MAPS"]

HOSTS = ("api", "files", "downloads")
KEYLESS = frozenset({"downloads"})

MAPS: dict[str, Map] = {
    "api": Map(
        [
            Rule("/v1/reporting/report_types", endpoint=v1.list_types, methods=["GET"]),
            Rule("/v1/reporting/report_types/<type_id>", endpoint=v1.get_type, methods=["GET"]),
            Rule("/v1/reporting/report_runs", endpoint=v1.list_runs, methods=["GET"]),
            Rule("/v1/reporting/report_runs", endpoint=v1.create_run, methods=["POST"]),
            Rule("/v1/reporting/report_runs/<run_id>", endpoint=v1.get_run, methods=["GET"]),
            Rule("/v1/files/<file_id>", endpoint=v1.get_file, methods=["GET"]),
            Rule("/v1/accounts", endpoint=v1.list_accounts, methods=["GET"]),
            Rule("/v2/reporting/report_runs", endpoint=v2.create_run, methods=["POST"]),
            Rule("/v2/reporting/report_runs/<run_id>", endpoint=v2.get_run, methods=["GET"]),
            Rule("/v2/reporting/reports/<report_id>", endpoint=v2.get_report, methods=["GET"]),
            Rule("/v2/data/reports", endpoint=data.list_reports, methods=["GET"]),
            Rule("/v2/data/reports/<report_id>", endpoint=data.get_report, methods=["GET"]),
            Rule("/v2/data/report_runs", endpoint=data.create_report_run, methods=["POST"]),
            Rule("/v2/data/report_runs/<run_id>", endpoint=data.get_report_run, methods=["GET"]),
            Rule("/v2/data/query_runs", endpoint=data.create_query_run, methods=["POST"]),
            Rule("/v2/data/query_runs/<run_id>", endpoint=data.get_query_run, methods=["GET"]),
            Rule("/v2/data/reporting/query_runs", endpoint=data.create_reporting_query_run, methods=["POST"]),
            Rule(
                "/v2/data/reporting/query_runs/<run_id>",
                endpoint=data.get_reporting_query_run,
                methods=["GET"],
            ),
        ],
        strict_slashes=False,
    ),
    "files": Map([Rule("/v1/files/<file_id>/contents", endpoint=downloads.file_contents, methods=["GET"])]),
    "downloads": Map(
        [
            Rule("/files/<run_id>/<name>", endpoint=downloads.download_contents, methods=["GET"]),
            Rule("/query-files/<run_id>/<name>", endpoint=data.download_query, methods=["GET"]),
        ]
    ),
}
